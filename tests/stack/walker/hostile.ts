/**
 * The hostile values the route walker sends, by where they go (a path
 * segment, a query value, a JSON value, a whole body, a header), and a
 * seeded random source to sample them, so a run is reproducible: the same
 * seed sends the same requests.
 */

/** mulberry32: a small, seeded, good-enough PRNG. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` distinct items of `items`, drawn with `random` (all of them when there are fewer). */
export function sample<T>(items: readonly T[], n: number, random: () => number): T[] {
  const pool = [...items];
  const out: T[] = [];
  while (out.length < n && pool.length) out.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
  return out;
}

export interface Hostile<T> {
  label: string;
  value: T;
  /** Dates are also sent to a query parameter on its own, where a range's defaults are computed from them. */
  kind?: 'date' | 'number';
  /** Sent to every parameter (the rest are sampled), as are dates to a query parameter. */
  always?: boolean;
  /** Text PostgreSQL cannot store (a NUL, an unpaired surrogate): never to be answered 2xx where a route reads it. */
  unstorable?: boolean;
}

const LONG = 'x'.repeat(10_000);

/** Values for a path segment or a query value, already percent-encoded as they go on the wire. */
export const HOSTILE_URL_TEXT: Hostile<string>[] = [
  { label: 'lone %', always: true, value: '%' },
  { label: 'truncated UTF-8 escape', always: true, value: '%E0%A4%A' },
  { label: 'escape of invalid UTF-8', always: true, value: '%FF%FE' },
  { label: 'encoded NUL', always: true, value: '%00', unstorable: true },
  // (A query decodes it to U+FFFD, a character; a path segment refuses it.)
  { label: 'encoded lone surrogate (CESU-8)', value: '%ED%A0%80' },
  { label: 'encoded slash', value: 'a%2Fb' },
  { label: '10k characters', always: true, value: LONG },
  { label: 'empty', value: '' },
  { label: 'the string null', value: 'null' },
  { label: 'year 0', kind: 'date', value: '0000-01-01' },
  { label: 'year 1', kind: 'date', value: '0001-01-01' },
  { label: 'year 10000', kind: 'date', value: '10000-01-01' },
  { label: 'February 30', kind: 'date', value: '2026-02-30' },
  { label: 'timestamp with offset +23:59', kind: 'date', value: '2026-01-01T00%3A00%3A00%2B23%3A59' },
  { label: 'timestamp in year 0', kind: 'date', value: '0000-01-01T00%3A00%3A00Z' },
  { label: '2^31', always: true, kind: 'number', value: '2147483648' },
  { label: '-2^31 - 1', kind: 'number', value: '-2147483649' },
  { label: '2^53 + 1', always: true, kind: 'number', value: '9007199254740993' },
  { label: '20 digits', kind: 'number', value: '99999999999999999999' },
  { label: '-0', always: true, kind: 'number', value: '-0' },
  { label: '1e400', always: true, kind: 'number', value: '1e400' },
  { label: 'NaN', kind: 'number', value: 'NaN' },
  { label: 'Infinity', kind: 'number', value: 'Infinity' },
  { label: 'hex', kind: 'number', value: '0x10' },
  { label: 'SQL', value: "'%3B%20select%20pg_sleep(1)%3B--" },
  { label: 'emoji', value: '%F0%9F%98%80' },
];

/** A JSON token written as it is into a body (numbers JavaScript cannot hold, deep nesting). */
export class RawJson {
  constructor(readonly text: string) {}
}

const nested = (depth: number) => new RawJson(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);

/** Values for a JSON field. */
export const HOSTILE_JSON: Hostile<unknown>[] = [
  { label: 'NUL', value: '\u0000', unstorable: true },
  { label: 'NUL inside text', always: true, value: 'ab\u0000cd', unstorable: true },
  { label: 'lone high surrogate', always: true, value: 'restock \ud800', unstorable: true },
  { label: 'lone low surrogate', value: '\udc00x', unstorable: true },
  { label: '10k characters', always: true, value: LONG },
  { label: 'empty string', value: '' },
  { label: 'null', always: true, value: null },
  { label: 'true', value: true },
  { label: 'empty array', always: true, value: [] },
  { label: 'array of objects', value: [{}, { a: 1 }] },
  { label: 'empty object', always: true, value: {} },
  { label: 'object', value: { a: 'b' } },
  { label: 'nested 200 deep', value: nested(200) },
  { label: 'nested 2,000 deep', always: true, value: nested(2_000) },
  // Deeper than PostgreSQL's JSON parser goes (stack depth, SQLSTATE 54001), within the functions' 64 KiB.
  { label: 'arrays 25,000 deep', always: true, value: new RawJson(`${'['.repeat(25_000)}${']'.repeat(25_000)}`) },
  { label: '2^31', always: true, value: 2147483648 },
  { label: '-2^31 - 1', value: -2147483649 },
  { label: '2^53 + 1', value: new RawJson('9007199254740993') },
  { label: '-0', value: new RawJson('-0') },
  { label: '1e400', always: true, value: new RawJson('1e400') },
  { label: '-1e400', value: new RawJson('-1e400') },
  { label: 'fraction', value: 1.5 },
  { label: 'the string 2^31', value: '2147483648' },
  { label: 'the string NaN', value: 'NaN' },
  { label: 'the string -0', value: '-0' },
  { label: 'year 0 date', value: '0000-01-01' },
  { label: 'year 10000 date', value: '10000-01-01' },
  { label: 'timestamp +23:59', value: '2026-01-01T00:00:00+23:59' },
  { label: 'timestamp in year 0', value: '0000-01-01T00:00:00Z' },
  { label: 'a uuid', value: '00000000-0000-4000-8000-000000000000' },
];

/** Whole bodies, as bytes on the wire. */
export const HOSTILE_BODIES: Hostile<string | Uint8Array>[] = [
  { label: 'empty', value: '' },
  { label: 'null', value: 'null' },
  { label: 'a string', value: '"text"' },
  { label: 'a number', value: '1e400' },
  { label: 'an array', value: '[]' },
  { label: 'an array of an object', value: '[{}]' },
  { label: 'truncated', value: '{"a":' },
  { label: 'not JSON', value: 'a=1&b=2' },
  { label: 'raw NUL', value: '{"a":"\u0000"}' },
  { label: 'escaped NUL key', value: '{"\\u0000":1}' },
  { label: 'lone surrogate key', value: '{"\\ud800":1}' },
  { label: 'invalid UTF-8', value: new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]) },
  { label: 'arrays 30,000 deep', value: `${'['.repeat(30_000)}${']'.repeat(30_000)}` },
  { label: 'objects 8,000 deep', value: nested(8_000).text },
  { label: '__proto__', value: '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}' },
  { label: 'duplicate keys', value: '{"a":1,"a":"\u0000"}' },
];

/** Values for a header (HTTP carries no NUL: its stand-ins are bytes and lengths). */
export const HOSTILE_HEADERS: Hostile<string>[] = [
  { label: '10k characters', value: LONG },
  { label: 'Latin-1 bytes', value: '\u00ff\u00fe\u00e9' },
  { label: 'percent junk', value: '%E0%A4%A' },
  { label: 'empty', value: '' },
  { label: 'Bearer of junk', value: 'Bearer %' },
  { label: 'Bearer of 10k', value: `Bearer ${LONG}` },
  { label: 'Bearer a.b.c', value: 'Bearer a.b.c' },
  { label: 'unsigned JWT', value: `Bearer ${b64('{"alg":"none"}')}.${b64('{"sub":"x","role":"service_role"}')}.` },
  { label: 'Basic', value: 'Basic Zm9vOmJhcg==' },
  { label: 'signature of junk', value: 'ts=1e400,v1=zz' },
  { label: 'signature with a huge ts', value: `ts=99999999999999999999,v1=${'0'.repeat(64)}` },
  { label: 'signature with many pairs', value: Array.from({ length: 500 }, (_, i) => `k${i}=v`).join(',') },
  { label: 'a date', value: '0000-01-01' },
];

function b64(s: string): string {
  return Buffer.from(s).toString('base64url');
}

/** JSON.stringify, writing each RawJson as its text. */
export function toJsonText(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof RawJson) {
      raws.push(v.text);
      return `\u0001raw${raws.length - 1}\u0001`;
    }
    return v;
  });
  return (text ?? '').replace(/"\\u0001raw(\d+)\\u0001"/g, (_m, i: string) => raws[Number(i)]!);
}
