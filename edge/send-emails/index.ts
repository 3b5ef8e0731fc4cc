import { createDb } from '../_shared/db.ts';
import { type EmailConfig, loadEmailConfig, resendMailer } from '../_shared/emails.ts';
import { sendEmailsHandler } from './handler.ts';
import { jsonLogger } from '../_shared/http.ts';
import { createJwtVerifier, parseJwks } from '../_shared/jwt.ts';

const log = jsonLogger('send-emails');
let config: EmailConfig;
try {
  config = loadEmailConfig(Deno.env.toObject());
} catch (err) {
  log('startup_failed', { message: err instanceof Error ? err.message : String(err) });
  throw err;
}
const handler = sendEmailsHandler({
  config,
  log,
  db: createDb(config.dbUrl, { max: config.dbPoolMax }),
  mailer: resendMailer(config.resendApiKey, config.resendBaseUrl),
  verifyJwt: createJwtVerifier({
    issuer: config.issuer,
    secret: config.jwtSecret,
    jwks: config.jwks ? parseJwks(config.jwks) : undefined,
    jwksUrl: new URL(`${config.issuer}/.well-known/jwks.json`),
  }),
});
const port = Number(Deno.env.get('PORT') ?? '8000');
Deno.serve({ port, hostname: Deno.env.get('HOST') ?? '127.0.0.1', onListen: () => log('listening', { port }) }, handler);
