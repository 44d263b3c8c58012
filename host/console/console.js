// panelgate's console: one page over the admin API, signed in by a session cookie. Every request
// that changes state carries the session's CSRF token (docs/security.md#the-console). Data is put
// on the page as text (never as HTML), so nothing a partner or portal sent can run here.
"use strict";

const state = {
  csrf: "",
  panels: [],
  adapters: [],
  feedCursor: "",
  feedOn: true,
  feedTimer: null,
};

// --- helpers ---------------------------------------------------------------------------------

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function $(id) {
  return document.getElementById(id);
}

function say(message, isError = false) {
  const status = $("status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

class ApiFailure extends Error {
  constructor(status, body) {
    const error = body && body.error;
    let message = error ? `${error.code}: ${error.message}` : `HTTP ${status}`;
    if (error && Array.isArray(error.issues) && error.issues.length) {
      message += " (" + error.issues.map((i) => `${i.path}: ${i.message}`).join("; ") + ")";
    }
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** Calls the host; JSON in and out. A lost session goes back to the sign-in page. */
async function api(method, path, body, contentType) {
  const headers = {};
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = state.csrf;
  let payload;
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    payload = body;
    headers["Content-Type"] = contentType || "application/octet-stream";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  if (response.status === 401) {
    window.location.assign("/console/sign-in");
    throw new ApiFailure(401, null);
  }
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiFailure(response.status, data);
  return data;
}

/** Runs an action, telling its outcome in the status line. */
async function act(what, fn) {
  say(`${what}…`);
  try {
    const result = await fn();
    say(`${what}: done.`);
    return result;
  } catch (e) {
    say(`${what} failed: ${e.message}`, true);
    return undefined;
  }
}

function fill(tbody, rows, emptyText, columns) {
  tbody.replaceChildren();
  if (!rows.length) {
    tbody.append(el("tr", {}, el("td", { colspan: columns }, emptyText)));
    return;
  }
  for (const row of rows) tbody.append(row);
}

function pretty(value) {
  return el("pre", { class: "json", tabindex: "0" }, JSON.stringify(value, null, 2));
}

function short(hash) {
  return hash ? hash.slice(0, 12) : "";
}

function ms(value) {
  return value.toFixed(value < 10 ? 2 : 0);
}

/** A `datetime-local` value (read as UTC) in RFC 3339. */
function utc(value) {
  if (!value) return "";
  return (value.length === 16 ? value + ":00" : value) + "Z";
}

function adapterName(hash) {
  const m = state.adapters.find((a) => a.module.hash === hash);
  return m ? `${m.module.name}@${m.module.version}` : short(hash);
}

// --- session ---------------------------------------------------------------------------------

async function loadSession() {
  const session = await api("GET", "/console/session");
  state.csrf = session.csrf_token;
  $("session-expiry").textContent = `Session until ${session.expires_at.replace("T", " ").slice(0, 16)} UTC`;
}

async function signOut() {
  try {
    await api("DELETE", "/console/session");
  } finally {
    window.location.assign("/console/sign-in");
  }
}

// --- panels ----------------------------------------------------------------------------------

function health(panel) {
  if (panel.quarantined) return { text: `quarantined: ${panel.quarantined}`, cls: "bad" };
  if (panel.circuit === "open") return { text: "breaker open", cls: "bad" };
  if (panel.circuit === "half-open" || panel.circuit === "half_open") return { text: "breaker half-open", cls: "warn" };
  return { text: "serving", cls: "good" };
}

async function loadPanels() {
  state.panels = await api("GET", "/admin/panels");
  for (const select of document.querySelectorAll(".panel-select")) {
    const keep = select.value;
    const any = select.querySelector('option[value=""]');
    select.replaceChildren(...(any ? [any] : []), ...state.panels.map((p) => el("option", { value: p.id }, p.id)));
    if (keep && state.panels.some((p) => p.id === keep)) select.value = keep;
  }
}

async function showPanels() {
  await loadPanels();
  const rows = state.panels.map((p) => {
    const h = health(p);
    const description = p.adapter || {};
    const ops = (description.operations || []).join(", ");
    const action = p.quarantined
      ? el("button", { type: "button", onclick: () => liftQuarantine(p.id) }, `Lift quarantine on ${p.id}`)
      : "";
    return el("tr", { "data-panel": p.id },
      el("th", { scope: "row" }, p.id),
      el("td", { class: `health ${h.cls}` }, h.text),
      el("td", {}, `${p.module.name}@${p.module.version}`, description.spec ? el("br") : null, description.spec ? el("small", {}, description.spec) : null),
      el("td", {}, `panelgate:adapter@${p.module.wit}`),
      el("td", {}, ops),
      el("td", {}, action));
  });
  fill($("panels-table").tBodies[0], rows, "No panels.", 6);
  const hour = await api("GET", "/admin/operations/last-hour");
  fill($("hour-table").tBodies[0], hour.map((o) => el("tr", {},
    el("td", {}, o.panel), el("td", {}, o.operation),
    el("td", { class: "num" }, o.requests), el("td", { class: "num" }, o.errors),
    el("td", { class: "num" }, o.server_errors), el("td", { class: "num" }, ms(o.mean_ms)),
    el("td", { class: "num" }, ms(o.p95_ms)), el("td", { class: "num" }, ms(o.max_ms)))),
  "No operation in the last hour.", 8);
}

async function liftQuarantine(panel) {
  const result = await act(`Lifting the quarantine on ${panel}`, () => api("POST", `/admin/panels/${encodeURIComponent(panel)}/enable`));
  if (result) {
    await showPanels();
    say(`${panel}: quarantine lifted (it was: ${result.was_quarantined || "not quarantined"}).`);
  }
}

// --- deploy ----------------------------------------------------------------------------------

async function loadAdapters() {
  state.adapters = await api("GET", "/admin/adapters");
  const select = $("switch-adapter");
  const keep = select.value;
  select.replaceChildren(...state.adapters.map((a) =>
    el("option", { value: `${a.module.name}@${a.module.version}` }, `${a.module.name}@${a.module.version} (${short(a.module.hash)})`)));
  if (keep) select.value = keep;
  fill($("modules-table").tBodies[0], state.adapters.map((a) => el("tr", {},
    el("td", {}, `${a.module.name}@${a.module.version}`), el("td", {}, a.module.wit),
    el("td", {}, a.module.source), el("td", {}, a.module.pushed_at),
    el("td", { class: "hash", title: a.module.hash }, short(a.module.hash)), el("td", {}, a.serving.join(", ")))),
  "No module registered.", 6);
}

async function showHistory() {
  const panel = $("switch-panel").value;
  if (!panel) return;
  const data = await api("GET", `/admin/panels/${encodeURIComponent(panel)}/deployments`);
  $("history-serving").textContent = `${panel} serves ${data.serving.name}@${data.serving.version} now.`;
  fill($("history-table").tBodies[0], [...data.history].reverse().map((d) => el("tr", {},
    el("td", {}, d.seq), el("td", { class: "time" }, d.at), el("td", {}, d.action), el("td", {}, adapterName(d.module)))),
  "No deployment yet.", 4);
}

async function showDeploy() {
  await loadPanels();
  await loadAdapters();
  await showHistory();
}

function pushChecks(info, created) {
  const ops = (info.description && info.description.operations) || [];
  return el("div", { class: "card result", id: "push-checks" },
    el("h4", {}, created ? `Registered ${info.name}@${info.version}` : `Already registered: ${info.name}@${info.version}`),
    el("p", {}, "What push checked:"),
    el("ul", {},
      el("li", {}, "a WebAssembly component (not a core module), valid, exporting panelgate:adapter/operations"),
      el("li", {}, `built for a contract this host runs: panelgate:adapter@${info.wit}`),
      el("li", {}, "imports nothing but panelgate:adapter and the WASI the sandbox grants (no sockets, no files)"),
      el("li", {}, `describe answered: ${info.name} ${info.version}; operations: ${ops.join(", ") || "none"}`),
      el("li", {}, "the panels serving this adapter have every setting and credential it declares"),
      el("li", {}, `compiled; ${info.size} bytes, SHA-256 ${info.hash}`)));
}

async function push(event) {
  event.preventDefault();
  const file = $("push-file").files[0];
  if (!file) return say("Choose a .wasm file to push.", true);
  const out = $("push-result");
  out.replaceChildren();
  try {
    say(`Pushing ${file.name}…`);
    const response = await fetch("/admin/adapters", {
      method: "POST",
      headers: { "X-CSRF-Token": state.csrf, "Content-Type": "application/wasm" },
      body: file,
      credentials: "same-origin",
    });
    const body = await response.json();
    if (!response.ok) throw new ApiFailure(response.status, body);
    out.append(pushChecks(body, response.status === 201));
    say(`Pushed ${file.name}: ${body.name}@${body.version}.`);
    await loadAdapters();
  } catch (e) {
    out.append(el("p", { class: "error", role: "alert" }, `Refused: ${e.message}`));
    say(`Push failed: ${e.message}`, true);
  }
}

async function replay(event) {
  event.preventDefault();
  const file = $("replay-file").files[0];
  const panel = $("replay-panel").value;
  const last = $("replay-last").value;
  if (!file) return say("Choose a candidate .wasm to replay.", true);
  const out = $("replay-result");
  out.replaceChildren();
  const report = await act(`Replaying ${file.name} against ${panel}`, () =>
    api("POST", `/admin/panels/${encodeURIComponent(panel)}/replay?last=${encodeURIComponent(last)}`, file, "application/wasm"));
  if (!report) return;
  const rows = report.operations.map((o) => el("tr", { class: o.same_result && o.same_requests ? "" : "changed" },
    el("td", {}, o.operation), el("td", { class: "hash" }, o.journal_id), el("td", {}, o.recorded_by),
    el("td", {}, o.same_result ? "same" : "differs"), el("td", {}, o.same_requests ? "same" : "differs"),
    el("td", {}, o.differences.length ? el("ul", { class: "diffs" }, o.differences.map((d) => el("li", {}, el("code", {}, d)))) : "—")));
  out.append(el("div", { class: "card result", id: "replay-report" },
    el("h3", {}, `Replay of ${report.candidate} against ${report.panel} (serving ${report.current})`),
    el("p", { class: "summary" }, `${report.replayed} replayed: ${report.same} the same, ${report.changed} changed, ${report.skipped} skipped.`),
    el("div", { class: "scroll" }, el("table", {},
      el("caption", {}, "Each replayed operation and where the candidate differs, by JSON path"),
      el("thead", {}, el("tr", {}, ["Operation", "Journal entry", "Recorded by", "Result", "Partner requests", "Differences"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: 6 }, "Nothing to replay.")))))));
}

async function switchAdapter(event) {
  event.preventDefault();
  const panel = $("switch-panel").value;
  const adapter = $("switch-adapter").value;
  const module = await act(`Switching ${panel} to ${adapter}`, () =>
    api("PUT", `/admin/panels/${encodeURIComponent(panel)}/adapter`, { adapter }));
  if (module) {
    await showDeploy();
    say(`${panel} now serves ${module.name}@${module.version}.`);
  }
}

async function rollback() {
  const panel = $("switch-panel").value;
  const module = await act(`Rolling ${panel} back`, () => api("POST", `/admin/panels/${encodeURIComponent(panel)}/rollback`));
  if (module) {
    await showDeploy();
    say(`${panel} rolled back to ${module.name}@${module.version}.`);
  }
}

// --- cases -----------------------------------------------------------------------------------

function references(list) {
  return (list || []).map((r) => `${r.kind}=${r.value}`).join(", ");
}

async function findCases(event) {
  event.preventDefault();
  const params = new URLSearchParams();
  for (const [name, id] of [["id", "case-id"], ["reference", "case-reference"], ["panel", "case-panel"]]) {
    const value = $(id).value.trim();
    if (value) params.set(name, value);
  }
  const cases = await act("Finding cases", () => api("GET", `/admin/cases?${params}`));
  if (!cases) return;
  fill($("cases-table").tBodies[0], cases.map((c) => el("tr", {},
    el("td", {}, el("button", { type: "button", class: "link", onclick: () => openCase(c.id) }, c.id)),
    el("td", {}, c.panel), el("td", {}, c.kind), el("td", {}, c.status),
    el("td", {}, references(c.references)), el("td", {}, c.updated_at))),
  "No case matches.", 6);
  say(`${cases.length} case${cases.length === 1 ? "" : "s"} found.`);
  if (cases.length === 1) await openCase(cases[0].id);
}

async function openCase(id) {
  const data = await act(`Opening case ${id}`, () => api("GET", `/admin/cases/${encodeURIComponent(id)}`));
  if (!data) return;
  const c = data.case;
  const out = $("case-detail");
  const heading = el("h3", { tabindex: "-1" }, `Case ${c.id}`);
  out.replaceChildren(el("div", { class: "card result", id: "case-card" },
    heading,
    el("dl", {},
      el("dt", {}, "Panel"), el("dd", {}, c.panel),
      el("dt", {}, "Kind"), el("dd", {}, c.kind),
      el("dt", {}, "Status"), el("dd", { id: "case-status" }, c.status),
      el("dt", {}, "Product"), el("dd", {}, c.product || "—"),
      el("dt", {}, "References"), el("dd", {}, references(c.references) || "—"),
      el("dt", {}, "Message"), el("dd", {}, c.message || "—")),
    el("h4", {}, "History"),
    el("div", { class: "scroll" }, el("table", {},
      el("thead", {}, el("tr", {}, ["At", "Status", "Source", "Journal entry"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, c.history.map((h) => el("tr", {}, el("td", {}, h.at), el("td", {}, h.status), el("td", {}, h.source), el("td", { class: "hash" }, h.journal_id || "")))))),
    el("h4", {}, "Events"),
    el("div", { class: "scroll" }, el("table", {},
      el("thead", {}, el("tr", {}, ["At", "Kind", "Status", "Flag", "Payload"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, data.events.length ? data.events.map((e) => el("tr", {}, el("td", {}, e.created_at), el("td", {}, e.kind), el("td", {}, e.status || ""), el("td", {}, e.flagged || ""), el("td", {}, pretty(e.payload))))
        : el("tr", {}, el("td", { colspan: 5 }, "No event yet.")))))));
  heading.focus();
}

async function pollFeed() {
  clearTimeout(state.feedTimer);
  if (!state.feedOn || currentView() !== "cases") return;
  try {
    const page = await api("GET", `/admin/events?after=${encodeURIComponent(state.feedCursor)}&limit=200`);
    const tbody = $("feed-table").tBodies[0];
    if (page.events.length && tbody.querySelector("td[colspan]")) tbody.replaceChildren();
    for (const e of page.events) {
      tbody.prepend(el("tr", {}, el("td", {}, e.cursor), el("td", {}, e.created_at), el("td", {}, e.panel),
        el("td", {}, e.kind), el("td", {}, e.status || ""), el("td", { class: "hash" }, e.case_id || ""), el("td", {}, e.flagged || "")));
    }
    while (tbody.rows.length > 200) tbody.deleteRow(-1);
    if (!tbody.rows.length) tbody.append(el("tr", {}, el("td", { colspan: 7 }, "No event yet.")));
    state.feedCursor = page.next_cursor;
  } catch (e) {
    say(`The events feed failed: ${e.message}`, true);
  }
  state.feedTimer = setTimeout(pollFeed, 3000);
}

function toggleFeed() {
  state.feedOn = !state.feedOn;
  const button = $("feed-toggle");
  button.setAttribute("aria-pressed", String(state.feedOn));
  button.textContent = state.feedOn ? "Pause the feed" : "Resume the feed";
  if (state.feedOn) pollFeed();
}

// --- journal ---------------------------------------------------------------------------------

async function filterJournal(event) {
  if (event) event.preventDefault();
  const params = new URLSearchParams({ limit: "200" });
  for (const [name, id] of [["panel", "journal-panel"], ["operation", "journal-operation"], ["status", "journal-status"], ["kind", "journal-kind"]]) {
    const value = $(id).value.trim();
    if (value) params.set(name, value);
  }
  for (const [name, id] of [["since", "journal-since"], ["until", "journal-until"]]) {
    const value = utc($(id).value);
    if (value) params.set(name, value);
  }
  const rows = await act("Reading the journal", () => api("GET", `/admin/journal?${params}`));
  if (!rows) return;
  fill($("journal-table").tBodies[0], rows.map((r) => el("tr", { class: r.outcome === "ok" ? "" : "changed" },
    el("td", {}, r.seq), el("td", { class: "time" }, r.at), el("td", {}, r.panel || ""), el("td", {}, r.operation),
    el("td", {}, r.kind), el("td", { class: "outcome" }, r.outcome), el("td", { class: "hash" }, r.case_id || ""),
    el("td", {}, el("button", { type: "button", class: "link", onclick: () => openEntry(r.id), "aria-label": `Open entry ${r.seq}` }, "Open")))),
  "No entry matches.", 8);
  say(`${rows.length} entr${rows.length === 1 ? "y" : "ies"}.`);
}

function entryCard(detail, title) {
  return el("div", { class: "card result" },
    el("h3", { tabindex: "-1" }, title),
    el("p", {}, `${detail.entry.kind} ${detail.entry.operation} on ${detail.entry.panel || "the host"} at ${detail.entry.at}: ${detail.entry.outcome}`),
    pretty(detail.entry.detail),
    el("h4", {}, `Partner exchanges (${detail.exchanges.length}), redacted`),
    detail.exchanges.length
      ? detail.exchanges.map((x) => el("details", {}, el("summary", {}, `${x.outcome} · ${x.at}`), pretty(x.detail)))
      : el("p", {}, "None."),
    el("h4", {}, `Later on the case (${detail.later_on_the_case.length})`),
    detail.later_on_the_case.length
      ? el("ul", {}, detail.later_on_the_case.map((x) => el("li", {}, `${x.at} ${x.kind} ${x.operation}: ${x.outcome}`)))
      : el("p", {}, "Nothing yet."));
}

async function openEntry(id) {
  const detail = await act(`Opening entry ${id}`, () => api("GET", `/admin/journal/${encodeURIComponent(id)}`));
  if (!detail) return;
  const card = entryCard(detail, `Entry ${detail.entry.seq} (${detail.entry.id})`);
  $("journal-detail").replaceChildren(card);
  card.querySelector("h3").focus();
}

async function verifyJournal() {
  const result = await act("Verifying the journal's hash chain", () => api("GET", "/admin/journal/verify"));
  if (!result) return;
  const out = $("verify-result");
  out.textContent = result.intact
    ? "The hash chain is intact: no entry was altered or removed."
    : `The hash chain is broken at entry ${result.first_bad_entry}.`;
  out.className = result.intact ? "good" : "bad";
}

// --- in doubt --------------------------------------------------------------------------------

const STATUSES = ["submitted", "pending_documents", "pending_underwriting", "referred", "offered", "in_force",
  "declined", "withdrawn", "cancellation_requested", "cancelled", "lapsed", "expired", "claim_submitted",
  "claim_under_review", "claim_information_requested", "claim_approved", "claim_partly_approved",
  "claim_rejected", "claim_paid", "claim_closed", "application_approved", "application_rejected"];

function settleForm(op) {
  const id = op.journal_id;
  const status = el("select", { id: `settle-status-${id}` }, STATUSES.map((s) => el("option", { value: s }, s)));
  const refs = el("input", { id: `settle-refs-${id}`, type: "text", placeholder: "kind=value, kind=value", autocomplete: "off" });
  const note = el("textarea", { id: `settle-note-${id}`, required: true, rows: 2 });
  const acted = el("input", { type: "radio", name: `acted-${id}`, id: `acted-yes-${id}`, value: "yes" });
  const notActed = el("input", { type: "radio", name: `acted-${id}`, id: `acted-no-${id}`, value: "no", checked: true });
  const onlyIfActed = el("div", { class: "if-acted", hidden: true },
    el("label", { for: `settle-status-${id}` }, "Status at the partner"), status,
    el("label", { for: `settle-refs-${id}` }, "Partner references"), refs);
  for (const radio of [acted, notActed]) radio.addEventListener("change", () => { onlyIfActed.hidden = !acted.checked; });
  const form = el("form", { class: "settle" },
    el("fieldset", {}, el("legend", {}, "Did the partner act on it?"),
      el("label", { class: "check", for: `acted-yes-${id}` }, acted, " Yes, it acted"),
      el("label", { class: "check", for: `acted-no-${id}` }, notActed, " No: release the key so a retry runs it again")),
    onlyIfActed,
    el("label", { for: `settle-note-${id}` }, "Note: what you checked at the partner"), note,
    el("button", { type: "submit" }, `Settle ${op.operation} on ${op.panel}`));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!note.value.trim()) {
      say("Write what you checked at the partner in the note.", true);
      note.focus();
      return;
    }
    const body = { acted: acted.checked, note: note.value.trim() };
    if (acted.checked) {
      body.status = status.value;
      body.references = refs.value.split(",").map((r) => r.trim()).filter(Boolean).map((r) => {
        const [kind, ...value] = r.split("=");
        return { kind: kind.trim(), value: value.join("=").trim() };
      });
    }
    const c = await act(`Settling ${id}`, () => api("POST", `/admin/unknown-outcomes/${encodeURIComponent(id)}`, body));
    if (c) {
      await showInDoubt();
      say(`Settled: case ${c.id} is ${c.status}.`);
    }
  });
  return form;
}

async function showInDoubt() {
  const ops = await api("GET", "/admin/unknown-outcomes");
  const list = $("doubt-list");
  if (!ops.length) {
    list.replaceChildren(el("p", { id: "doubt-empty" }, "No operation is in doubt."));
    return;
  }
  const cards = [];
  for (const op of ops) {
    let tried = el("p", {}, "The journal entry could not be read.");
    try {
      const detail = await api("GET", `/admin/journal/${encodeURIComponent(op.journal_id)}`);
      tried = el("div", {},
        el("p", {}, `The operation: ${detail.entry.outcome}`),
        el("h4", {}, "What reconciliation tried"),
        detail.later_on_the_case.length
          ? el("ul", {}, detail.later_on_the_case.map((x) => el("li", {}, `${x.at} ${x.kind} ${x.operation}: ${x.outcome}`)))
          : el("p", {}, "Nothing yet: the case carries no partner reference to ask by, or the adapter cannot ask the partner."),
        el("details", {}, el("summary", {}, `Partner exchanges (${detail.exchanges.length})`),
          detail.exchanges.map((x) => pretty(x.detail))));
    } catch (e) {
      tried = el("p", { class: "error" }, e.message);
    }
    cards.push(el("article", { class: "card doubt", "data-journal-id": op.journal_id },
      el("h3", {}, `${op.operation} on ${op.panel}`),
      el("dl", {},
        el("dt", {}, "Journal entry"), el("dd", { class: "hash" }, op.journal_id),
        el("dt", {}, "Case"), el("dd", { class: "hash" }, op.case_id || (op.opens && op.opens.case_id) || "—"),
        el("dt", {}, "Started"), el("dd", {}, op.started_at),
        el("dt", {}, "Idempotency-Key"), el("dd", {}, op.idempotency ? op.idempotency[1] : "—")),
      el("details", {}, el("summary", {}, "The request"), pretty(op.request)),
      tried,
      settleForm(op)));
  }
  list.replaceChildren(...cards);
}

// --- callbacks -------------------------------------------------------------------------------

async function showCallbacks() {
  await loadPanels();
  const flaggedOnly = $("callbacks-flagged").checked;
  const all = [];
  for (const p of state.panels) {
    const rows = await api("GET", `/admin/panels/${encodeURIComponent(p.id)}/callbacks?limit=100`);
    for (const r of rows) all.push({ ...r, panel: p.id });
  }
  all.sort((a, b) => (a.received_at < b.received_at ? 1 : -1));
  const shown = all.filter((r) => !flaggedOnly || r.flagged).slice(0, 300);
  fill($("callbacks-table").tBodies[0], shown.map((r) => el("tr", { class: r.flagged ? "changed" : "" },
    el("td", { class: "time" }, r.received_at), el("td", {}, r.panel), el("td", {}, r.path),
    el("td", {}, r.reply_status ?? ""), el("td", {}, r.flagged || ""))),
  flaggedOnly ? "No flagged callback." : "No callback received.", 5);
}

// --- webhooks --------------------------------------------------------------------------------

async function showWebhooks() {
  const subscriptions = await api("GET", "/admin/subscriptions");
  const rows = subscriptions.map((s) => {
    const id = encodeURIComponent(s.id);
    const actions = el("td", {},
      el("button", { type: "button", "aria-label": `Deliveries of ${s.id}`,
        onclick: () => act("Loading deliveries", () => showDeliveries(s.id)) }, "Deliveries"));
    if (s.state === "disabled") {
      actions.append(el("button", { type: "button", "aria-label": `Enable ${s.id}`,
        onclick: () => act(`Enabling ${s.id}`, async () => {
          await api("POST", `/admin/subscriptions/${id}/enable`);
          await showWebhooks();
        }) }, "Enable"));
    }
    return el("tr", { class: s.state === "disabled" ? "changed" : "" },
      el("td", {}, s.id), el("td", {}, s.url), el("td", {}, s.kinds.join(", ") || "every kind"),
      el("td", {}, s.panels.join(", ") || "every panel"),
      el("td", {}, s.state === "disabled" ? `disabled: ${s.disabled_reason || ""}` : s.state),
      actions);
  });
  fill($("subscriptions-table").tBodies[0], rows, "No subscription.", 6);
}

async function showDeliveries(id) {
  const deliveries = await api("GET", `/admin/subscriptions/${encodeURIComponent(id)}/deliveries`);
  $("deliveries-caption").textContent = `Deliveries of ${id}, newest first`;
  fill($("deliveries-table").tBodies[0], deliveries.map((d) => el("tr", { class: d.state === "failed" ? "changed" : "" },
    el("td", { class: "time" }, d.created_at), el("td", {}, d.event_id), el("td", {}, d.case_id || ""),
    el("td", {}, d.state), el("td", {}, String(d.attempts)),
    el("td", {}, d.last_status != null ? String(d.last_status) : (d.last_error || "")),
    el("td", {}, d.last_latency_ms != null ? `${d.last_latency_ms} ms` : ""),
    el("td", {}, el("button", { type: "button", "aria-label": `Replay ${d.event_id}`,
      onclick: () => act(`Replaying ${d.event_id}`, async () => {
        await api("POST", `/admin/subscriptions/${encodeURIComponent(id)}/replay`, { event_id: d.event_id });
        await showDeliveries(id);
      }) }, "Replay")))),
  "No delivery yet.", 8);
}

// --- navigation ------------------------------------------------------------------------------

const VIEWS = {
  panels: showPanels,
  deploy: showDeploy,
  cases: async () => { await loadPanels(); pollFeed(); },
  journal: async () => { await loadPanels(); await filterJournal(); },
  "in-doubt": showInDoubt,
  callbacks: showCallbacks,
  webhooks: showWebhooks,
};

function currentView() {
  const name = window.location.hash.slice(1);
  return name in VIEWS ? name : "panels";
}

async function show() {
  const name = currentView();
  for (const section of document.querySelectorAll("section[data-view]")) section.hidden = section.dataset.view !== name;
  for (const link of document.querySelectorAll("nav a[data-view]")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${name.replace("-", " ")} · panelgate console`;
  try {
    await VIEWS[name]();
  } catch (e) {
    say(`Loading ${name} failed: ${e.message}`, true);
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  $("sign-out").addEventListener("click", signOut);
  $("panels-refresh").addEventListener("click", () => act("Refreshing panels", showPanels));
  $("push-form").addEventListener("submit", push);
  $("replay-form").addEventListener("submit", replay);
  $("switch-form").addEventListener("submit", switchAdapter);
  $("switch-panel").addEventListener("change", () => showHistory().catch((e) => say(e.message, true)));
  $("rollback").addEventListener("click", rollback);
  $("case-form").addEventListener("submit", findCases);
  $("feed-toggle").addEventListener("click", toggleFeed);
  $("journal-form").addEventListener("submit", filterJournal);
  $("journal-verify").addEventListener("click", verifyJournal);
  $("doubt-refresh").addEventListener("click", () => act("Refreshing", showInDoubt));
  $("callbacks-refresh").addEventListener("click", () => act("Refreshing callbacks", showCallbacks));
  $("callbacks-flagged").addEventListener("change", () => showCallbacks().catch((e) => say(e.message, true)));
  $("webhooks-refresh").addEventListener("click", () => act("Refreshing webhooks", showWebhooks));
  window.addEventListener("hashchange", async () => {
    await show();
    $("main").focus();
  });
  try {
    await loadSession();
  } catch (e) {
    return;
  }
  document.body.dataset.ready = "true";
  await show();
});
