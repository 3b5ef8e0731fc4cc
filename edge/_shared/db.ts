/**
 * Database access for the functions, acting as service_role.
 *
 * The connection is the one the function is given (CHECKOUT_DB_URL: on hosted
 * Supabase the pooler's transaction-mode URL; or SUPABASE_DB_URL, direct).
 * Behind a transaction pooler no session state survives between
 * transactions, so nothing here relies on it: every call is ONE simple-query
 * message, `set local role service_role; select <routine>(...)`, which
 * Postgres runs as one implicit transaction. The role is dropped for exactly
 * that transaction (a failure to drop it fails the call), the routine's locks
 * are released when the message completes (no lock is held across a round
 * trip), and no prepared statement is left on a pooled server connection.
 *
 * The simple protocol takes no parameters, so values are written as
 * literals with pg's own escapeLiteral (standard_conforming_strings is on in
 * every supported Postgres). Text Postgres cannot store (a NUL character) is
 * refused here as bad input.
 */
import pg from 'pg';
import { MAPPED_SQLSTATES } from './contract.ts';
import { HttpError } from './http.ts';

export interface Db {
  /**
   * One statement with `$n` placeholders (or a check and one statement,
   * `asUser`), in its own transaction, as service_role; the last
   * statement's rows. The statement text must be a constant of ours (placeholders
   * are replaced textually); values are the caller's.
   */
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

/**
 * `sql` acting for a signed-in user, preceded in the same transaction by
 * `checkout.require_user`: the unexpired token of a user deleted since is
 * SQLSTATE CKA03 (401), never a foreign-key error (500), and nothing is
 * written for a user who is gone. Spread into `Db.query`.
 */
export function asUser(userId: string, sql: string, params: unknown[] = []): [string, unknown[]] {
  return [`select checkout.require_user($${params.length + 1}::uuid); ${sql}`, [...params, userId]];
}

/** A value as a SQL literal: null, a quoted string, or a quoted JSON document for objects. */
function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' || typeof value === 'bigint') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new HttpError(400, 'invalid_input', 'numbers must be finite');
    return pg.escapeLiteral(String(value));
  }
  if (hasNul(value)) throw new HttpError(400, 'invalid_input', 'text must not contain NUL characters');
  return pg.escapeLiteral(typeof value === 'string' ? value : JSON.stringify(value));
}

/** Whether a string, or any string in a JSON value, holds a NUL (the query text cannot carry one, jsonb refuses \\u0000). */
function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (Array.isArray(value)) return value.some(hasNul);
  if (typeof value === 'object' && value !== null) return Object.entries(value).some(([k, v]) => k.includes('\0') || hasNul(v));
  return false;
}

/** Replaces $1..$n with literals. */
function inlineParams(sql: string, params: unknown[] = []): string {
  return sql.replace(/\$(\d+)/g, (_, n: string) => {
    const i = Number(n) - 1;
    if (i < 0 || i >= params.length) throw new Error(`no value for $${n}`);
    return sqlLiteral(params[i]);
  });
}

export function createDb(url: string, opts: { max?: number } = {}): Db {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 3, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 10_000 });
  // An idle client losing its connection must not crash the function.
  pool.on('error', () => undefined);
  return {
    async query<R>(sql: string, params?: unknown[]) {
      try {
        const text = `set local role service_role; ${inlineParams(sql, params)}`;
        const results = (await pool.query(text)) as unknown as pg.QueryResult[] | pg.QueryResult;
        const last = Array.isArray(results) ? results[results.length - 1] : results;
        return (last?.rows ?? []) as R[];
      } catch (err) {
        throw mapDbError(err);
      }
    },
    close: () => pool.end(),
  };
}

interface PgError {
  code?: string;
  message?: string;
  detail?: string;
}

function parseDetail(detail: string | undefined): Record<string, unknown> {
  if (!detail) return {};
  try {
    const value: unknown = JSON.parse(detail);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function mapDbError(err: unknown): Error {
  if (err instanceof HttpError) return err;
  const e = (err ?? {}) as PgError & { errno?: string; name?: string };
  const code = e.code ?? '';
  // Our SQLSTATEs and the text ones, as the contract maps them; connection trouble to 503; anything else to 500.
  const known = MAPPED_SQLSTATES[code];
  if (known) return new HttpError(known.status, known.error, e.message ?? known.error, parseDetail(e.detail));
  const connectionTrouble = /^(08|53|57P0)/.test(code) ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'].includes(code) ||
    /connect|terminat|timeout|Connection/i.test(e.message ?? '');
  if (connectionTrouble) return new HttpError(503, 'database_unavailable', 'the database is unavailable, try again');
  return new HttpError(500, 'internal', 'unexpected database error', { sqlstate: code || undefined });
}
