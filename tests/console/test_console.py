"""The console in a real browser: Debian's chromium driven by Playwright, one test per operator
task, against the host and simulators `./dev test` starts with tests/console/console.toml.

Each test leaves a screenshot in target/console-artifacts/ (at 1280x800 unless it says
otherwise). The states a task needs (journaled operations, a quarantine, an operation in doubt)
are made through the portal and admin APIs, as a portal and a bad release would make them; the
task itself is done in the browser only.
"""

import json
import os
import pathlib
import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect, sync_playwright

ROOT = pathlib.Path(__file__).resolve().parents[2]
BASE = os.environ.get("CONSOLE_BASE", "http://127.0.0.1:28080")
ADMIN = "console-admin-token"
PORTAL = "console-portal-token"
GUESTS = ROOT / "target" / "guests"
ARTIFACTS = ROOT / "target" / "console-artifacts"
CHROMIUM = os.environ.get("CONSOLE_CHROMIUM", "/usr/bin/chromium")
RATE_PORT = 29201
HANG_UP_PORT = 29202
RECEIVER_PORT = 29203


# --- the partners the test panels call ----------------------------------------------------------


class RatePartner(BaseHTTPRequestHandler):
    """The probe adapter's `echo` partner: `POST /rate` answers a rate (a higher one when the
    request names a channel, as probe 0.2.0's does)."""

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path != "/rate":
            self.send_error(404)
            return
        answer = json.dumps({"rate": "0.0150" if "channel" in body else "0.0125"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def hang_up_partner(listener: socket.socket):
    """Reads each request whole, then closes the connection without a word: the partner may have
    acted, and the host cannot know."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                while len(body) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    body += chunk
            except OSError:
                pass


class DownReceiver(BaseHTTPRequestHandler):
    """A portal's webhook endpoint that is down: every delivery gets a 503, and is counted."""

    received = []

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        self.rfile.read(length)
        DownReceiver.received.append(self.headers.get("webhook-id"))
        self.send_response(503)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session", autouse=True)
def partners():
    rate = ThreadingHTTPServer(("127.0.0.1", RATE_PORT), RatePartner)
    threading.Thread(target=rate.serve_forever, daemon=True).start()
    listener = socket.create_server(("127.0.0.1", HANG_UP_PORT))
    threading.Thread(target=hang_up_partner, args=(listener,), daemon=True).start()
    receiver = ThreadingHTTPServer(("127.0.0.1", RECEIVER_PORT), DownReceiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    yield
    rate.shutdown()
    receiver.shutdown()
    listener.close()


# --- the APIs, for setting a scene --------------------------------------------------------------


def call(method, path, token, body=None, headers=None, raw=None):
    """The status and JSON body of one request to the host."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("content-type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        text = e.read()
        return e.code, json.loads(text) if text else None


def portal(method, path, body=None, key=None):
    return call(method, path, PORTAL, body, {"idempotency-key": key} if key else None)


def admin(method, path, body=None, raw=None):
    return call(method, path, ADMIN, body, raw=raw)


def push(guest):
    status, body = admin("POST", "/admin/adapters", raw=(GUESTS / guest).read_bytes())
    assert status in (200, 201), body
    return body


def example(panel, name):
    return json.loads((ROOT / "examples" / panel / f"{name}.json").read_text())


def serving(panel):
    status, body = admin("GET", f"/admin/panels/{panel}/deployments")
    assert status == 200, body
    return f"{body['serving']['name']}@{body['serving']['version']}"


def echo_quote():
    return {"product": "echo", "binding": False, "interest": {"life": {}}}


def unique(prefix):
    return f"{prefix}-{time.time_ns() % 10**12}"


# --- the browser --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        # Debian's chromium, no browser download; as root it needs --no-sandbox.
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def sign_in(page):
    """Signs in with the keyboard alone: the token field has the focus, Enter submits."""
    page.goto(BASE + "/console")
    expect(page).to_have_url(BASE + "/console/sign-in")
    expect(page.get_by_label("Admin token")).to_be_focused()
    page.keyboard.type(ADMIN)
    page.keyboard.press("Enter")
    expect(page).to_have_url(BASE + "/console")
    expect(page.locator("body[data-ready]")).to_have_count(1)


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in(page)
    yield page
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def view(page, name):
    """Opens a section from the navigation, as a keyboard user would."""
    link = page.get_by_role("navigation", name="Console sections").get_by_role("link", name=name, exact=True)
    link.focus()
    page.keyboard.press("Enter")
    expect(link).to_have_attribute("aria-current", "page")


def status_line(page):
    return page.get_by_role("status").first


# --- one test per operator task -----------------------------------------------------------------


def test_push_an_adapter(page, tmp_path):
    already = any(
        m["module"]["name"] == "probe" and m["module"]["version"] == "0.2.0"
        for m in admin("GET", "/admin/adapters")[1]
    )
    view(page, "Deploy")
    page.get_by_label("Adapter component (.wasm)").set_input_files(str(GUESTS / "probe_next.wasm"))
    page.get_by_role("button", name="Push", exact=True).click()
    checks = page.locator("#push-checks")
    heading = "Already registered: probe@0.2.0" if already else "Registered probe@0.2.0"
    expect(checks.get_by_role("heading")).to_have_text(heading)
    expect(checks).to_contain_text("What push checked")
    expect(checks).to_contain_text("panelgate:adapter@")
    expect(checks).to_contain_text("no sockets, no files")
    expect(page.locator("#modules-table")).to_contain_text("probe@0.2.0")
    # What the console showed is what the registry holds.
    assert any(m["module"]["version"] == "0.2.0" for m in admin("GET", "/admin/adapters")[1])

    # A file that is not a component is refused, and the console says why.
    bad = tmp_path / "not-a-component.wasm"
    bad.write_bytes(b"\0asm\x01\0\0\0")
    page.get_by_label("Adapter component (.wasm)").set_input_files(str(bad))
    page.get_by_role("button", name="Push", exact=True).click()
    expect(page.locator("#push-result [role=alert]")).to_contain_text("adapter_refused")


def test_replay_a_candidate(page):
    for _ in range(3):
        status, body = portal("POST", "/v1/panels/probe/quotes", echo_quote())
        assert status == 200, body
    view(page, "Deploy")
    page.locator("#replay-form").get_by_label("Panel").select_option("probe")
    page.get_by_label("Candidate component (.wasm)").set_input_files(str(GUESTS / "probe_next.wasm"))
    page.get_by_label("Last N journaled operations").fill("3")
    page.get_by_role("button", name="Replay", exact=True).click()
    report = page.locator("#replay-report")
    expect(report).to_contain_text("Replay of probe@0.2.0 against probe (serving probe@0.1.0)")
    expect(report.locator(".summary")).to_have_text("3 replayed: 0 the same, 3 changed, 0 skipped.")
    # The differences by JSON path: the channel 0.2.0 sends, and its message.
    differences = report.locator("ul.diffs li")
    expect(differences.filter(has_text="requests/0/body").first).to_contain_text("channel")
    expect(differences.filter(has_text="result/ok/message").first).to_contain_text("probe 0.2.0")
    # Replay switched nothing.
    assert serving("probe") == "probe@0.1.0"


def test_switch_and_roll_back_an_adapter(page):
    push("probe_next.wasm")
    assert serving("probe") == "probe@0.1.0"
    view(page, "Deploy")
    form = page.locator("#switch-form")
    form.get_by_label("Panel").select_option("probe")
    form.get_by_label("Registered adapter").select_option("probe@0.2.0")
    form.get_by_role("button", name="Switch").click()
    expect(status_line(page)).to_have_text("probe now serves probe@0.2.0.")
    expect(page.locator("#history-serving")).to_have_text("probe serves probe@0.2.0 now.")
    expect(page.locator("#history-table tbody tr").first).to_contain_text("set")
    status, body = portal("POST", "/v1/panels/probe/quotes", echo_quote())
    assert (status, body["adapter"]) == (200, "probe@0.2.0"), body
    page.screenshot(path=str(ARTIFACTS / "switched.png"), full_page=True)

    form.get_by_role("button", name="Roll back").click()
    expect(status_line(page)).to_have_text("probe rolled back to probe@0.1.0.")
    expect(page.locator("#history-serving")).to_have_text("probe serves probe@0.1.0 now.")
    expect(page.locator("#history-table tbody tr").first).to_contain_text("rollback")
    status, body = portal("POST", "/v1/panels/probe/quotes", echo_quote())
    assert (status, body["adapter"]) == (200, "probe@0.1.0"), body


def test_lift_a_quarantine(page):
    # A bad release that traps on every quote, the one the panel served last included.
    status, body = portal("POST", "/v1/panels/hostile/quotes", {"product": "fine", "binding": False, "interest": {"life": {}}})
    assert status == 200, body
    push("probe_broken.wasm")
    status, body = admin("PUT", "/admin/panels/hostile/adapter", {"adapter": "probe@0.3.0"})
    assert status == 200, body
    fine = {"product": "fine", "binding": False, "interest": {"life": {}}}
    for _ in range(5):
        assert portal("POST", "/v1/panels/hostile/quotes", fine)[0] == 502
    status, body = portal("POST", "/v1/panels/hostile/quotes", fine)
    assert (status, body["error"]["code"]) == (503, "adapter_quarantined"), body

    view(page, "Panels")
    row = page.locator("#panels-table tr[data-panel=hostile]")
    expect(row.locator(".health")).to_contain_text("quarantined: 5 faults in a row")
    # The last hour shows the faults.
    hour = page.locator("#hour-table tbody tr", has_text="hostile")
    expect(hour.first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "quarantined.png"), full_page=True)
    row.get_by_role("button", name="Lift quarantine on hostile").click()
    expect(row.locator(".health")).to_have_text("serving")
    expect(status_line(page)).to_contain_text("hostile: quarantine lifted")
    # The adapter is called again (and, being the bad release, faults).
    status, body = portal("POST", "/v1/panels/hostile/quotes", fine)
    assert (status, body["error"]["code"]) == (502, "adapter_fault"), body
    status, body = admin("POST", "/admin/panels/hostile/rollback")
    assert status == 200, body


def test_find_a_case_by_its_loan_id(page):
    loan = unique("CONSOLE-A03")
    accept = example("A03", "accept-cac")
    accept["interest"]["credit_life"]["account"] = loan
    status, body = portal("POST", "/v1/panels/A03/policies", accept, key=loan)
    assert status == 201, body
    case_id = body["case_id"]

    view(page, "Cases")
    page.get_by_label("Loan id or partner reference").fill(loan)
    page.get_by_label("Loan id or partner reference").press("Enter")
    card = page.locator("#case-card")
    expect(card.get_by_role("heading", name=f"Case {case_id}")).to_be_focused()
    expect(card.locator("#case-status")).to_have_text("in_force")
    expect(card).to_contain_text(loan)
    expect(card.locator("table").first.locator("tbody tr").first).to_be_visible()
    expect(page.locator("#cases-table tbody tr")).to_have_count(1)
    # The feed shows the case's events as they arrive.
    expect(page.locator("#feed-table tbody tr", has_text=case_id).first).to_be_visible(timeout=10_000)


def test_inspect_and_replay_a_webhook_delivery(page):
    status, body = admin("POST", "/admin/subscriptions", {
        "url": f"http://127.0.0.1:{RECEIVER_PORT}/hooks", "panels": ["A03"], "description": "console test",
    })
    assert status == 201, body
    subscription = body["id"]
    loan = unique("CONSOLE-HOOK")
    accept = example("A03", "accept-cac")
    accept["interest"]["credit_life"]["account"] = loan
    status, body = portal("POST", "/v1/panels/A03/policies", accept, key=loan)
    assert status == 201, body
    case_id = body["case_id"]

    view(page, "Webhooks")
    row = page.locator("#subscriptions-table tbody tr", has_text=subscription)
    expect(row).to_be_visible()
    # The endpoint answered 503: the delivery is pending, its last answer in the log.
    delivery = page.locator("#deliveries-table tbody tr", has_text=case_id).first
    for _ in range(30):
        row.get_by_role("button", name=f"Deliveries of {subscription}").click()
        expect(page.locator("#deliveries-caption")).to_contain_text(subscription)
        if delivery.count() and "503" in delivery.inner_text():
            break
        time.sleep(0.5)
    expect(delivery).to_contain_text("pending")
    expect(delivery).to_contain_text("503")
    event_id = delivery.locator("td").nth(1).inner_text()
    sent = DownReceiver.received.count(event_id)
    delivery.get_by_role("button", name=f"Replay {event_id}").click()
    expect(status_line(page)).to_contain_text("done")
    # The replay reaches the endpoint again, with the same webhook-id.
    deadline = time.monotonic() + 15
    while DownReceiver.received.count(event_id) <= sent and time.monotonic() < deadline:
        time.sleep(0.2)
    assert DownReceiver.received.count(event_id) > sent, "the replay was sent"
    admin("DELETE", f"/admin/subscriptions/{subscription}")


def test_verify_the_journal(page):
    loan = unique("CONSOLE-J")
    accept = example("A03", "accept-cac")
    accept["interest"]["credit_life"]["account"] = loan
    assert portal("POST", "/v1/panels/A03/policies", accept, key=loan)[0] == 201

    view(page, "Journal")
    form = page.locator("#journal-form")
    form.get_by_label("Panel").select_option("A03")
    form.get_by_label("Operation").fill("accept")
    form.get_by_label("Status").select_option("ok")
    form.get_by_label("Kind").select_option("portal")
    form.get_by_role("button", name="Filter").click()
    rows = page.locator("#journal-table tbody tr")
    expect(rows.first).to_contain_text("accept")
    for text in rows.all_inner_texts():
        assert "\taccept\tportal\tok" in text, text
    rows.first.get_by_role("button").click()
    detail = page.locator("#journal-detail")
    expect(detail).to_contain_text("Partner exchanges (")
    expect(detail.locator("details").first).to_be_visible()
    # Redacted: the partner's password never reaches the page.
    assert "aap-demo-secret" not in detail.inner_text()

    page.get_by_role("button", name="Verify the hash chain").click()
    expect(page.locator("#verify-result")).to_have_text(
        "The hash chain is intact: no entry was altered or removed.")


def test_settle_an_in_doubt_operation(page):
    key = unique("console-doubt")
    application = example("aagi-motor", "accept")
    status, body = portal("POST", "/v1/panels/aagi-doubt/policies", application, key=key)
    assert (status, body["error"]["code"]) == (409, "outcome_unknown"), body
    journal_id = body["error"]["journal_id"]

    view(page, "In doubt")
    card = page.locator(f"article[data-journal-id='{journal_id}']")
    expect(card).to_contain_text("accept on aagi-doubt")
    expect(card).to_contain_text("What reconciliation tried")
    # Reconciliation could not ask AAGI: the case has no contract number to ask by.
    expect(card).to_contain_text("Nothing yet: the case carries no partner reference")
    expect(card).to_contain_text(key)
    page.screenshot(path=str(ARTIFACTS / "in-doubt.png"), full_page=True)
    # The operator found the contract at the partner: it acted.
    card.get_by_label("Yes, it acted").check()
    card.get_by_label("Status at the partner").select_option("in_force")
    card.get_by_label("Partner references").fill("contract=AAGI-CONSOLE-1")
    card.get_by_label("Note: what you checked at the partner").fill("Contract found in AAGI's portal")
    card.get_by_role("button", name="Settle accept on aagi-doubt").click()
    expect(status_line(page)).to_contain_text("is in_force")
    expect(card).to_have_count(0)

    # The portal's retry with its key now replays the settled case.
    status, body = portal("POST", "/v1/panels/aagi-doubt/policies", application, key=key)
    assert status in (200, 201), body
    assert "in_force" in json.dumps(body) and "AAGI-CONSOLE-1" in json.dumps(body), body
    assert all(op["journal_id"] != journal_id for op in admin("GET", "/admin/unknown-outcomes")[1])


# --- access, sign-out, accessibility and a phone's width --------------------------------------


def test_without_a_session_nothing_is_served_and_signing_out_ends_it(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(BASE + "/console")
    expect(page).to_have_url(BASE + "/console/sign-in")
    for path in ["/admin/panels", "/admin/journal", "/console/console.js", "/console/session"]:
        assert page.request.get(BASE + path).status == 401, path
    page.get_by_label("Admin token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That is not the admin token.")
    page.screenshot(path=str(ARTIFACTS / "sign-in-refused.png"))

    sign_in(page)
    cookie = next(c for c in context.cookies() if c["name"] == "panelgate_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
    # Scripts cannot read it.
    assert "panelgate_console" not in page.evaluate("document.cookie")
    assert page.request.get(BASE + "/admin/panels").status == 200
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(BASE + "/console/sign-in")
    page.goto(BASE + "/console")
    expect(page).to_have_url(BASE + "/console/sign-in")
    assert page.request.get(BASE + "/admin/panels").status == 401
    context.close()


def test_without_its_script_the_sign_in_form_puts_no_token_in_the_url(browser):
    """A sign-in submitted before the script runs, or with scripts off, sends no token along."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(BASE + "/console/sign-in")
    page.get_by_label("Admin token").fill(ADMIN)
    page.get_by_label("Admin token").press("Enter")
    page.wait_for_load_state()
    assert ADMIN not in page.url, page.url
    context.close()


LABELLED = """() => [...document.querySelectorAll(
  'section:not([hidden]) input, section:not([hidden]) select, section:not([hidden]) textarea')]
  .filter(e => e.type !== 'hidden' && e.labels.length === 0).map(e => e.id || e.name)"""


@pytest.mark.parametrize("width,height,name", [(1280, 800, "desktop"), (390, 844, "phone")])
def test_every_section_is_labelled_and_fits_the_screen(browser, width, height, name):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    sign_in(page)
    for section, slug in [("Panels", "panels"), ("Deploy", "deploy"), ("Cases", "cases"),
                          ("Journal", "journal"), ("In doubt", "in-doubt"), ("Callbacks", "callbacks"),
                          ("Webhooks", "webhooks")]:
        view(page, section)
        expect(page.locator(f"#view-{slug}")).to_be_visible()
        expect(page.locator(f"#view-{slug} h2")).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert page.evaluate(LABELLED) == [], f"{section}: a field without a label"
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{section} at {width}px is {overflow}px too wide"
        page.screenshot(path=str(ARTIFACTS / f"{name}-{slug}.png"), full_page=True)
    context.close()
