// Native tests of what JavaScript does not give for free: numbers as serde_json holds and
// writes them (`npm test`, Node's own test runner; the fixtures test the rest in the sandbox).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Num, parse, parseNumber, rustF64, rustFloat, rustTrim, stringify } from './json.js';

test('a float prints as Rust prints an f64, an integer as written', () => {
  assert.equal(rustFloat(15000), '15000.0');
  assert.equal(rustFloat(1308.44), '1308.44');
  assert.equal(rustFloat(0.5), '0.5');
  assert.equal(rustFloat(0.0001), '0.0001');
  assert.equal(rustFloat(0.00001), '0.00001');
  assert.equal(rustFloat(0.000001), '1e-6');
  assert.equal(rustFloat(1e16), '1e16');
  assert.equal(rustFloat(1234567890123456), '1234567890123456.0');
  assert.equal(rustFloat(-2.5), '-2.5');
  assert.equal(parseNumber('20000')?.toString(), '20000');
  assert.equal(parseNumber('20000.0')?.toString(), '20000.0');
  assert.equal(parseNumber('1e3')?.toString(), '1000.0');
});

test('only the JSON number grammar is a number', () => {
  for (const text of ['', ' 1', '+1', '01', '1.', '.5', '0x10', 'Infinity', '1e']) {
    assert.equal(parseNumber(text), undefined, text);
  }
});

test('numbers keep their kind through parse and stringify, strings are untouched', () => {
  const value = parse('{"a": 645.0, "b": [1, -2.50], "c": "7 and 8.0", "d": null}') as Record<string, unknown>;
  assert.ok(value.a instanceof Num && value.a.float);
  assert.equal(String(value.a), '645.0');
  assert.equal(value.c, '7 and 8.0');
  assert.equal(stringify(value), '{"a":645.0,"b":[1,-2.5],"c":"7 and 8.0","d":null}');
  assert.throws(() => parse('{"a": 1,}'), SyntaxError);
});

test('a number beyond f64 is no number, as serde_json refuses it', () => {
  assert.equal(parseNumber('1e400'), undefined);
  assert.equal(parseNumber(`1${'0'.repeat(400)}`), undefined);
  assert.equal(parseNumber('1e-400')?.toString(), '0.0');
  assert.throws(() => parse('{"grossPremium": 1e400}'), SyntaxError);
});

test("text is read as Rust's trim and parse::<f64> read it", () => {
  for (const text of ['', ' ', '0x0', '0b0', '0o0', '.', 'e5', '1e', '1_000']) {
    assert.equal(rustF64(text), undefined, text);
  }
  for (const [text, value] of [['0', 0], ['-0', 0], ['+0', 0], ['0.', 0], ['.0', 0], ['1.e2', 100], ['1E2', 100]] as const) {
    // `===`, as the mapping compares: -0 is 0 there, as -0.0 == 0.0 in Rust.
    assert.ok(rustF64(text) === value, text);
  }
  assert.equal(rustF64('-Infinity'), -Infinity);
  assert.ok(Number.isNaN(rustF64('NaN')));
  assert.equal(rustTrim('\u0085 0 \u3000'), '0');
  assert.equal(rustTrim('\ufeff0'), '\ufeff0');
});
