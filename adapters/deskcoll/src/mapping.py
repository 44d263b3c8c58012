"""Canonical <-> MNC Desk Coll, as pure functions that unit-test natively (no component needed).

Spec: shared/seeds/004_a1e7a4e4dc3d9321.txt. Decisions are in README.md.
"""

import json
import re
from datetime import date, datetime, timedelta, timezone

from componentize_py_types import Err
from wit_world.imports import types as t

CURRENCY = "IDR"
TASK_KINDS = ("collection-tasks", "default")

# Spec section 5: maximum sizes of the result fields, with the canonical path of each.
MAX_SIZES = [
    ("account_no", "contract", 25),
    ("cust_name", "debtor", 50),
    ("result_code", "result_code", 10),
    ("action_code", "action_code", 10),
    ("remark", "remark", 255),
    ("cre_by", "agent", 25),
    ("cre_ip_address", "agent_address", 25),
]


def invalid(issues):
    """An invalid-request error naming every broken field."""
    return Err(t.AdapterError_InvalidRequest([t.FieldIssue(path, message) for path, message in issues]))


def rejected(code, message):
    return Err(t.AdapterError_Rejected(t.Rejection(code, message)))


def protocol(detail):
    return Err(t.AdapterError_PartnerProtocol(detail))


def unsupported(operation):
    return Err(t.AdapterError_Unsupported(f"the deskcoll adapter does not implement `{operation}`"))


def description():
    return t.Description(
        name="deskcoll",
        version="2.0.0",
        spec="MNC Desk Coll (collection results, desk-coll tasks)",
        operations=[t.Operation.POLL, t.Operation.NOTIFY],
        config_keys=[
            t.ConfigKey("base-url", "the merchant URL MNC gives (the spec names no path)", True),
            t.ConfigKey("results-path", "path of the collection-result POST below base-url", True),
            t.ConfigKey("tasks-path", "path of the desk-coll task GET below base-url", True),
        ],
        credentials=[
            t.CredentialNeed("partner", t.CredentialKind_Basic(), "MNC's Basic Auth (SERVICEMNC in the spec)"),
            t.CredentialNeed("hash-key", t.CredentialKind_HashKey(), "the HashKey of `hashing`"),
        ],
        callbacks=[],
        lookups=["collection-tasks"],
        # No operation takes or returns `extensions`: the host refuses a portal's (422).
        extensions=[],
    )


def url(base, path):
    return base.rstrip("/") + "/" + path.lstrip("/")


def _text(value):
    """A task value as the text the seed shows (spec 4.2: every value a string or null).

    A number is taken as its text: work_items parses numbers as their own JSON text, so
    `"overdue": 5` is `"5"` and `29949000.00` keeps its zeros. An object, a list or a boolean holds
    no text the seed could mean: it is None, as if null (task() says why). So is a JSON string
    holding a lone surrogate (`"\\ud800"`), which no WIT `string` can carry."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return None
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


# ASCII only: `int()` would also take `"٥"`, `"1_000"`, `"+5"` and `"-1"`.
_DIGITS = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
U32_MAX = 2**32 - 1


def _money(value):
    """The WIT's `money` is a decimal string, never a float: `"1e+20"` or `"abc"` is None."""
    text = (_text(value) or "").strip()
    if not _DECIMAL.fullmatch(text):
        return None
    return t.Money(text, CURRENCY)


def _u32(value):
    """A count (`total_installmentNumber` "54", `lastpaid_tenor` "28") as the WIT's `u32`, or
    None: a sign, a fraction or a value past 4294967295 is no count the WIT can carry."""
    text = (_text(value) or "").strip()
    # More than ten digits is past u32 however it reads (and past 4,300 `int()` raises).
    if not _DIGITS.fullmatch(text) or len(text.lstrip("0")) > 10:
        return None
    number = int(text)
    return number if number <= U32_MAX else None


# componentize-py bundles no `_strptime`, so dates are parsed by pattern and checked by `datetime`.
_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2}):(\d{2}) ?(AM|PM)$", re.ASCII)
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?Z?)?$", re.ASCII)


def _us_date(value):
    """`lastpaid_duedate` is `M/D/YYYY h:mm:ss AM` (spec 7.7); the rest is ISO."""
    match = _US.match((_text(value) or "").strip())
    if not match:
        return None
    month, day, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _iso(value):
    match = _ISO.match((_text(value) or "").strip())
    if not match:
        return None
    year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3))
    hour, minute, second = (int(match.group(i) or 0) for i in (4, 5, 6))
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def _iso_date(value):
    parsed = _iso(value)
    return parsed.date().isoformat() if parsed else None


def task(raw):
    """One task of the GET response, as work_items parses it. Every value is a string or null
    (spec 4.2).

    The seed gives the task list no field table, only an example, and every field but the
    contract and the name is optional in the canonical task. So a value the WIT cannot carry (an
    object or a list where text is expected, a count that is negative or past `u32`, an amount
    that is not a decimal) is taken as the null the example allows: one odd field does not
    withhold the whole list of debtors from the collectors. A task without a contract or a name
    as text is no task: that is a protocol error."""
    if not isinstance(raw, dict):
        raise protocol("a task that is not an object")
    contract, debtor = _text(raw.get("contract_no")), _text(raw.get("name"))
    if not contract or debtor is None:
        raise protocol("a task without contract_no or name as text")
    # The spec's phone1..phone4 carry no kind: 2.0's open code set names it `other`, as the
    # host shows a 1.x adapter's closed `other`.
    numbers = ((_text(raw.get(f"phone{i}")) or "").strip() for i in range(1, 5))
    phones = [t.Phone(t.PhoneKind_Other("other"), number, None, None) for number in numbers if number]
    last = t.InstallmentPayment(
        amount=_money(raw.get("lastpaid_amount")),
        due_date=_us_date(raw.get("lastpaid_duedate")),
        installment=_u32(raw.get("lastpaid_tenor")),
        paid_date=_iso_date(raw.get("lastpaid_paymentdate")),
    )
    dedicated = _text(raw.get("flag_dedicated"))
    return t.WorkItem_CollectionTask(
        t.CollectionTask(
            contract=contract,
            customer_code=_text(raw.get("customer_code")),
            debtor=debtor,
            contact_person=_text(raw.get("contract_person")) or None,
            address=_text(raw.get("address")),
            branch=_text(raw.get("branch_name")),
            officer=_text(raw.get("marketing_name")),
            phones=phones,
            overdue=_text(raw.get("overdue")),
            # Spec 7.8: `installmentNumber` holds the instalment amount, not a count.
            installment_due=_money(raw.get("installmentNumber")),
            installments_total=_u32(raw.get("total_installmentNumber")),
            due_date=_iso_date(raw.get("dueDate_Installment")),
            payment_method=_text(raw.get("payment_methode")),
            asset=_text(raw.get("description_assets")),
            product=_text(raw.get("product")),
            penalty=_money(raw.get("penalty")),
            total_due=_money(raw.get("total_amount")),
            outstanding=_money(raw.get("osar")),
            last_payment=last,
            dedicated=None if dedicated is None else dedicated.strip() == "1",
        )
    )


def _no_constant(name):
    raise ValueError(f"`{name}` is not JSON")


def work_items(status, body):
    check_status(status, body)
    try:
        # Numbers as their JSON text (see _text); Python's `NaN` and `Infinity` are not JSON.
        document = json.loads(body, parse_int=str, parse_float=str, parse_constant=_no_constant)
    except ValueError as e:
        raise protocol(f"the task list is not JSON: {e}")
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, list):
        raise protocol("the task list has no `data` array")
    return [task(raw) for raw in data]


# Desk Coll's `YYYY-MM-DD HH:MM:SS` carries no offset; the partner is in Jakarta (UTC+7, no DST).
JAKARTA = timezone(timedelta(hours=7))

# The WIT's `timestamp`: "an ISO 8601 date-time; without an offset it is the partner's local
# time". A date alone, minutes without seconds, fractional seconds and an offset (`Z`, `+07:00`,
# `+0700`, `+07`) are all ISO 8601.
_CANONICAL = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$"
)


def _offset(text):
    """A `timezone` for an ISO 8601 offset, or None for none; ValueError when out of range."""
    if not text:
        return None
    if text in ("Z", "z"):
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError("offset out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


# The seed's one example, `"collection_date": "2021-12-29 00:00:00"`, writes four digits of year.
# Year 999 would come out as `999` (strftime) or `0999`: no date a collector called or a debtor
# promised, so a Jakarta time outside these years is refused, naming the field.
FIRST_YEAR, LAST_YEAR = 1000, 9999


def canonical_timestamp(text):
    """A canonical timestamp as the Jakarta local `datetime` Desk Coll means, or None if it is
    not ISO 8601 or falls outside FIRST_YEAR..LAST_YEAR in Jakarta. An offset converts the
    instant to Jakarta time; no offset is Jakarta time already; fractional seconds are cut, as
    Desk Coll's format has whole seconds."""
    match = _CANONICAL.match((text or "").strip())
    if not match:
        return None
    year, month, day, hour, minute, second = (int(match.group(i) or 0) for i in range(1, 7))
    try:
        parsed = datetime(year, month, day, hour, minute, second)
        zone = _offset(match.group(8))
        if zone is not None:
            parsed = parsed.replace(tzinfo=zone).astimezone(JAKARTA).replace(tzinfo=None)
    except (ValueError, OverflowError):
        # OverflowError: `9999-12-31T20:00:00Z` is year 10000 in Jakarta, and
        # `0001-01-01T00:00:00+08:00` year 0, past what `datetime` holds.
        return None
    return parsed if FIRST_YEAR <= parsed.year <= LAST_YEAR else None


def _timestamp(text, path, issues):
    """A canonical ISO timestamp (or date) as Desk Coll's `YYYY-MM-DD HH:MM:SS`, Jakarta time."""
    parsed = canonical_timestamp(text)
    if parsed is None:
        issues.append(
            (
                path,
                f"must be an ISO 8601 date-time in the years {FIRST_YEAR} to {LAST_YEAR} (Jakarta time), "
                "e.g. 2021-12-29T00:00:00 or 2021-12-28T17:00:00Z",
            )
        )
        return None
    # Not strftime("%Y"), whose width follows the C library.
    return parsed.isoformat(sep=" ", timespec="seconds")


def result_body(result, hashing):
    """The POST body of a collection result (spec 4.1), or an invalid-request naming every field."""
    base = "collection_result"
    issues = []
    body = {
        "account_no": result.contract,
        "collection_date": _timestamp(result.contacted_at, f"{base}.contacted_at", issues),
        "cust_name": result.debtor,
        "result_code": result.result_code,
        "action_code": result.action_code,
        "remark": result.remark or "",
        "cre_by": result.agent,
        "cre_ip_address": result.agent_address or "",
        # The spec has no separate modifier; the creator is also the last to modify.
        "mod_by": result.agent,
        "mod_ip_address": result.agent_address or "",
        "promise_date": None,
        # The example sends the period as a string (the table says Integer).
        "period": str(result.period if result.period is not None else 0),
        "hashing": hashing,
    }
    if result.promise_date is not None:
        body["promise_date"] = _timestamp(result.promise_date, f"{base}.promise_date", issues)
    for field, canonical, size in MAX_SIZES:
        value = body[field] or ""
        if field in ("account_no", "cust_name", "result_code", "action_code", "cre_by") and not value.strip():
            issues.append((f"{base}.{canonical}", "is required"))
        elif len(value) > size:
            issues.append((f"{base}.{canonical}", f"Desk Coll takes at most {size} characters"))
    if issues:
        raise invalid(issues)
    return body


def check_status(status, body):
    if status in (401, 403):
        raise Err(t.AdapterError_Unauthorized(_snippet(body)))
    # As the contract's rule for every adapter (docs/wit.md): a timeout, a rate limit and a
    # server error are the partner unavailable, whatever the body.
    if status >= 500 or status in (408, 429):
        raise Err(t.AdapterError_PartnerUnavailable(f"HTTP {status}: {_snippet(body)}"))
    if status == 400:
        raise Err(t.AdapterError_PartnerBadRequest(_bad_request(body)))
    if status != 200:
        raise protocol(f"HTTP {status}: {_snippet(body)}")


def receipt(status, body):
    """`respon_code` 00 is success; any other code is the partner's refusal."""
    check_status(status, body)
    try:
        answer = json.loads(body)
        code, message = _text(answer["respon_code"]), _text(answer.get("respon_mess")) or ""
    except (ValueError, KeyError, TypeError, AttributeError):
        code = None
    if code is None:
        raise protocol(f"not a Desk Coll answer: {_snippet(body)}")
    if code != "00":
        raise rejected(code, message)
    return t.NotifyReceipt(accepted=True, reference=None, message=message)


def _bad_request(body):
    """A 400's detail: the partner's `respon_code` and `respon_mess` when it sends them.

    The seed documents only `respon_code` 00; a 400 says the partner could not read what we sent
    (the simulator's `02` "Format data tidak valid: ..."), which the portal cannot mend, so it
    stays `partner-bad-request` (502) rather than a business `rejected` (422). Its code leads the
    detail as the BCS and AAGI adapters write theirs (`"02 Format data tidak valid: ..."`), with
    `respon_mess` up to the seed's 255 characters, not a 200-character cut of the raw body."""
    try:
        answer = json.loads(body)
        code, message = answer["respon_code"], answer.get("respon_mess")
    except (ValueError, KeyError, TypeError, AttributeError):
        return _snippet(body)
    code = _text(code) if isinstance(code, str) else None
    if code is None or not isinstance(message, (str, type(None))):
        return _snippet(body)
    return f"{code} {(_text(message) or '')[:255]}".strip()


def _snippet(body):
    text = bytes(body).decode("utf-8", "replace")
    return text[:200] + ("…" if len(text) > 200 else "")
