/** Request checks every handler uses: a zod-validated body, query or path, the service role. (The method: routes.ts.) */
import { z } from 'zod';
import { HttpError } from './http.ts';
import { bearerToken, type JwtVerifier } from './jwt.ts';
import { constantTimeEqual } from './signature.ts';

/** A 400 `validation_failed` naming one field (`payer.identification.type`), as `validate` names each. */
export const invalidField = (path: string, message: string) =>
  new HttpError(400, 'validation_failed', 'the request is invalid', { issues: [{ path, message }] });

/** The value parsed by `schema`, or a 400 `validation_failed` listing every issue by path. */
export function validate<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new HttpError(400, 'validation_failed', 'the request is invalid', {
      issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  return parsed.data;
}

/**
 * The service role key, or a JWT whose role is service_role (what pg_net
 * sends from the database). Legacy service_role keys are JWTs with
 * `iss: supabase` and no audience.
 */
export async function requireServiceRole(req: Request, deps: { config: { serviceRoleKey: string }; verifyJwt: JwtVerifier }): Promise<void> {
  const token = bearerToken(req);
  let isService = constantTimeEqual(token, deps.config.serviceRoleKey);
  if (!isService && token.split('.').length === 3) {
    const claims = await deps.verifyJwt(token, { audience: null, issuer: null }).catch(() => null);
    isService = claims?.role === 'service_role';
  }
  if (!isService) throw new HttpError(403, 'forbidden', 'the service role key is required');
}
