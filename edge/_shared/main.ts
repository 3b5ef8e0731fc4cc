/**
 * Start-up shared by every index.ts: read and validate the environment once
 * (only what that function needs), build the clients, and serve the handler.
 */
import { checkoutRoutines } from './checkout.ts';
import { type BaseConfig, type Config, loadBaseConfig, loadConfig } from './config.ts';
import { createDb } from './db.ts';
import type { AdminDeps, Deps, Handler } from './deps.ts';
import { jsonLogger, type Logger } from './http.ts';
import { createJwtVerifier, parseJwks } from './jwt.ts';
import { createMercadoPago } from './mercadopago.ts';

function baseDeps(config: BaseConfig, log: Logger): AdminDeps {
  return {
    config,
    log,
    routines: checkoutRoutines(createDb(config.dbUrl, { max: config.dbPoolMax })),
    verifyJwt: createJwtVerifier({
      issuer: config.issuer,
      secret: config.jwtSecret,
      jwks: config.jwks ? parseJwks(config.jwks) : undefined,
      jwksUrl: new URL(`${config.issuer}/.well-known/jwks.json`),
    }),
  };
}

function start(name: string, build: (log: Logger) => Handler): void {
  const log = jsonLogger(name);
  let handler: Handler;
  try {
    handler = build(log);
  } catch (err) {
    log('startup_failed', { message: err instanceof Error ? err.message : String(err) });
    throw err;
  }
  const port = Number(Deno.env.get('PORT') ?? '8000');
  Deno.serve({ port, hostname: Deno.env.get('HOST') ?? '127.0.0.1', onListen: () => log('listening', { port }) }, handler);
}

/** A function that calls MercadoPago: needs the MP_* secrets to start. */
export function serve(name: string, makeHandler: (deps: Deps) => Handler): void {
  start(name, (log) => {
    const config: Config = loadConfig(Deno.env.toObject());
    return makeHandler({ ...baseDeps(config, log), config, mp: createMercadoPago(config.mp) });
  });
}

/** A function that never calls MercadoPago (the admin function): starts without its secrets. */
export function serveWithoutMercadoPago(name: string, makeHandler: (deps: AdminDeps) => Handler): void {
  start(name, (log) => makeHandler(baseDeps(loadBaseConfig(Deno.env.toObject()), log)));
}
