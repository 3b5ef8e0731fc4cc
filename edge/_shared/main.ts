/**
 * Start-up shared by every index.ts: read and validate the environment once,
 * build the clients, and serve the handler.
 */
import { checkoutRoutines } from './checkout.ts';
import { loadConfig } from './config.ts';
import { createDb } from './db.ts';
import type { Deps } from './handlers.ts';
import { jsonLogger } from './http.ts';
import { createJwtVerifier, jwksSource } from './jwt.ts';
import { createMercadoPago } from './mercadopago.ts';

export function serve(name: string, makeHandler: (deps: Deps) => (req: Request) => Promise<Response>): void {
  const log = jsonLogger(name);
  let deps: Deps;
  try {
    const config = loadConfig(Deno.env.toObject());
    deps = {
      config,
      log,
      routines: checkoutRoutines(createDb(config.dbUrl)),
      mp: createMercadoPago(config.mp),
      verifyJwt: createJwtVerifier({
        secret: config.jwtSecret,
        jwks: config.jwks || !config.jwtSecret ? jwksSource(config.jwks, config.supabaseUrl) : undefined,
      }),
    };
  } catch (err) {
    log('startup_failed', { message: err instanceof Error ? err.message : String(err) });
    throw err;
  }
  const port = Number(Deno.env.get('PORT') ?? '8000');
  Deno.serve({ port, hostname: Deno.env.get('HOST') ?? '127.0.0.1', onListen: () => log('listening', { port }) }, makeHandler(deps));
}
