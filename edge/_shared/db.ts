/**
 * Database access for the functions: the connection Supabase gives them
 * (SUPABASE_DB_URL), each call one transaction run as service_role, the only
 * role allowed to execute the checkout routines. Database errors become
 * HttpErrors with the status the client should see.
 */
import pg from 'pg';
import { HttpError } from './http.ts';

export type Query = <R = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<R[]>;

export interface Db {
  /** Runs fn in a transaction as service_role. */
  transaction<T>(fn: (query: Query) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export function createDb(url: string, opts: { max?: number } = {}): Db {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 5, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 10_000 });
  // An idle client losing its connection must not crash the function.
  pool.on('error', () => undefined);
  return {
    async transaction(fn) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw mapDbError(err);
      }
      let broken = false;
      try {
        await client.query('begin');
        await client.query('set local role service_role');
        const result = await fn(async (sql, params) => (await client.query(sql, params)).rows);
        await client.query('commit');
        return result;
      } catch (err) {
        await client.query('rollback').catch(() => {
          broken = true;
        });
        throw mapDbError(err);
      } finally {
        client.release(broken);
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
  const connectionTrouble =
    /^(08|53|57P0)/.test(code) ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'].includes(code) ||
    /connect|terminat|timeout|Connection/i.test(e.message ?? '');
  if (connectionTrouble) return new HttpError(503, 'database_unavailable', 'the database is unavailable, try again');
  return new HttpError(500, 'internal', 'unexpected database error', { sqlstate: code || undefined });
}
