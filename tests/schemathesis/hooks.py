"""Schemathesis checks for panelgate, loaded with SCHEMATHESIS_HOOKS=hooks.

`not_a_host_error` is schemathesis' `not_a_server_error` with the one 5xx the API promises for a
schema-valid request: 501, when the panel's adapter does not implement the operation (the
adapter is then not called). Every other 5xx fails, and so does any 5xx outside the API's error
shape.
"""

import schemathesis


@schemathesis.check
def not_a_host_error(ctx, response, case):
    status = response.status_code
    if status < 500:
        return None
    body = response.json() if response.content else None
    code = (body or {}).get("error", {}).get("code") if isinstance(body, dict) else None
    if status == 501 and code == "unsupported_operation":
        return None
    raise AssertionError(f"the host answered {status} ({code}): {response.text[:300]}")


# `PUT` and `DELETE /admin/panels/{panel}` change the running demo: a fuzzed removal of `A03`
# would leave the phases after it (and the demo) without a panel they need. Every panel id they
# are given is moved into a namespace of the fuzzer's own, `fuzz-...`, which no demo panel
# uses: the fuzzer still adds, changes and removes panels, only its own.
FUZZ_PANEL_PREFIX = "fuzz-"


@schemathesis.hook
def before_call(ctx, case, kwargs):
    operation = case.operation
    if operation.path != "/admin/panels/{panel}" or operation.method.upper() not in ("PUT", "DELETE"):
        return
    # Edited in place: schemathesis sends the case's parameters as they are after this hook.
    parameters = case.path_parameters
    if parameters is None:
        return
    panel = str(parameters.get("panel", ""))
    if not panel.startswith(FUZZ_PANEL_PREFIX):
        parameters["panel"] = FUZZ_PANEL_PREFIX + panel
