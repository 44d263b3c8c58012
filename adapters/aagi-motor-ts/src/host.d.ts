// The host's imports (wit/2.0.0 http.wit and config.wit), as componentize-js binds them: an
// import's `result` error is thrown (as the error value, or an Error carrying it in `payload`).

declare module 'panelgate:adapter/http@2.0.0' {
  export function send(request: import('./contract.js').HttpRequest): import('./contract.js').HttpResponse;
}

declare module 'panelgate:adapter/config@2.0.0' {
  export function get(key: string): string | undefined;
}

// The engine's (StarlingMonkey's) text codecs; `lib` names no DOM, so they are declared here.
declare class TextEncoder {
  encode(input: string): Uint8Array;
}
declare class TextDecoder {
  decode(input: Uint8Array): string;
}
