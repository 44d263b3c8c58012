"""panelgate adapter for MNC Desk Coll, written in Python: it proves a partner can author an
adapter in its own language against the same WIT package (componentize-py builds it).

The component's only doors out are panelgate's imports: http.send (the host applies the Basic
credential) and credentials.digest (the host computes sha256(account_no + HashKey) with a key
this code never sees).
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import config, credentials, http
from wit_world.imports import types as t

import mapping


def _setting(key):
    value = config.get(key)
    if value is None:
        raise mapping.protocol(f"the panel has no `{key}` setting")
    return value


def _send(method, path, body):
    request = http.Request(
        method=method,
        url=mapping.url(_setting("base-url"), _setting(path)),
        headers=[t.Pair("accept", "application/json")],
        body=body,
        credential="partner",
    )
    try:
        return http.send(request)
    except Err as e:
        error = e.value
        if isinstance(error, http.HttpError_Timeout):
            raise Err(t.AdapterError_PartnerTimeout(error.value))
        if isinstance(error, http.HttpError_Connect):
            raise Err(t.AdapterError_PartnerUnavailable(error.value))
        raise mapping.protocol(f"the host refused the call: {error}")


class Operations(exports.Operations):
    def describe(self):
        return mapping.description()

    def poll(self, request):
        if request.kind not in mapping.TASK_KINDS:
            raise mapping.invalid([("kind", "Desk Coll has one worklist: `collection-tasks`")])
        response = _send(http.Method.GET, "tasks-path", http.RequestBody_Empty())
        return mapping.work_items(response.status, response.body)

    def notify(self, notification):
        if not isinstance(notification, t.Notification_CollectionResult):
            raise mapping.invalid([("", "Desk Coll takes `collection_result` notifications only")])
        result = notification.value
        try:
            hashing = credentials.digest("hash-key", credentials.DigestAlgorithm.SHA256_DATA_THEN_KEY, result.contract)
        except Err as e:
            raise mapping.protocol(f"hashing: {e.value}")
        body = mapping.result_body(result, hashing)
        response = _send(http.Method.POST, "results-path", http.RequestBody_Json(json.dumps(body)))
        return mapping.receipt(response.status, response.body)

    def quote(self, request):
        raise mapping.unsupported("quote")

    def accept(self, application):
        raise mapping.unsupported("accept")

    def upload_document(self, document):
        raise mapping.unsupported("upload-document")

    def confirm(self, confirmation):
        raise mapping.unsupported("confirm")

    def cancel(self, cancellation):
        raise mapping.unsupported("cancel")

    def claim(self, claim):
        raise mapping.unsupported("claim")

    def status(self, case):
        raise mapping.unsupported("status")

    def policy_document(self, case):
        raise mapping.unsupported("policy-document")

    def handle_callback(self, callback):
        raise mapping.unsupported("handle-callback")

    def look_up(self, request):
        raise mapping.unsupported("lookup")

    def validate(self, request):
        raise mapping.unsupported("validate")

    def decline_quote(self, request):
        raise mapping.unsupported("decline-quote")

    def quote_change(self, request):
        raise mapping.unsupported("quote-change")

    def change(self, request):
        raise mapping.unsupported("change")

    def quote_cancellation(self, cancellation):
        raise mapping.unsupported("quote-cancellation")
