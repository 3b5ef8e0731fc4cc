/**
 * The slice of Supabase Auth (GoTrue) the storefront uses, for `npm start`:
 * anonymous sign-up, email and password sign-up and sign-in, converting an
 * anonymous user in place (`updateUser` with email and password: same id,
 * `is_anonymous` false), rotating refresh tokens, the current user, sign-out,
 * settings, health and the (empty, HS256) JWKS. Users, sessions and refresh
 * tokens live in auth.users, auth.sessions and auth.refresh_tokens like
 * GoTrue keeps them (passwords as bcrypt hashes, pgcrypto's crypt());
 * access tokens carry GoTrue's claims. Email confirmation is off, as
 * `supabase start` has it by default (`[auth.email] enable_confirmations`).
 *
 * Wire contract checked against @supabase/auth-js (what it sends and parses)
 * and supabase/auth's handlers (internal/api/signup.go, token.go, user.go):
 *   POST /signup {data, gotrue_meta_security}        -> 200 session (anonymous)
 *     (every endpoint below is rate limited per IP as `[auth.rate_limit]`
 *     says, the IP being Sb-Forwarded-For's for a secret key's holder when
 *     IP address forwarding is on, and sign-ins and sign-ups are CAPTCHA-checked as `[auth.captcha]`
 *     says: auth-guard.ts; 429 / 400 / 500)
 *   POST /signup {email, password, data}             -> 200 session (autoconfirm)
 *   POST /token?grant_type=password {email, password} -> 200 session
 *        (also staff made by `npm run staff:add`)
 *   POST /token?grant_type=refresh_token {refresh_token} -> 200 session
 *   GET  /user (Bearer)                               -> 200 user
 *   PUT  /user (Bearer) {email, password, data}       -> 200 user
 *   POST /logout?scope=global|local|others (Bearer)   -> 204
 * Errors: with `X-Supabase-Api-Version: 2024-01-01` (auth-js sends it)
 * `{code: "<error_code>", message}`, otherwise the legacy
 * `{code: <status>, error_code, msg}`. What the stand-in does not do answers
 * 404 (an endpoint) or 422 (a feature of one) with the code
 * `not_implemented`, which supabase-js reports as `AuthApiError.code`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import type { RouteSpec } from '../../edge/_shared/routes.ts';
import { AUTH_ROUTES } from './auth-routes.ts';
import { bearer, BodyTooLargeError, header, jsonProblem, lingerAfterAnswer, readBody, sendJson } from './http-util.ts';
import { type AuthLimiters, type CaptchaConfig, type TokenBuckets, verifyCaptcha } from './auth-guard.ts';
import { type JwtClaims, signJwt, verifyJwt } from './jwt.ts';
import { forwardedAddress, ipAddress } from '../../edge/_shared/client-address.ts';

export interface AuthContext {
  /** A pool with rights on the auth schema (GoTrue's supabase_auth_admin; here postgres). */
  pool: pg.Pool;
  jwtSecret: string;
  /** The project URL (the local API); the issuer is `<apiUrl>/auth/v1`. */
  apiUrl: string;
  /** Access token lifetime, `auth.jwt_expiry` in config.toml (3600). */
  jwtExpirySeconds: number;
  /** GoTrue's refresh_token_reuse_interval (10 s). */
  refreshReuseIntervalSeconds?: number;
  /** The `[auth.rate_limit]` buckets, CAPTCHA and IP address forwarding (auth-guard.ts); none when absent. */
  guard?: { limiters: AuthLimiters; captcha: CaptchaConfig; sbForwardedFor: boolean };
  /** The project's secret API keys: with forwarding on, their holders may name the end user's address. */
  secretKeys: readonly string[];
}

const API_VERSION = '2024-01-01';

class AuthError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    /** Extra fields GoTrue puts in some errors (weak_password). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** An endpoint (404) or a feature of one (422) the stand-in does not emulate. */
const notImplemented = (status: 404 | 422, what: string) => new AuthError(status, 'not_implemented', notImplementedMessage(what));

function sendAuthError(req: IncomingMessage, res: ServerResponse, err: AuthError): void {
  const version = header(req, 'x-supabase-api-version');
  if (version && version >= API_VERSION) {
    sendJson(res, err.status, { code: err.errorCode, message: err.message, ...err.extra }, { 'X-Supabase-Api-Version': API_VERSION });
  } else {
    sendJson(res, err.status, { code: err.status, error_code: err.errorCode, msg: err.message, ...err.extra });
  }
}

export const notImplementedMessage = (what: string) =>
  `${what} is not available in the Docker-free local stack (npm start), which only emulates anonymous and email/password sign-up and sign-in, updateUser, token refresh, the current user and sign-out. Run the full Supabase stack with \`supabase start\` (Docker) for it.`;

interface UserRow {
  id: string;
  aud: string | null;
  role: string | null;
  email: string | null;
  email_confirmed_at: Date | null;
  phone: string | null;
  raw_app_meta_data: Record<string, unknown> | null;
  raw_user_meta_data: Record<string, unknown> | null;
  is_anonymous: boolean;
  created_at: Date;
  updated_at: Date;
  last_sign_in_at: Date | null;
}

function userJson(u: UserRow) {
  return {
    id: u.id,
    aud: u.aud ?? 'authenticated',
    role: u.role ?? 'authenticated',
    email: u.email ?? '',
    phone: u.phone ?? '',
    ...(u.email_confirmed_at ? { email_confirmed_at: u.email_confirmed_at.toISOString(), confirmed_at: u.email_confirmed_at.toISOString() } : {}),
    last_sign_in_at: u.last_sign_in_at?.toISOString(),
    app_metadata: u.raw_app_meta_data ?? {},
    user_metadata: u.raw_user_meta_data ?? {},
    identities: [],
    created_at: u.created_at.toISOString(),
    updated_at: u.updated_at.toISOString(),
    is_anonymous: u.is_anonymous,
  };
}

const newRefreshToken = () => randomBytes(9).toString('base64url'); // 12 characters, like GoTrue's

export async function handleAuth(req: IncomingMessage, res: ServerResponse, path: string, url: URL, ctx: AuthContext): Promise<void> {
  try {
    const method = req.method ?? 'GET';
    const route = (Object.keys(AUTH_ROUTES) as (keyof typeof AUTH_ROUTES)[]).find((name) => {
      const r: RouteSpec = AUTH_ROUTES[name];
      return r.path === path && r.methods.includes(method);
    });
    switch (route) {
      case 'health':
        return sendJson(res, 200, { version: 'local-stack', name: 'GoTrue', description: 'GoTrue stand-in of the Docker-free local stack' });
      case 'settings':
        return sendJson(res, 200, settings());
      case 'jwks':
        return sendJson(res, 200, { keys: [] });
      case 'signup':
        return await signup(req, res, ctx);
      case 'token': {
        const grant = url.searchParams.get('grant_type');
        if (grant !== 'refresh_token' && grant !== 'password') throw notImplemented(422, `The ${grant ?? '(missing)'} grant`);
        // GoTrue's /token: password sign-ins and refreshes share one bucket (token_refresh), taken before the body is read.
        limit(req, ctx, 'token');
        return grant === 'refresh_token' ? await refresh(req, res, ctx) : await passwordGrant(req, res, ctx);
      }
      case 'user':
        return await getUser(req, res, ctx);
      case 'updateUser':
        return await updateUser(req, res, ctx);
      case 'logout':
        return await logout(req, res, url, ctx);
      case undefined:
        // OTP and magic-link verifications are not emulated, but GoTrue limits them first (token_verifications).
        if (path === '/verify' && (method === 'GET' || method === 'POST')) limit(req, ctx, 'verify');
        throw notImplemented(404, `${method} /auth/v1${path}`);
    }
  } catch (err) {
    if (err instanceof AuthError) return sendAuthError(req, res, err);
    if (err instanceof SyntaxError) return sendAuthError(req, res, new AuthError(400, 'bad_json', 'Could not parse request body as JSON'));
    if (err instanceof BodyTooLargeError) {
      lingerAfterAnswer(req, res);
      return sendAuthError(req, res, new AuthError(413, 'request_entity_too_large', err.message));
    }
    throw err;
  }
}

function settings() {
  const external = Object.fromEntries(
    [
      'anonymous_users',
      'apple',
      'azure',
      'bitbucket',
      'discord',
      'facebook',
      'figma',
      'github',
      'gitlab',
      'google',
      'keycloak',
      'kakao',
      'linkedin_oidc',
      'notion',
      'slack_oidc',
      'spotify',
      'twitch',
      'twitter',
      'workos',
      'zoom',
      'email',
      'phone',
    ].map(
      (p) => [p, p === 'anonymous_users' || p === 'email'],
    ),
  );
  return { external, disable_signup: false, mailer_autoconfirm: true, phone_autoconfirm: false, sms_provider: '', saml_enabled: false };
}

/**
 * The address a request counts under, as Supabase Auth picks it: with IP
 * address forwarding on, the one a secret key's holder names in
 * Sb-Forwarded-For (edge/_shared/client-address.ts); else the connection's.
 */
export function rateLimitAddress(req: IncomingMessage, ctx: Pick<AuthContext, 'guard' | 'secretKeys'>): string {
  const headers = { get: (name: string) => header(req, name) };
  const forwarded = ctx.guard?.sbForwardedFor ? forwardedAddress(headers, ctx.secretKeys) : undefined;
  const own = req.socket.remoteAddress ?? 'unknown';
  return forwarded ?? ipAddress(own) ?? own;
}

/** Takes one request from the caller's bucket of `which` (per client address); 429 when it is empty. */
function limit(req: IncomingMessage, ctx: AuthContext, which: keyof AuthLimiters): void {
  const buckets: TokenBuckets | undefined = ctx.guard?.limiters[which];
  if (buckets && !buckets.take(rateLimitAddress(req, ctx))) {
    throw new AuthError(429, 'over_request_rate_limit', 'Request rate limit reached');
  }
}

/** The CAPTCHA token GoTrue reads from `gotrue_meta_security.captcha_token`, checked as the project's [auth.captcha] says. */
function requireCaptcha(config: CaptchaConfig, body: Record<string, unknown>): void {
  const security = body.gotrue_meta_security;
  const token = typeof security === 'object' && security !== null && !Array.isArray(security) ? (security as Record<string, unknown>).captcha_token : undefined;
  const captcha = verifyCaptcha(config, typeof token === 'string' ? token : undefined);
  if (!captcha.ok) throw new AuthError(captcha.status, captcha.errorCode, captcha.message);
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = (await readBody(req)).toString('utf8');
  if (raw.trim() === '') return {};
  const parsed: unknown = JSON.parse(raw);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new SyntaxError('not an object');
  // What PostgreSQL cannot store would fail the insert (a 500): refused here.
  const problem = jsonProblem(parsed);
  if (problem) throw new AuthError(400, 'validation_failed', `The request body ${problem}`);
  return parsed as Record<string, unknown>;
}

async function signup(req: IncomingMessage, res: ServerResponse, ctx: AuthContext): Promise<void> {
  const body = await jsonBody(req);
  if (body.phone) throw notImplemented(422, 'Phone sign-up');
  const isEmailSignup = body.email !== undefined || body.password !== undefined;
  // The per-IP limit (anonymous_users, or sign_in_sign_ups for an email
  // sign-up), then the CAPTCHA.
  limit(req, ctx, isEmailSignup ? 'signUps' : 'anonymousSignIns');
  if (ctx.guard) requireCaptcha(ctx.guard.captcha, body);
  if (isEmailSignup) return await emailSignup(req, res, ctx, body);
  const data = body.data;
  const userMeta = typeof data === 'object' && data !== null && !Array.isArray(data) ? data : {};
  const client = await ctx.pool.connect();
  try {
    await client.query('begin');
    const { rows } = await client.query<UserRow>(
      `insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data, is_anonymous, created_at, updated_at, last_sign_in_at)
       values ($1, 'authenticated', 'authenticated', null, '{}'::jsonb, $2::jsonb, true, now(), now(), now())
       returning *`,
      [randomUUID(), JSON.stringify(userMeta)],
    );
    const user = rows[0]!;
    const session = await newSession(client, ctx, user, header(req, 'user-agent'));
    await client.query('commit');
    sendJson(res, 200, session);
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** GoTrue's password grant: an existing, non-anonymous user whose bcrypt hash matches (pgcrypto's crypt). */
async function newSession(client: pg.PoolClient, ctx: AuthContext, user: UserRow, userAgent?: string) {
  const sessionId = randomUUID();
  await client.query(`insert into auth.sessions (id, user_id, aal, user_agent) values ($1, $2, 'aal1', $3)`, [sessionId, user.id, userAgent ?? null]);
  const token = newRefreshToken();
  await client.query(`insert into auth.refresh_tokens (token, user_id, session_id, revoked) values ($1, $2, $3, false)`, [token, user.id, sessionId]);
  return sessionJson(ctx, user, sessionId, token, Math.floor(Date.now() / 1000));
}

function sessionJson(ctx: AuthContext, user: UserRow, sessionId: string, refreshToken: string, amrTimestamp: number) {
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + ctx.jwtExpirySeconds;
  const claims: JwtClaims = {
    iss: `${ctx.apiUrl}/auth/v1`,
    sub: user.id,
    aud: user.aud ?? 'authenticated',
    exp,
    iat,
    email: user.email ?? '',
    phone: '',
    app_metadata: user.raw_app_meta_data ?? {},
    user_metadata: user.raw_user_meta_data ?? {},
    role: user.role ?? 'authenticated',
    aal: 'aal1',
    amr: [{ method: user.is_anonymous ? 'anonymous' : 'password', timestamp: amrTimestamp }],
    session_id: sessionId,
    is_anonymous: user.is_anonymous,
  };
  return {
    access_token: signJwt(claims, ctx.jwtSecret),
    token_type: 'bearer',
    expires_in: ctx.jwtExpirySeconds,
    expires_at: exp,
    refresh_token: refreshToken,
    user: userJson(user),
  };
}

async function refresh(req: IncomingMessage, res: ServerResponse, ctx: AuthContext): Promise<void> {
  const body = await jsonBody(req);
  const token = body.refresh_token;
  if (typeof token !== 'string' || token === '') throw new AuthError(400, 'validation_failed', 'refresh_token required');
  const client = await ctx.pool.connect();
  try {
    await client.query('begin');
    const found = await client.query<{ id: string; token: string; revoked: boolean; session_id: string | null; user_id: string; updated_at: Date }>(
      'select id, token, revoked, session_id, user_id, updated_at from auth.refresh_tokens where token = $1 for update',
      [token],
    );
    const row = found.rows[0];
    if (!row || !row.session_id) throw new AuthError(400, 'refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found');
    const session = await client.query<{ id: string; created_at: Date }>('select id, created_at from auth.sessions where id = $1 for update', [row.session_id]);
    if (!session.rows[0]) throw new AuthError(400, 'refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found');
    const users = await client.query<UserRow>('select * from auth.users where id = $1', [row.user_id]);
    const user = users.rows[0];
    if (!user) throw new AuthError(400, 'refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found');
    let next: string;
    if (row.revoked) {
      // GoTrue's reuse interval: a client that lost the answer to a refresh may
      // retry with the same token shortly after and get the current child.
      const interval = (ctx.refreshReuseIntervalSeconds ?? 10) * 1000;
      const child = await client.query<{ token: string }>(
        'select token from auth.refresh_tokens where parent = $1 and revoked = false order by id desc limit 1',
        [row.token],
      );
      if (child.rows[0] && Date.now() - row.updated_at.getTime() <= interval) {
        next = child.rows[0].token;
      } else {
        // Reuse of a revoked token: revoke the whole family (the session's tokens).
        await client.query('update auth.refresh_tokens set revoked = true, updated_at = now() where session_id = $1', [row.session_id]);
        await client.query('commit');
        throw new AuthError(400, 'refresh_token_already_used', 'Invalid Refresh Token: Already Used');
      }
    } else {
      await client.query('update auth.refresh_tokens set revoked = true, updated_at = now() where id = $1', [row.id]);
      next = newRefreshToken();
      await client.query('insert into auth.refresh_tokens (token, user_id, session_id, parent, revoked) values ($1, $2, $3, $4, false)', [
        next,
        row.user_id,
        row.session_id,
        row.token,
      ]);
      await client.query('update auth.sessions set refreshed_at = now(), updated_at = now() where id = $1', [row.session_id]);
    }
    await client.query('commit');
    sendJson(res, 200, sessionJson(ctx, user, row.session_id, next, Math.floor(session.rows[0].created_at.getTime() / 1000)));
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** GoTrue's requireAuthentication + loading the user and the session named in the token. */
async function authenticate(req: IncomingMessage, ctx: AuthContext): Promise<{ user: UserRow; sessionId: string | undefined }> {
  const token = bearer(req);
  if (!token) throw new AuthError(401, 'no_authorization', 'This endpoint requires a valid Bearer token');
  const result = verifyJwt(token, ctx.jwtSecret);
  if (!result.ok) {
    const reason = result.reason === 'claims' ? 'token has invalid claims: token is expired' : 'unable to parse or verify signature, ' + result.message;
    throw new AuthError(403, 'bad_jwt', `invalid JWT: ${reason}`);
  }
  const sub = result.claims.sub;
  if (typeof sub !== 'string' || sub === '') throw new AuthError(403, 'bad_jwt', 'invalid claim: missing sub claim');
  const { rows } = await ctx.pool.query<UserRow>('select * from auth.users where id::text = $1', [sub]);
  const user = rows[0];
  if (!user) throw new AuthError(403, 'user_not_found', 'User from sub claim in JWT does not exist');
  const sessionId = typeof result.claims.session_id === 'string' ? result.claims.session_id : undefined;
  if (sessionId) {
    const s = await ctx.pool.query('select 1 from auth.sessions where id::text = $1', [sessionId]);
    if (s.rowCount === 0) throw new AuthError(403, 'session_not_found', 'Session from session_id claim in JWT does not exist');
  }
  return { user, sessionId };
}

async function getUser(req: IncomingMessage, res: ServerResponse, ctx: AuthContext): Promise<void> {
  const { user } = await authenticate(req, ctx);
  sendJson(res, 200, userJson(user));
}

async function logout(req: IncomingMessage, res: ServerResponse, url: URL, ctx: AuthContext): Promise<void> {
  const scope = url.searchParams.get('scope') ?? 'global';
  if (!['global', 'local', 'others'].includes(scope)) {
    throw new AuthError(400, 'validation_failed', 'Unsupported logout scope "' + scope + '"');
  }
  const { user, sessionId } = await authenticate(req, ctx);
  // Deleting a session cascades to its refresh tokens; its access tokens then
  // fail /user with session_not_found (they stay valid for the Data API until exp, as on Supabase).
  if (scope === 'global' || !sessionId) await ctx.pool.query('delete from auth.sessions where user_id = $1', [user.id]);
  else if (scope === 'local') await ctx.pool.query('delete from auth.sessions where id::text = $1', [sessionId]);
  else await ctx.pool.query('delete from auth.sessions where user_id = $1 and id::text <> $2', [user.id, sessionId]);
  res.writeHead(204);
  res.end();
}

// ---------------------------------------------------------------------------
// Email and password (GoTrue's messages and codes, confirmation off)

const MIN_PASSWORD_LENGTH = 6; // [auth] minimum_password_length

function validEmail(value: unknown): string {
  // GoTrue's validateEmail: a parsable address, at most 255 characters.
  if (typeof value !== 'string' || value.length > 255 || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value.trim())) {
    throw new AuthError(400, 'email_address_invalid', 'Unable to validate email address: invalid format');
  }
  return value.trim().toLowerCase();
}

function checkPassword(value: unknown): string {
  if (typeof value !== 'string' || value.length < MIN_PASSWORD_LENGTH) {
    throw new AuthError(422, 'weak_password', `Password should be at least ${MIN_PASSWORD_LENGTH} characters.`, {
      weak_password: { reasons: ['length'] },
    });
  }
  return value;
}

const metadata = (data: unknown): Record<string, unknown> =>
  typeof data === 'object' && data !== null && !Array.isArray(data) ? data as Record<string, unknown> : {};

const EMAIL_APP_METADATA = JSON.stringify({ provider: 'email', providers: ['email'] });

async function inTransaction<T>(ctx: AuthContext, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await ctx.pool.connect();
  try {
    await client.query('begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';

async function emailSignup(req: IncomingMessage, res: ServerResponse, ctx: AuthContext, body: Record<string, unknown>): Promise<void> {
  if (typeof body.password !== 'string' || body.password === '') {
    throw new AuthError(422, 'validation_failed', 'Signup requires a valid password');
  }
  const email = validEmail(body.email);
  const password = checkPassword(body.password);
  try {
    const session = await inTransaction(ctx, async (client) => {
      const { rows } = await client.query<UserRow>(
        `insert into auth.users (id, aud, role, email, encrypted_password, email_confirmed_at, raw_app_meta_data, raw_user_meta_data,
                                 is_anonymous, created_at, updated_at, last_sign_in_at)
         values ($1, 'authenticated', 'authenticated', $2, extensions.crypt($3, extensions.gen_salt('bf', 10)), now(), $4::jsonb, $5::jsonb,
                 false, now(), now(), now())
         returning *`,
        [randomUUID(), email, password, EMAIL_APP_METADATA, JSON.stringify(metadata(body.data))],
      );
      return newSession(client, ctx, rows[0]!, header(req, 'user-agent'));
    });
    sendJson(res, 200, session);
  } catch (err) {
    if (isUniqueViolation(err)) throw new AuthError(422, 'user_already_exists', 'User already registered');
    throw err;
  }
}

async function passwordGrant(req: IncomingMessage, res: ServerResponse, ctx: AuthContext): Promise<void> {
  const body = await jsonBody(req);
  if (body.phone) throw notImplemented(422, 'Phone sign-in');
  if (typeof body.email !== 'string' || body.email === '' || typeof body.password !== 'string') {
    throw new AuthError(400, 'validation_failed', 'missing email or phone');
  }
  if (ctx.guard) {
    // GoTrue checks the CAPTCHA on password sign-ins too.
    requireCaptcha(ctx.guard.captcha, body);
  }
  const session = await inTransaction(ctx, async (client) => {
    const { rows } = await client.query<UserRow>(
      `update auth.users set last_sign_in_at = now(), updated_at = now()
        where lower(email) = lower($1) and not coalesce(is_anonymous, false) and not coalesce(is_sso_user, false)
          and encrypted_password is not null and encrypted_password = extensions.crypt($2, encrypted_password)
        returning *`,
      [String(body.email).trim(), body.password],
    );
    const user = rows[0];
    if (!user) throw new AuthError(400, 'invalid_credentials', 'Invalid login credentials');
    return newSession(client, ctx, user, header(req, 'user-agent'));
  });
  sendJson(res, 200, session);
}

async function updateUser(req: IncomingMessage, res: ServerResponse, ctx: AuthContext): Promise<void> {
  const { user } = await authenticate(req, ctx);
  limit(req, ctx, 'userUpdates');
  const body = await jsonBody(req);
  if (body.phone) throw notImplemented(422, 'Adding a phone number');
  if (body.nonce) throw notImplemented(422, 'Reauthentication');
  const email = body.email === undefined || body.email === '' ? undefined : validEmail(body.email);
  const password = body.password === undefined ? undefined : checkPassword(body.password);
  if (user.is_anonymous && password !== undefined && email === undefined && !user.email) {
    throw new AuthError(422, 'validation_failed', 'Updating password of an anonymous user without an email or phone is not allowed');
  }
  const changesEmail = email !== undefined && email !== user.email;
  // A permanent user's new address needs a confirmation email: not here.
  if (changesEmail && !user.is_anonymous) throw notImplemented(422, 'Changing the email of a permanent user (a confirmation email)');
  const data = body.data === undefined ? undefined : metadata(body.data);
  try {
    const updated = await inTransaction(ctx, async (client) => {
      if (password !== undefined) {
        const same = await client.query(
          'select 1 from auth.users where id = $1 and encrypted_password is not null and encrypted_password = extensions.crypt($2, encrypted_password)',
          [user.id, password],
        );
        if (same.rowCount) throw new AuthError(422, 'same_password', 'New password should be different from the old password.');
      }
      // An anonymous user who adds an email (confirmation off) becomes a
      // permanent one in place: same id, so everything keyed on it stays.
      const { rows } = await client.query<UserRow>(
        `update auth.users u set
           encrypted_password = case when $2::text is null then u.encrypted_password else extensions.crypt($2, extensions.gen_salt('bf', 10)) end,
           email = coalesce($3, u.email),
           email_confirmed_at = case when $3::text is null then u.email_confirmed_at else now() end,
           is_anonymous = case when $3::text is null then u.is_anonymous else false end,
           raw_app_meta_data = case when $3::text is null then u.raw_app_meta_data else coalesce(u.raw_app_meta_data, '{}'::jsonb) || $4::jsonb end,
           raw_user_meta_data = case when $5::jsonb is null then u.raw_user_meta_data
                                     else jsonb_strip_nulls(coalesce(u.raw_user_meta_data, '{}'::jsonb) || $5::jsonb) end,
           updated_at = now()
         where u.id = $1
         returning *`,
        [user.id, password ?? null, changesEmail ? email : null, EMAIL_APP_METADATA, data === undefined ? null : JSON.stringify(data)],
      );
      return rows[0]!;
    });
    sendJson(res, 200, userJson(updated));
  } catch (err) {
    if (isUniqueViolation(err)) throw new AuthError(422, 'email_exists', 'A user with this email address has already been registered');
    throw err;
  }
}
