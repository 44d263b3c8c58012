// JSON whose numbers keep what serde_json makes of them. The Rust twin reads the partner's
// numbers as serde_json `Number`s: an integer stays an integer (`20000`), anything with a
// fraction or an exponent is an f64 printed the way Rust prints it (`15000.0`, `1308.44`). A
// premium read as `15000.0` is shown as `15000.0` there, where JavaScript's JSON.parse keeps no
// trace of the `.0`; so numbers are parsed here into `Num`s that remember which kind they were,
// and are written back the same way.

/** A JSON number as serde_json holds it: an integer, or a float. */
export class Num {
  constructor(
    readonly value: number,
    readonly float: boolean,
    /** An integer's digits as written (exact beyond 2^53). */
    private readonly digits?: string,
  ) {}

  /** As serde_json's `Number` displays it. */
  toString(): string {
    return this.float ? rustFloat(this.value) : (this.digits ?? String(this.value));
  }

  toJSON(): string {
    return `${MARK}${this.toString()}${MARK}`;
  }
}

const MARK = '\u0001num\u0001';
const NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

/**
 * `text` as a serde_json `Number` (the JSON number grammar, nothing around it), or undefined.
 * serde_json refuses a number beyond f64 ("number out of range"): `1e400` is no number, where
 * JavaScript reads it as Infinity (and `JSON.stringify` then writes `null`).
 */
export function parseNumber(text: string): Num | undefined {
  if (!NUMBER.test(text)) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value)) return undefined;
  const integer = !/[.eE]/.test(text);
  // serde_json holds an integer beyond u64/i64 as an f64.
  if (integer && (BigInt(text) > 18446744073709551615n || BigInt(text) < -9223372036854775808n)) {
    return new Num(value, true);
  }
  return integer ? new Num(value, false, text.replace(/^-0$/, '0')) : new Num(value, true);
}

/**
 * Parses JSON, every number a `Num`. Throws a SyntaxError on text that is not JSON, and on a
 * number beyond f64, which serde_json refuses with the whole document.
 */
export function parse(text: string): unknown {
  // Numbers outside strings become marked strings before JSON.parse, and Nums after it.
  const tokens = /"(?:[^"\\\u0000-\u001f]|\\.)*"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/g;
  const marked = text.replace(tokens, (token) => (token.startsWith('"') ? token : JSON.stringify(MARK + token)));
  return JSON.parse(marked, (_key, value) => {
    if (typeof value !== 'string' || !value.startsWith(MARK)) return value;
    const n = parseNumber(value.slice(MARK.length));
    if (n === undefined) throw new SyntaxError(`number out of range: ${value.slice(MARK.length)}`);
    return n;
  });
}

/** Rust's `str::trim`: Unicode White_Space (with U+0085, without the U+FEFF JavaScript's trims). */
export function rustTrim(text: string): string {
  return text.replace(/^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g, '');
}

const F64 = /^[+-]?(?:inf|infinity|nan|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)$/i;

/**
 * `text` as Rust's `str::parse::<f64>` reads it, or undefined where Rust fails: JavaScript's
 * `Number` makes 0 of `""`, `" "`, `"0x0"` and `"0b0"`, which are no f64 to Rust.
 */
export function rustF64(text: string): number | undefined {
  if (!F64.test(text)) return undefined;
  const word = text.replace(/^[+-]/, '').toLowerCase();
  const sign = text.startsWith('-') ? -1 : 1;
  if (word === 'nan') return NaN;
  if (word === 'inf' || word === 'infinity') return sign * Infinity;
  return Number(text);
}

/** JSON text with every `Num` written as serde_json writes it. */
export function stringify(value: unknown): string {
  const marked = JSON.stringify(value);
  const escaped = JSON.stringify(MARK).slice(1, -1);
  return marked.split(`"${escaped}`).map((part, i) => {
    if (i === 0) return part;
    const end = part.indexOf(`${escaped}"`);
    return part.slice(0, end) + part.slice(end + escaped.length + 1);
  }).join('');
}

/**
 * An f64 as Rust's `Display` through serde_json (the `ryu` crate) writes it: the shortest digits
 * that read back the same value, a `.0` on whole numbers, an exponent below 1e-5 or from 1e16.
 */
export function rustFloat(x: number): string {
  if (!Number.isFinite(x)) return 'null';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mantissa, exp] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const length = digits.length;
  const k = Number(exp) - (length - 1); // value = digits × 10^k
  const kk = length + k; // where the point falls
  if (k >= 0 && kk <= 16) return `${sign}${digits}${'0'.repeat(k)}.0`;
  if (kk > 0 && kk <= 16) return `${sign}${digits.slice(0, kk)}.${digits.slice(kk)}`;
  if (kk > -5 && kk <= 0) return `${sign}0.${'0'.repeat(-kk)}${digits}`;
  const e = kk - 1;
  return length === 1 ? `${sign}${digits}e${e}` : `${sign}${digits[0]}.${digits.slice(1)}e${e}`;
}
