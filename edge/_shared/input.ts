/**
 * The formats of client input every function shares, bounded to what
 * PostgreSQL stores and what makes sense for a store, so bad input is a 400
 * naming the field before any query runs (never a 500 from a class 22
 * SQLSTATE): calendar dates, timestamps, whole numbers, encoded tokens, path
 * segments. Text lives in text.ts. Plain zod, no runtime-specific import: the local
 * stack (dev/stack) uses the path decoder too.
 */
import { z } from 'zod';
import { storableString } from './text.ts';

// ---------------------------------------------------------------------------
// Whole numbers

/** PostgreSQL's `integer`. */
export const INT_MIN = -2147483648;
export const INT_MAX = 2147483647;

/**
 * A whole number between `min` and `max` (default PostgreSQL's `integer`),
 * checked before any arithmetic: no fraction, NaN, infinity, or a value the
 * column cannot hold. `-0` is 0.
 */
export const wholeNumber = (min = INT_MIN, max = INT_MAX) =>
  z.number('a number').int('a whole number').min(min, `at least ${min}`).max(max, `at most ${max}`).transform((n) => n + 0);

/**
 * The same, written in a query string or a path: optional minus sign and
 * digits only (so no exponent, `NaN`, `Infinity`, hex or blank), within
 * bounds.
 */
export const wholeNumberText = (min = INT_MIN, max = INT_MAX) =>
  z.string().regex(/^-?\d{1,16}$/, 'a whole number (digits only)').transform(Number).pipe(wholeNumber(min, max));

/**
 * MercadoPago's payment id in a path or a query: digits, from 1 to 2^53 - 1
 * (a `bigint` in the database, a number in JavaScript, both exact), as a
 * string without leading zeros.
 */
export const paymentIdText = () => wholeNumberText(1, Number.MAX_SAFE_INTEGER).transform(String);

// ---------------------------------------------------------------------------
// Dates and timestamps

/**
 * Years PostgreSQL and JavaScript read alike: PostgreSQL has no year 0
 * (`0000-01-01` is SQLSTATE 22008) and ISO 8601's four digits stop at 9999.
 */
const FIRST_YEAR = 1;
const LAST_YEAR = 9999;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function dateFromIso(s: string): Date | undefined {
  const m = DATE.exec(s);
  if (!m) return undefined;
  const d = new Date(0);
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return d.toISOString().slice(0, 10) === s ? d : undefined;
}

function inYears(d: Date): boolean {
  const y = d.getUTCFullYear();
  return y >= FIRST_YEAR && y <= LAST_YEAR;
}

/** `YYYY-MM-DD`, a real calendar day from 0001-01-01 to 9999-12-31. */
export function isCalendarDate(s: string): boolean {
  const d = dateFromIso(s);
  return d !== undefined && inYears(d);
}

export const calendarDate = () =>
  z.string().regex(DATE, 'a date as YYYY-MM-DD').refine(isCalendarDate, 'not a calendar date between 0001-01-01 and 9999-12-31');

/** `date` moved by `days`; undefined when that leaves 0001..9999 (a default range must be as storable as a given one). */
export function addDays(date: string, days: number): string | undefined {
  const d = dateFromIso(date);
  if (!d) return undefined;
  d.setUTCDate(d.getUTCDate() + days);
  return inYears(d) ? d.toISOString().slice(0, 10) : undefined;
}

/**
 * A report's `from` and `to` query dates (with `extra` parameters). Without
 * `from` the range is the `days` days up to `to` (`rangeStart`); a `to` so
 * early that this start would fall before 0001-01-01 is refused, naming
 * `from`, as a given one would be.
 */
export const dateRangeQuery = <S extends z.ZodRawShape>(days: number, extra: S) =>
  z.strictObject({ from: calendarDate().optional(), to: calendarDate().optional(), ...extra }).refine(
    (q) => {
      const { from, to } = q as { from?: string; to?: string };
      return from !== undefined || to === undefined || rangeStart(to, days) !== undefined;
    },
    { path: ['from'], message: `give from: the ${days} days up to to start before 0001-01-01` },
  );

/** The first day of the `days` days ending on `to`; undefined before 0001-01-01. */
export const rangeStart = (to: string, days: number) => addDays(to, 1 - days);

/**
 * The offsets in use on Earth (UTC-12:00 to UTC+14:00); PostgreSQL refuses
 * beyond ±15:59 (SQLSTATE 22009).
 */
const MAX_OFFSET_WEST_MINUTES = 12 * 60;
const MAX_OFFSET_EAST_MINUTES = 14 * 60;

/** ISO 8601 with an explicit offset and at most microseconds (PostgreSQL's precision). */
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(\.\d{1,6})?(Z|([+-])(\d{2}):(\d{2}))$/;

/** A `timestamptz` as JSON carries it: a calendar date in 0001..9999, a valid time, an offset from -12:00 to +14:00. */
export function isTimestamp(s: string): boolean {
  const m = TIMESTAMP.exec(s);
  if (!m || !isCalendarDate(m[1]!)) return false;
  if (m[6] !== 'Z') {
    const minutes = Number(m[8]) * 60 + Number(m[9]);
    if (Number(m[9]) > 59 || minutes > (m[7] === '-' ? MAX_OFFSET_WEST_MINUTES : MAX_OFFSET_EAST_MINUTES)) return false;
  }
  // The same instant in UTC must stay within the years too.
  const utc = new Date(Date.parse(s.replace(/(\.\d{3})\d+/, '$1')));
  return !Number.isNaN(utc.getTime()) && inYears(utc);
}

export const timestamp = () => z.string().refine(isTimestamp, 'a timestamp such as 2026-12-01T10:00:00Z (years 0001-9999, offsets -12:00 to +14:00)');

// ---------------------------------------------------------------------------
// Opaque tokens

/** base64url(JSON) of `value` (ASCII JSON, such as a keyset cursor). */
export function encodeBase64urlJson(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * A parameter carrying base64url(JSON) of `inner` (a page cursor): decoded
 * and validated by `inner`, so an issue names the field inside
 * (`cursor.created_at`). Declared as such in JSON Schema's terms
 * (`contentEncoding`, `contentSchema`) for the reader and the route walker.
 */
export function base64urlJson<T extends z.ZodType>(inner: T, max: number) {
  const outer = storableString(max).meta({
    contentEncoding: 'base64url',
    contentMediaType: 'application/json',
    contentSchema: z.toJSONSchema(inner, { io: 'input', unrepresentable: 'any' }),
  });
  return outer.transform((s, ctx): unknown => {
    try {
      return JSON.parse(atob(s.replace(/-/g, '+').replace(/_/g, '/')));
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not a value this API gave out (base64url JSON)' });
      return z.NEVER;
    }
  }).pipe(inner);
}

// ---------------------------------------------------------------------------
// Path segments

/**
 * One percent-encoded path segment, decoded; undefined when its encoding is
 * malformed (`%`, `%E0%A4%A`, an encoded lone surrogate), where
 * `decodeURIComponent` would throw.
 */
export function decodePathSegment(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}
