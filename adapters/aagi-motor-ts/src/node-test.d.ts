// The little of Node's test runner the native tests use (`npm test`), declared here rather than
// pulling in @types/node for two functions.

declare module 'node:test' {
  export function test(name: string, body: () => void): void;
}

declare module 'node:assert/strict' {
  interface Assert {
    equal(actual: unknown, expected: unknown, message?: string): void;
    ok(value: unknown, message?: string): asserts value;
    throws(body: () => unknown, error?: unknown): void;
  }
  const assert: Assert;
  export default assert;
}
