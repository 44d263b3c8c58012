// panelgate adapter for the AAGI (Allianz Ayudhya General Insurance) motor web service, in
// TypeScript: quick quotes, contracts (issue or verify), policy information and cancellation.
// The twin of adapters/aagi-motor (Rust): the same operations, settings and mapping, tested
// against the same fixtures (adapters/aagi-motor/fixtures). Spec decisions are in that crate's
// README; this file is its lib.rs, the thin layer that touches the host.

import { get } from 'panelgate:adapter/config@2.0.0';
import { send } from 'panelgate:adapter/http@2.0.0';

import type * as c from './contract.js';
import * as json from './json.js';
import * as m from './mapping.js';
import * as wire from './partner.js';

const VERSION = '2.0.0';

function setting(key: string): string | undefined {
  return get(key) ?? undefined;
}

function requiredSetting(key: string): string {
  return setting(key) ?? m.protocol(`the panel has no \`${key}\` setting`);
}

/**
 * The panel credential applied to every call, named by the optional `credential` setting. The
 * spec names no authentication, so by default none is asked for and requests go out as the
 * adapter makes them; a gateway in front of the API may take one (the panel's choice of kind).
 */
function credential(): string | undefined {
  return setting('credential');
}

function endpoint(path: string): string {
  return `${requiredSetting('base-url').replace(/\/+$/, '')}/v1/motor/${path}`;
}

/** A transport failure as the matching adapter-error (the SDK's `transport_error`). */
function transportError(thrown: unknown): c.AdapterError {
  const e = (thrown as { payload?: unknown })?.payload ?? thrown;
  const error = e as c.HttpError;
  switch (error?.tag) {
    case 'timeout': return { tag: 'partner-timeout', val: error.val };
    case 'connect': return { tag: 'partner-unavailable', val: error.val };
    case 'denied': return { tag: 'partner-protocol', val: `outbound call denied by the host: ${error.val}` };
    case 'unknown-credential': return { tag: 'partner-protocol', val: `credential not configured: ${error.val}` };
    case 'too-large': return { tag: 'partner-protocol', val: `response larger than the panel's cap (${error.val} bytes)` };
    case 'protocol': return { tag: 'partner-protocol', val: error.val };
    default: return { tag: 'partner-protocol', val: `the host's http.send failed: ${String(thrown)}` };
  }
}

function call(method: c.Method, url: string, body: c.RequestBody): c.HttpResponse {
  try {
    return send({
      method,
      url,
      headers: [{ name: 'accept', value: 'application/json' }],
      body,
      credential: credential(),
    });
  } catch (thrown) {
    return m.fail(transportError(thrown));
  }
}

/** The body as JSON, or undefined when it is not JSON. */
function parsed(body: Uint8Array): unknown {
  try {
    return json.parse(new TextDecoder().decode(body));
  } catch {
    return undefined;
  }
}

/** A 2xx answer read as `read` says, or the failure it means. */
function decode<T>(response: c.HttpResponse, read: (value: unknown) => T): T {
  const body = parsed(response.body);
  if (response.status < 200 || response.status >= 300) {
    let error: wire.ErrorBody | undefined;
    try {
      error = body === undefined ? undefined : wire.readErrorBody(body);
    } catch {
      error = undefined;
    }
    return m.fail(m.failure(response.status, response.body, error));
  }
  try {
    if (body === undefined) throw new wire.ShapeError('not JSON');
    return read(body);
  } catch (e) {
    return m.protocol(`HTTP ${response.status} with a body that is not the expected JSON (${(e as Error).message}): ${m.snippet(response.body)}`);
  }
}

function post<T>(path: string, body: unknown, read: (value: unknown) => T): T {
  const url = endpoint(path);
  return decode(call('post', url, { tag: 'json', val: json.stringify(body) }), read);
}

function contractId(kase: c.CaseRef): string {
  const found = kase.references.find((r) => r.kind === m.CONTRACT_ID);
  return found ? found.value : m.fail({ tag: 'conflict', val: `case \`${kase.id}\` has no AAGI contract` });
}

function unsupported(operation: string): never {
  return m.fail({ tag: 'unsupported', val: `this adapter does not implement \`${operation}\`` });
}

export const operations = {
  describe(): c.Description {
    return {
      name: 'aagi-motor-ts',
      version: VERSION,
      spec: 'AAGI motor web service (quick quotes, contracts, amendments)',
      operations: ['quote', 'accept', 'status', 'cancel'],
      configKeys: [
        { name: 'base-url', description: 'the API gateway root; paths are /v1/motor/...', required: true },
        {
          name: 'credential',
          description: 'the panel credential the gateway takes, applied to every call; '
            + 'the spec names none, so none is sent by default',
          required: false,
        },
      ],
      // The spec names no authentication: no credential is needed (see `credential`).
      credentials: [],
      callbacks: [],
      lookups: [],
      // No operation takes or returns `extensions` (the main driver is a `driver` party): the
      // host refuses a portal's (422).
      extensions: [],
    };
  },

  quote(request: c.QuoteRequest): c.Quotation {
    const body = m.quickQuote(request);
    return m.quotation(post('quickquotes', body, wire.readQuickQuote));
  },

  accept(application: c.Application): c.Acceptance {
    const body = m.contract(application);
    return m.acceptance(post('contracts', body, wire.readContractInfo), application.mode);
  },

  status(kase: c.CaseRef): c.StatusReport {
    const id = contractId(kase);
    const url = endpoint(`contracts/${id}`);
    return m.statusReport(decode(call('get', url, { tag: 'empty' }), wire.readContractInfo), id);
  },

  cancel(cancellation: c.Cancellation): c.CancelResult {
    const body = m.amendment(cancellation);
    const id = contractId(cancellation.case);
    const result = post(`contracts/${id}/amendments`, body, wire.readAmendmentResult);
    if (result.status !== 'SUCCESS') {
      return m.fail({ tag: 'rejected', val: { code: result.status, message: 'the cancellation was not accepted' } });
    }
    return {
      status: 'cancelled',
      // AAGI 5.4: the amendment returns no refund.
      refund: undefined,
      awaitingApproval: false,
      message: `cancelled on ${result.effectiveDate ?? ''}; endorsement ${result.policyNumber ?? ''}`,
      extensions: undefined,
    };
  },

  uploadDocument() { return unsupported('upload-document'); },
  confirm() { return unsupported('confirm'); },
  claim() { return unsupported('claim'); },
  policyDocument() { return unsupported('policy-document'); },
  handleCallback() { return unsupported('handle-callback'); },
  lookUp() { return unsupported('lookup'); },
  poll() { return unsupported('poll'); },
  notify() { return unsupported('notify'); },
  validate() { return unsupported('validate'); },
  declineQuote() { return unsupported('decline-quote'); },
  quoteChange() { return unsupported('quote-change'); },
  change() { return unsupported('change'); },
  quoteCancellation() { return unsupported('quote-cancellation'); },
};
