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
