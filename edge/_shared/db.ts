/**
 * Database access for the functions: the connection Supabase gives them
 * (SUPABASE_DB_URL), acting as service_role. Database errors become
 * HttpErrors with the status the client should see.
 */
import pg from 'pg';
import { HttpError } from './http.ts';

export interface Db {
  /**
   * One statement, in its own transaction, as service_role: each checkout
   * routine is a single call, so no lock it takes is held across a round
   * trip to this function.
   */
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

export function createDb(url: string, opts: { max?: number } = {}): Db {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 5, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 10_000 });
  // Every connection acts as service_role, the only role that may execute
  // the checkout routines (the URL Supabase gives is the postgres role's).
  pool.on('connect', (client: pg.PoolClient) => {
    client.query('set role service_role').catch(() => undefined);
  });
  // An idle client losing its connection must not crash the function.
  pool.on('error', () => undefined);
  return {
    async query(sql, params) {
      try {
        return (await pool.query(sql, params)).rows;
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

/** Our SQLSTATEs (see README) to HTTP; connection trouble to 503; anything else to 500. */
const SQLSTATE_TO_HTTP: Record<string, [number, string]> = {
  CKS01: [409, 'insufficient_stock'],
  CKC01: [409, 'empty_cart'],
  CKM01: [409, 'mixed_currency'],
  CKV01: [409, 'variant_unavailable'],
  CKQ01: [400, 'invalid_quantity'],
  CKP01: [422, 'coupon_unknown'],
  CKP02: [422, 'coupon_not_applicable'],
  CKP03: [409, 'coupon_used_up'],
  CKI01: [400, 'invalid_input'],
  CKO01: [404, 'not_found'],
  CKO02: [409, 'conflict'],
};

export function mapDbError(err: unknown): Error {
  if (err instanceof HttpError) return err;
  const e = (err ?? {}) as PgError & { errno?: string; name?: string };
  const code = e.code ?? '';
  const known = SQLSTATE_TO_HTTP[code];
  if (known) return new HttpError(known[0], known[1], e.message ?? known[1], parseDetail(e.detail));
  const connectionTrouble = /^(08|53|57P0)/.test(code) ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'].includes(code) ||
    /connect|terminat|timeout|Connection/i.test(e.message ?? '');
  if (connectionTrouble) return new HttpError(503, 'database_unavailable', 'the database is unavailable, try again');
  return new HttpError(500, 'internal', 'unexpected database error', { sqlstate: code || undefined });
}
