/**
 * Text Postgres can store: no NUL (U+0000, refused by `text` and by `jsonb`
 * as SQLSTATE 22P05/22021) and no unpaired UTF-16 surrogate (not a Unicode
 * character; refused by `jsonb` as 22P02, and turned into U+FFFD by UTF-8
 * encoders, so it would be saved as something else than what was sent).
 * Every string a function accepts goes through `storableString`, with the
 * longest value it may hold, so such text is a 400 naming the field, never
 * a 500 from the database nor a silent replacement.
 */
import { z } from 'zod';

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const UNSTORABLE_TEXT_MESSAGE = 'contains a NUL character or an unpaired surrogate, which cannot be stored';

export function isStorableText(s: string): boolean {
  return !s.includes('\u0000') && !LONE_SURROGATE.test(s);
}

/**
 * `z.string()` that refuses text Postgres cannot store (checked before any
 * other rule) and anything longer than `max` UTF-16 code units.
 */
export const storableString = (max: number) =>
  z.string().refine(isStorableText, { message: UNSTORABLE_TEXT_MESSAGE, abort: true }).max(max, `at most ${max} characters`);
