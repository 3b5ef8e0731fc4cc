/**
 * What the handlers are given. main.ts builds these from the environment;
 * the unit tests (edge/<name>/handler.test.ts) and the local stack build them
 * with their own clients.
 */
import type { CheckoutRoutines } from './checkout.ts';
import type { BaseConfig, Config } from './config.ts';
import type { Logger } from './http.ts';
import type { JwtVerifier } from './jwt.ts';
import type { MercadoPagoApi } from './mercadopago.ts';

/** What every handler gets. */
export interface AdminDeps {
  routines: CheckoutRoutines;
  config: BaseConfig;
  verifyJwt: JwtVerifier;
  log: Logger;
  now?: () => Date;
}

/** What the handlers that call MercadoPago get. */
export interface Deps extends AdminDeps {
  mp: MercadoPagoApi;
  config: Config;
}

export type Handler = (req: Request) => Promise<Response>;
