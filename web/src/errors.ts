/**
 * Typed errors of the storefront library, and the mapping from what the
 * servers say (PostgREST errors with our SQLSTATEs, Edge Function JSON
 * errors, fetch failures) to them. Catch `StorefrontError` for everything;
 * switch on the subclass (or `code`) for what the shopper should be told.
 */
import { libraryClassFor, type SqlState, SQLSTATES } from '../../edge/_shared/contract.ts';
import { type ShortLine, shortLineSchema } from './types.ts';

export interface StorefrontErrorOptions {
  /** HTTP status, when the error came from an HTTP answer (0 = no answer). */
  status?: number;
  /** Server details (PostgREST `details`, the function's error body). */
  details?: unknown;
  cause?: unknown;
}

export class StorefrontError extends Error {
  /** Stable machine-readable code: a function's `error`, our SQLSTATE meaning, or the library's own. */
  readonly code: string;
  readonly status: number | undefined;
  readonly details: unknown;
  constructor(code: string, message: string, options: StorefrontErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status;
    this.details = options.details;
  }
}

export interface FieldIssue {
  /** Dotted path in the library's input (`payer.email`, `shippingAddress.zipCode`, `quantity`). */
  path: string;
  message: string;
}

/** Bad input: caught by the library's own validation or refused by the server (400, CKQ01, CKI01). */
export class ValidationError extends StorefrontError {
  readonly issues: FieldIssue[];
  constructor(message: string, issues: FieldIssue[], options: StorefrontErrorOptions & { code?: string } = {}) {
    super(options.code ?? 'validation_failed', message, options);
    this.issues = issues;
  }
  /** The first message for a field, for forms. */
  issueFor(path: string): string | undefined {
    return this.issues.find((i) => i.path === path)?.message;
  }
}

/** Not enough stock for one or more lines (CKS01 on a cart operation, 409 insufficient_stock at checkout). */
export class InsufficientStockError extends StorefrontError {
  readonly short: ShortLine[];
  constructor(message: string, short: ShortLine[], options: StorefrontErrorOptions = {}) {
    super('insufficient_stock', message, options);
    this.short = short;
  }
}

/** The order session's reservation ran out before a payment was approved: check out again. */
export class ReservationExpiredError extends StorefrontError {
  readonly expiresAt: string | undefined;
  constructor(message: string, options: StorefrontErrorOptions & { expiresAt?: string } = {}) {
    super('reservation_expired', message, options);
    this.expiresAt = options.expiresAt;
  }
}

/**
 * No shopper session (42501 / 401): sign in (anonymously) again. When the
 * anonymous sign-in itself was refused, `code` is Supabase Auth's:
 * `over_request_rate_limit` (too many sign-ins from this address) or
 * `captcha_failed` (missing or rejected CAPTCHA token).
 */
export class SessionRequiredError extends StorefrontError {
  constructor(message = 'No shopper session: sign in (anonymously) first.', options: StorefrontErrorOptions & { code?: string } = {}) {
    super(options.code ?? 'session_required', message, options);
  }
}

/** The server could not be reached or is temporarily unavailable (fetch failed, 503). Retrying may work. */
export class NetworkError extends StorefrontError {
  constructor(message = 'Could not reach the store server.', options: StorefrontErrorOptions & { code?: string } = {}) {
    super(options.code ?? 'network_error', message, options);
  }
}

/**
 * Sign-up or sign-in refused by Supabase Auth. `code` is Auth's error code:
 * `invalid_credentials`, `user_already_exists`, `email_exists`,
 * `weak_password`, `email_address_invalid`, `same_password`,
 * `already_signed_in` (signUp with an account session), `not_implemented`...
 */
export class AuthenticationError extends StorefrontError {}

/** An Auth error from supabase-js (`AuthApiError` and friends) as a library error. */
export function fromAuthError(error: { name?: string; message: string; status?: number; code?: string }): StorefrontError {
  if (error.name === 'AuthRetryableFetchError' || error.status === 0) return fromThrown(error);
  return new AuthenticationError(error.code ?? `http_${error.status ?? 0}`, error.message, { status: error.status ?? 0, cause: error });
}

/** Checkout refused for a business reason: empty cart, mixed currencies, unavailable variant, coupon problems, not yours. */
export class CheckoutError extends StorefrontError {}

/** A line of a hold over the per-product cap (CKH01). */
export interface HeldLine {
  variant_id?: string;
  sku?: string;
  requested?: number;
}

/**
 * Fair-stock limits (CKH01-03): more units of one product than one shopper
 * may hold (`hold_limit_product`, with `lines`), more units in one checkout
 * (`hold_limit_checkout`), or too many reservations left to expire unpaid
 * (`reservation_cooldown`, with `retryAfter`).
 */
export class HoldLimitError extends CheckoutError {
  readonly max: number | undefined;
  readonly lines: HeldLine[];
  readonly requested: number | undefined;
  /** hold_limit_address: the units the other checkouts from the caller's address hold. */
  readonly held: number | undefined;
  readonly retryAfter: string | undefined;
  constructor(code: string, message: string, details: Record<string, unknown> | undefined, options: StorefrontErrorOptions = {}) {
    super(code, message, options);
    const d = details ?? {};
    this.max = typeof d['max'] === 'number' ? d['max'] : undefined;
    this.requested = typeof d['requested'] === 'number' ? d['requested'] : undefined;
    this.held = typeof d['held'] === 'number' ? d['held'] : undefined;
    this.retryAfter = typeof d['retry_after'] === 'string' ? d['retry_after'] : undefined;
    this.lines = Array.isArray(d['lines']) ? d['lines'].filter((l): l is HeldLine => typeof l === 'object' && l !== null) : [];
  }
}

/** MercadoPago failed (502); the reservation was released. Try again later. */
export class PaymentProviderError extends CheckoutError {
  constructor(message = 'The payment provider is unavailable; nothing was reserved.', options: StorefrontErrorOptions = {}) {
    super('payment_provider_unavailable', message, options);
  }
}

// ---------------------------------------------------------------------------
// Mapping

/** Our SQLSTATEs (edge/_shared/contract.ts, the error table in docs/database.md): the library code and class of each. */
function ours(code: string): (typeof SQLSTATES)[SqlState] | undefined {
  return Object.hasOwn(SQLSTATES, code) ? SQLSTATES[code as SqlState] : undefined;
}

export interface PostgrestLikeError {
  message: string;
  details?: string | null;
  hint?: string | null;
  code?: string | null;
}

function parseJsonObject(text: string | null | undefined): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function shortLines(value: unknown): ShortLine[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((v) => {
    const r = shortLineSchema.safeParse(v);
    return r.success ? [r.data] : [];
  });
}

/** A PostgREST error (from `supabase.rpc`) with the HTTP status it came with. */
export function fromPostgrestError(error: PostgrestLikeError, status: number): StorefrontError {
  const code = error.code ?? '';
  const details = parseJsonObject(error.details);
  const opts: StorefrontErrorOptions = { status, details: details ?? error.details ?? undefined, cause: error };
  if (status === 0 || (!code && /fetch|network|ECONNREFUSED|abort/i.test(error.message))) {
    return new NetworkError('Could not reach the store server.', opts);
  }
  if (status === 503 || status === 502 || status === 504) {
    return new NetworkError('The store server is temporarily unavailable.', { ...opts, code: 'service_unavailable' });
  }
  if (code === '42501' || code === 'PGRST301' || code === 'PGRST302') return new SessionRequiredError(error.message, opts);
  const contract = ours(code);
  switch (contract?.library) {
    case 'InsufficientStockError': {
      const short = details && Array.isArray(details['short']) ? shortLines(details['short']) : details ? shortLines([details]) : [];
      return new InsufficientStockError(error.message, short, opts);
    }
    case 'ValidationError':
      return new ValidationError(error.message, [{ path: code === 'CKM02' ? 'amount' : 'quantity', message: error.message }], {
        ...opts,
        code: contract.error,
      });
  }
  if (status === 401) return new SessionRequiredError(error.message, opts);
  if (contract?.library === 'SessionRequiredError') return new SessionRequiredError(error.message, opts);
  if (contract?.library === 'HoldLimitError') return new HoldLimitError(contract.error, error.message, details, opts);
  if (contract) return new CheckoutError(contract.error, error.message, opts);
  return new StorefrontError(code || 'unexpected', error.message, opts);
}

/** snake_case dotted path from the server to our camelCase input paths. */
function camelPath(path: unknown): string {
  const parts = Array.isArray(path) ? path.map(String) : String(path ?? '').split('.');
  return parts.map((p) => p.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())).join('.');
}

/** An Edge Function's JSON error `{error, message, ...}` (edge/README.md) with its HTTP status. */
export function fromFunctionError(status: number, body: unknown): StorefrontError {
  const obj = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const code = typeof obj['error'] === 'string' ? obj['error'] : `http_${status}`;
  const message = typeof obj['message'] === 'string' ? obj['message'] : `The server answered ${status}.`;
  const opts: StorefrontErrorOptions = { status, details: body };
  switch (libraryClassFor(code)) {
    case 'InsufficientStockError':
      return new InsufficientStockError(message, shortLines(obj['short']), opts);
    case 'ValidationError': {
      const issues = Array.isArray(obj['issues'])
        ? obj['issues'].map((i: unknown) => {
          const issue = (i ?? {}) as Record<string, unknown>;
          return { path: camelPath(issue['path']), message: String(issue['message'] ?? 'invalid') };
        })
        : [];
      return new ValidationError(message, issues, { ...opts, code });
    }
    case 'SessionRequiredError':
      return new SessionRequiredError(message, opts);
    case 'HoldLimitError':
      return new HoldLimitError(code, message, obj, opts);
    case 'PaymentProviderError':
      return new PaymentProviderError(message, opts);
    case 'NetworkError':
      return new NetworkError(message, { ...opts, code: 'service_unavailable' });
    case 'ReservationExpiredError':
      return new ReservationExpiredError(message, {
        ...opts,
        ...(typeof obj['expires_at'] === 'string' ? { expiresAt: obj['expires_at'] } : {}),
      });
  }
  if (status === 401) return new SessionRequiredError(message, opts);
  if (status === 502 && code.startsWith('http_')) {
    return new NetworkError('The store server is temporarily unavailable.', { ...opts, code: 'service_unavailable' });
  }
  if (status === 503 || status === 504) return new NetworkError(message, { ...opts, code: 'service_unavailable' });
  if (status === 400 || status === 422) return new CheckoutError(code, message, opts);
  if (status >= 400 && status < 500) return new CheckoutError(code, message, opts);
  return new StorefrontError(code, message, opts);
}

/** Anything thrown by fetch / supabase-js that is not an HTTP answer. */
export function fromThrown(err: unknown): StorefrontError {
  if (err instanceof StorefrontError) return err;
  const e = err as { name?: string; message?: string; status?: number } | undefined;
  const name = e?.name ?? '';
  const message = e?.message ?? String(err);
  if (
    name === 'AuthRetryableFetchError' ||
    name === 'FunctionsFetchError' ||
    name === 'TypeError' ||
    name === 'AbortError' ||
    name === 'TimeoutError' ||
    /fetch failed|network|Failed to fetch|ECONNREFUSED/i.test(message)
  ) {
    return new NetworkError('Could not reach the store server.', { cause: err, status: 0 });
  }
  return new StorefrontError('unexpected', message, { cause: err, ...(typeof e?.status === 'number' ? { status: e.status } : {}) });
}
