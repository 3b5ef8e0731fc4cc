/**
 * The storefront client: a thin, typed layer over a supabase-js client that
 * speaks our contracts (RPC functions in `public`, the `create-preference`
 * and `payment-status` Edge Functions).
 *
 * Framework-agnostic: works with a browser client (`createClient` or
 * `@supabase/ssr`'s `createBrowserClient`) and with a server client
 * (`createServerClient`, see ./ssr.ts).
 *
 * The shopper's session is a Supabase Auth anonymous user; its id is the
 * cart's `session_id`. No custom header carries identity: supabase-js sends
 * the JWT in `Authorization`. `account` turns it into an account (sign-up
 * keeps the id, so the cart stays), or signs in to an existing one and
 * merges the anonymous cart into it (the `merge-cart` function).
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import type { z } from 'zod';
import type { Database } from './database.types.ts';
import {
  AuthenticationError,
  fromAuthError,
  fromFunctionError,
  fromPostgrestError,
  fromThrown,
  type PostgrestLikeError,
  ReservationExpiredError,
  SessionRequiredError,
  StorefrontError,
  ValidationError,
} from './errors.ts';
import { quantitySchema } from '../../edge/_shared/contract.ts';
import { parseReturnQuery } from './return-query.ts';
import {
  type Cart,
  cartSchema,
  type CatalogProduct,
  catalogSchema,
  type CheckoutInput,
  checkoutInputSchemaFor,
  type CheckoutResult,
  type CouponPreview,
  couponPreviewSchema,
  createPreferenceResponseSchema,
  type Credentials,
  credentialsSchemaFor,
  type MergeReport,
  mergeReportSchema,
  type Order,
  type OrderSession,
  ordersSchema,
  paymentStatusResponseSchema,
  type ReturnResult,
  type ReturnStatus,
  type Shopper,
  type SignInResult,
} from './types.ts';

export type StorefrontSupabaseClient = SupabaseClient<Database>;

export interface StorefrontOptions {
  supabase: StorefrontSupabaseClient;
  /**
   * Base URL of the Edge Functions (default: the client's `<supabaseUrl>/functions/v1`
   * through `supabase.functions.invoke`). Set it when the functions live elsewhere.
   */
  functionsUrl?: string;
  /** `fetch` used with `functionsUrl` (default: global fetch). */
  fetch?: typeof fetch;
  /** Clock, for tests (the reservation's expiry is judged against it). */
  now?: () => Date;
  /**
   * Verify a stored session once (`auth.getClaims()`) before trusting it
   * (default true). On a server the session comes from request cookies and
   * must not be trusted unverified; in a browser it catches a session whose
   * user no longer exists (e.g. after `npm start -- --reset`), which is then
   * replaced by a fresh anonymous sign-in. The result is cached per access
   * token, so it costs one call per page load (or per SSR request).
   */
  verifySession?: boolean;
  /**
   * The CAPTCHA token for the anonymous sign-in, when the project has CAPTCHA
   * on (`[auth.captcha]`, or Attack Protection in the dashboard): called
   * before each sign-in (a token is single-use) and passed to
   * `signInAnonymously({ options: { captchaToken } })`. Get it from the
   * provider's widget (Turnstile or hCaptcha) with your site key.
   */
  captchaToken?: () => string | undefined | Promise<string | undefined>;
  /**
   * Sign in anonymously when there is no valid session (default true). With
   * false, `ensureSession` (and every call that needs a shopper) throws
   * SessionRequiredError instead: for server code that could not keep a new
   * session, such as a page that cannot set cookies (a Next.js Server
   * Component), so that no request makes a shopper nobody can come back to.
   */
  anonymousSignIn?: boolean;
  /**
   * The store's locale (its country's, e.g. `pt-BR`; default `es-AR`): the
   * language of the ValidationError messages checkout() and the account calls
   * throw (VALIDATION_MESSAGES, the nearest of es-AR, es-MX and pt-BR).
   */
  locale?: string;
}

export interface Storefront {
  /** The shopper's session id (= the Auth user id), signing in anonymously when there is no session. */
  ensureSession(): Promise<string>;
  /** Active products with their variants, prices and the stock available right now (no session needed). */
  catalog(): Promise<CatalogProduct[]>;
  cart: {
    get(): Promise<Cart>;
    add(variantId: string, quantity?: number): Promise<Cart>;
    /** 0 removes the line. */
    setQuantity(variantId: string, quantity: number): Promise<Cart>;
    remove(variantId: string): Promise<Cart>;
    clear(): Promise<Cart>;
    /** What a coupon would take off this cart now (the rule checkout applies, same errors); reserves nothing. */
    previewCoupon(code: string): Promise<CouponPreview>;
  };
  account: {
    /** The shopper now: anonymous, or signed in to an account (signing in anonymously when there is no session). */
    current(): Promise<Shopper>;
    /**
     * Turns the anonymous shopper into an account (`updateUser` with email and
     * password): same id, so the cart, order sessions and orders stay.
     */
    signUp(credentials: Credentials): Promise<Shopper>;
    /**
     * Signs in to an existing account. An anonymous cart is merged into the
     * account's (a fresh anonymous access token proves it is ours); the
     * report lists every line capped or dropped.
     */
    signIn(credentials: Credentials): Promise<SignInResult>;
    /** Signs this device out (other devices stay signed in) and starts a fresh anonymous cart; returns its session id. */
    signOut(): Promise<string>;
  };
  /**
   * Validates the input, then reserves the cart's stock and creates the
   * MercadoPago preference. Send the buyer to `redirectUrl`.
   */
  checkout(input: CheckoutInput): Promise<CheckoutResult>;
  /**
   * For the back_urls page: applies the payment MercadoPago reports (as the
   * webhook does, idempotently) and tells what it means for the shopper.
   */
  confirmReturn(searchParams: URLSearchParams | string | Record<string, string | undefined>): Promise<ReturnResult>;
  /** The current state of an order session by its token (`external_reference`), e.g. to resume a checkout. */
  checkoutStatus(token: string): Promise<ReturnResult>;
  /**
   * Throws ReservationExpiredError unless the order session can still be paid:
   * call it before sending the buyer back to the same `init_point` to retry.
   */
  assertCanRetry(token: string): Promise<ReturnResult>;
  /** The shopper's orders, newest first. */
  orders(): Promise<Order[]>;
  /**
   * Restores the cart a recovery email links to (`?restore=<token>` on the
   * store's URL) into this device's cart, and returns the cart. Throws a
   * StorefrontError with code `link_expired` or `invalid_link` for an expired
   * or forged link, `not_found` when that cart no longer exists.
   */
  restoreCart(token: string): Promise<Cart>;
}

/** The payload of a JWT, unverified (only to read what the server put there). */
function decodeClaims(token: string): Record<string, unknown> {
  try {
    const part = token.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(part.length + ((4 - (part.length % 4)) % 4), '='));
    const value: unknown = JSON.parse(json);
    return value && typeof value === 'object' ? value as Record<string, unknown> : {};
  } catch {
    return {};
  }
}

function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new StorefrontError('bad_response', `Unexpected ${what} from the server: ${r.error.issues[0]?.message ?? 'invalid'}`, {
      details: r.error.issues,
    });
  }
  return r.data;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkVariant(variantId: string): void {
  if (typeof variantId !== 'string' || !UUID.test(variantId)) {
    throw new ValidationError('variantId must be a UUID', [{ path: 'variantId', message: 'Variante inválida' }]);
  }
}

function checkQuantity(quantity: number, min: 0 | 1): void {
  if (!quantitySchema(min).safeParse(quantity).success) {
    throw new ValidationError(`quantity must be an integer >= ${min}`, [
      { path: 'quantity', message: `La cantidad debe ser un número entero mayor o igual a ${min}` },
    ]);
  }
}

export function classifyReturn(
  orderSession: OrderSession,
  order: Order | null,
  payment: { status: string } | null,
  now: Date,
  pendingPayment: { waiting: boolean } | null = null,
): { status: ReturnStatus; canRetry: boolean } {
  const live = orderSession.status === 'active' && Date.parse(orderSession.expires_at) > now.getTime();
  if (order) return { status: 'paid', canRetry: false };
  if (orderSession.status === 'refund_owed' || orderSession.status === 'refunded') return { status: 'refund_owed', canRetry: false };
  if (orderSession.status === 'paid') return { status: 'paid', canRetry: false };
  if (orderSession.status === 'cancelled') return { status: 'cancelled', canRetry: false };
  if (!live) return { status: 'expired', canRetry: false };
  const ps = payment?.status;
  if (pendingPayment?.waiting && ps !== 'rejected' && ps !== 'cancelled') return { status: 'pending', canRetry: false };
  if (ps === 'rejected' || ps === 'cancelled') return { status: 'rejected', canRetry: true };
  if (ps === 'pending' || ps === 'in_process' || ps === 'authorized' || ps === 'in_mediation') return { status: 'pending', canRetry: false };
  return { status: 'open', canRetry: true };
}

export function createStorefront(options: StorefrontOptions): Storefront {
  const { supabase } = options;
  const locale = options.locale ?? 'es-AR';
  const now = options.now ?? (() => new Date());
  const doFetch = options.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args));
  let signingIn: Promise<string> | undefined;
  const verify = options.verifySession ?? true;
  let verified: { token: string; id: string } | undefined;

  async function currentSession() {
    try {
      const { data, error } = await supabase.auth.getSession();
      if (error) throw fromThrown(error);
      return data.session;
    } catch (err) {
      throw fromThrown(err);
    }
  }

  async function signIn(): Promise<string> {
    let result;
    try {
      let captchaToken: string | undefined;
      try {
        captchaToken = options.captchaToken ? await options.captchaToken() : undefined;
      } catch (err) {
        throw new SessionRequiredError(`The CAPTCHA was not completed: ${err instanceof Error ? err.message : String(err)}`, {
          code: 'captcha_failed',
          status: 0,
          cause: err,
        });
      }
      result = await supabase.auth.signInAnonymously(captchaToken ? { options: { captchaToken } } : undefined);
    } catch (err) {
      throw fromThrown(err);
    }
    const { data, error } = result;
    if (error) {
      if (error.name === 'AuthRetryableFetchError' || error.status === 0) throw fromThrown(error);
      // Refusals worth telling apart keep Supabase Auth's code: over_request_rate_limit (429), captcha_failed.
      const code = error.code === 'over_request_rate_limit' || error.code === 'captcha_failed' ? error.code : undefined;
      throw new SessionRequiredError(`Anonymous sign-in failed: ${error.message}`, { status: error.status ?? 0, cause: error, ...(code ? { code } : {}) });
    }
    const id = data.user?.id;
    if (!id) throw new SessionRequiredError('Anonymous sign-in returned no user.');
    if (data.session) verified = { token: data.session.access_token, id };
    return id;
  }

  async function verifiedUserId(): Promise<string | undefined> {
    let result;
    try {
      result = await supabase.auth.getClaims();
    } catch (err) {
      throw fromThrown(err);
    }
    const { data, error } = result;
    if (error && (error.name === 'AuthRetryableFetchError' || error.status === 0)) throw fromThrown(error);
    const sub = data?.claims.sub;
    return typeof sub === 'string' && sub ? sub : undefined;
  }

  async function ensureSession(): Promise<string> {
    const session = await currentSession();
    if (session) {
      if (!verify) return session.user.id;
      // Only the token is read here: on a server, the stored `user` is not to be trusted.
      if (verified?.token === session.access_token) return verified.id;
      const sub = await verifiedUserId();
      if (sub) {
        verified = { token: session.access_token, id: sub };
        return sub;
      }
      // Invalid or for a user that is gone: drop it locally and start a new shopper.
      await supabase.auth.signOut({ scope: 'local' }).catch(() => undefined);
    }
    if (options.anonymousSignIn === false) throw new SessionRequiredError('No session, and this client does not sign in anonymously.');
    // Concurrent callers share one sign-in, so a page never creates two shoppers.
    signingIn ??= signIn().finally(() => {
      signingIn = undefined;
    });
    return signingIn;
  }

  /** Runs one RPC (typed by the generated `Database`) and maps its error. */
  async function rpc(
    call: () => PromiseLike<{ data: unknown; error: PostgrestLikeError | null; status: number }>,
    needsSession: boolean,
  ): Promise<unknown> {
    if (needsSession) await ensureSession();
    let res: { data: unknown; error: PostgrestLikeError | null; status: number };
    try {
      res = await call();
    } catch (err) {
      throw fromThrown(err);
    }
    if (res.error) throw fromPostgrestError(res.error, res.status);
    return res.data;
  }

  async function cartRpc(call: () => PromiseLike<{ data: unknown; error: PostgrestLikeError | null; status: number }>): Promise<Cart> {
    return parseOrThrow(cartSchema, await rpc(call, true), 'cart');
  }

  async function invoke(name: 'create-preference' | 'payment-status' | 'send-emails/restore' | 'merge-cart', body: Record<string, unknown>): Promise<unknown> {
    await ensureSession();
    const session = await currentSession();
    if (!session) throw new SessionRequiredError();
    if (options.functionsUrl) {
      let res: Response;
      try {
        res = await doFetch(`${options.functionsUrl.replace(/\/+$/, '')}/${name}`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${session.access_token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        });
      } catch (err) {
        throw fromThrown(err);
      }
      const json: unknown = await res.json().catch(() => null);
      if (!res.ok) throw fromFunctionError(res.status, json);
      return json;
    }
    let result: { data: unknown; error: unknown };
    try {
      result = await supabase.functions.invoke(name, {
        method: 'POST',
        body,
        headers: { Authorization: `Bearer ${session.access_token}` },
      });
    } catch (err) {
      throw fromThrown(err);
    }
    if (!result.error) return result.data;
    const err = result.error as { name?: string; context?: unknown; message?: string };
    if (err.name === 'FunctionsHttpError' && err.context instanceof Response) {
      const res = err.context;
      const json: unknown = await res.json().catch(() => null);
      throw fromFunctionError(res.status, json);
    }
    if (err.name === 'FunctionsRelayError') {
      throw new StorefrontError('relay_error', err.message ?? 'Edge Function relay error', { cause: err });
    }
    throw fromThrown(err);
  }

  function toReturnResult(data: unknown): ReturnResult {
    const r = parseOrThrow(paymentStatusResponseSchema, data, 'payment status');
    const order = r.order ?? null;
    const payment = r.payment ?? null;
    const pendingPayment = r.pending_payment ?? null;
    const { status, canRetry } = classifyReturn(r.order_session, order, payment, now(), pendingPayment);
    return { status, canRetry, outcome: r.outcome ?? null, payment, order, orderSession: r.order_session, pendingPayment };
  }

  function checkCredentials(credentials: Credentials) {
    const parsed = credentialsSchemaFor(locale).safeParse(credentials);
    if (!parsed.success) {
      throw new ValidationError('The form has errors', parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
    }
    return parsed.data;
  }

  async function shopperNow(): Promise<Shopper> {
    const id = await ensureSession();
    const session = await currentSession();
    const user = session?.user;
    const claims = session ? decodeClaims(session.access_token) : {};
    return {
      id,
      email: user?.email || null,
      isAnonymous: claims['is_anonymous'] === true || (claims['is_anonymous'] === undefined && user?.is_anonymous === true),
    };
  }

  async function authCall<T extends { error: { name?: string; message: string; status?: number; code?: string } | null }>(call: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await call();
    } catch (err) {
      throw fromThrown(err);
    }
    if (result.error) throw fromAuthError(result.error);
    return result;
  }

  async function mergeInto(anonymousToken: string): Promise<MergeReport> {
    return parseOrThrow(mergeReportSchema, await invoke('merge-cart', { anonymous_token: anonymousToken }), 'merge report');
  }

  const storefront: Storefront = {
    ensureSession,

    async catalog() {
      return parseOrThrow(catalogSchema, await rpc(() => supabase.rpc('get_catalog'), false), 'catalog');
    },

    cart: {
      get: () => cartRpc(() => supabase.rpc('get_cart')),
      async add(variantId, quantity = 1) {
        checkVariant(variantId);
        checkQuantity(quantity, 1);
        return cartRpc(() => supabase.rpc('add_to_cart', { p_variant_id: variantId, p_quantity: quantity }));
      },
      async setQuantity(variantId, quantity) {
        checkVariant(variantId);
        checkQuantity(quantity, 0);
        return cartRpc(() => supabase.rpc('set_cart_item_quantity', { p_variant_id: variantId, p_quantity: quantity }));
      },
      async remove(variantId) {
        checkVariant(variantId);
        return cartRpc(() => supabase.rpc('remove_from_cart', { p_variant_id: variantId }));
      },
      clear: () => cartRpc(() => supabase.rpc('clear_cart')),
      async previewCoupon(code) {
        if (typeof code !== 'string' || !/^\s*[A-Za-z0-9_-]{3,32}\s*$/.test(code)) {
          throw new ValidationError('invalid coupon code', [{ path: 'coupon', message: 'Código de cupón inválido' }]);
        }
        return parseOrThrow(couponPreviewSchema, await rpc(() => supabase.rpc('preview_coupon', { p_code: code.trim() }), true), 'coupon preview');
      },
    },

    account: {
      current: shopperNow,

      async signUp(credentials) {
        const { email, password } = checkCredentials(credentials);
        const before = await shopperNow();
        if (!before.isAnonymous) throw new AuthenticationError('already_signed_in', 'Already signed in to an account; sign out first.');
        await authCall(() => supabase.auth.updateUser({ email, password }));
        // The access token still says is_anonymous until it is refreshed.
        const { data } = await authCall(() => supabase.auth.refreshSession());
        if (data.session) verified = { token: data.session.access_token, id: data.session.user.id };
        return shopperNow();
      },

      async signIn(credentials) {
        const { email, password } = checkCredentials(credentials);
        const before = await shopperNow();
        // Proof that the anonymous cart is ours, fresh so it outlives the sign-in.
        let anonymousToken: string | undefined;
        if (before.isAnonymous) {
          const { data } = await authCall(() => supabase.auth.refreshSession());
          anonymousToken = data.session?.access_token;
        }
        // With CAPTCHA on, Auth wants a token for password sign-ins too.
        const captchaToken = options.captchaToken ? await options.captchaToken() : undefined;
        const { data } = await authCall(() => supabase.auth.signInWithPassword({ email, password, ...(captchaToken ? { options: { captchaToken } } : {}) }));
        if (data.session) verified = { token: data.session.access_token, id: data.session.user.id };
        const shopper = await shopperNow();
        const merge = anonymousToken && shopper.id !== before.id ? await mergeInto(anonymousToken) : null;
        return { shopper, merge };
      },

      async signOut() {
        verified = undefined;
        // Only this device: the account's other devices stay signed in.
        await authCall(() => supabase.auth.signOut({ scope: 'local' }));
        return ensureSession();
      },
    },

    async checkout(input) {
      const parsed = checkoutInputSchemaFor(locale).safeParse(input);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
        throw new ValidationError('The checkout form has errors', issues);
      }
      const { payer, shippingAddress: a, coupon, marketingOptIn, returnUrl } = parsed.data;
      const body: Record<string, unknown> = {
        payer: {
          email: payer.email,
          name: payer.name,
          ...(payer.surname ? { surname: payer.surname } : {}),
          ...(payer.phone ? { phone: { ...(payer.phone.areaCode ? { area_code: payer.phone.areaCode } : {}), number: payer.phone.number } } : {}),
          ...(payer.identification ? { identification: payer.identification } : {}),
        },
        shipping_address: {
          street_name: a.streetName,
          street_number: a.streetNumber,
          zip_code: a.zipCode,
          city: a.city,
          ...(a.state ? { state: a.state } : {}),
          ...(a.floor ? { floor: a.floor } : {}),
          ...(a.apartment ? { apartment: a.apartment } : {}),
          ...(a.notes ? { notes: a.notes } : {}),
        },
        ...(coupon ? { coupon } : {}),
        ...(marketingOptIn ? { marketing_opt_in: true } : {}),
        ...(returnUrl ? { return_url: returnUrl } : {}),
      };
      const r = parseOrThrow(createPreferenceResponseSchema, await invoke('create-preference', body), 'checkout');
      return {
        orderSession: r.order_session,
        preferenceId: r.preference_id,
        redirectUrl: r.init_point,
        ...(r.sandbox_init_point ? { sandboxRedirectUrl: r.sandbox_init_point } : {}),
      };
    },

    async confirmReturn(searchParams) {
      const q = parseReturnQuery(searchParams);
      if (!q.paymentId && !q.externalReference) {
        throw new ValidationError('The return query has neither payment_id nor external_reference', [
          { path: 'payment_id', message: 'Falta el pago' },
        ]);
      }
      return toReturnResult(
        await invoke('payment-status', {
          ...(q.paymentId ? { payment_id: q.paymentId } : {}),
          ...(q.externalReference ? { external_reference: q.externalReference } : {}),
        }),
      );
    },

    async checkoutStatus(token) {
      if (!token) throw new ValidationError('token is required', [{ path: 'token', message: 'Falta la referencia' }]);
      return toReturnResult(await invoke('payment-status', { external_reference: token }));
    },

    async assertCanRetry(token) {
      const r = await storefront.checkoutStatus(token);
      if (r.status === 'expired') {
        throw new ReservationExpiredError('The reservation expired before the payment was approved.', {
          expiresAt: r.orderSession.expires_at,
          details: r,
        });
      }
      return r;
    },

    async orders() {
      return parseOrThrow(ordersSchema, await rpc(() => supabase.rpc('get_my_orders'), true), 'orders');
    },

    async restoreCart(token) {
      if (typeof token !== 'string' || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) {
        throw new StorefrontError('invalid_link', 'This link is not valid.');
      }
      await invoke('send-emails/restore', { token });
      return cartRpc(() => supabase.rpc('get_cart'));
    },
  };
  return storefront;
}
