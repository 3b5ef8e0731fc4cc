/**
 * `npm start`: the whole stack without Docker (see dev/stack/README.md).
 *
 *   npm start                      start (data kept in .local/stack)
 *   npm start -- --reset           wipe the data first
 *   npm start -- --no-storefront   without the demo storefront (and the dashboard)
 *   npm start -- --no-admin        without the store owner's dashboard (<storefront>/admin/)
 *   npm start -- --no-next         without the Next.js storefront (web/next; built on first start)
 *   npm start -- --api-port 64321 --db-port 64322 --mp-port 64330 --web-port 6173 --next-port 4000 --data-dir /tmp/stack
 *
 * Run as `exec node --import tsx dev/stack/start.ts` (package.json) so that npm
 * forwards SIGTERM straight to this process (no intermediate shell or tsx
 * wrapper that could die and leave it orphaned).
 *
 * Checks the prerequisites first and prints one clear message when one is
 * missing (exit 1). Ctrl-C (SIGINT), SIGTERM or SIGHUP stop every child
 * process: the Deno functions and PostgreSQL.
 */
import { parseArgs } from 'node:util';
import { relative } from 'node:path';
import type { Country } from '../../edge/_shared/country.ts';
import { parseCountry } from './country.ts';
import { checkPrerequisites, DEFAULT_PORTS, PORT_SETTINGS, type PortName, PrerequisiteError, type Stack, type StackOptions, startStack } from './stack.ts';

function fail(message: string): never {
  process.stderr.write(`\nnpm start: ${message}\n\n`);
  process.exit(1);
}

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    args: process.argv.slice(2),
    options: {
      reset: { type: 'boolean', default: false },
      'no-storefront': { type: 'boolean', default: false },
      'no-admin': { type: 'boolean', default: false },
      'no-next': { type: 'boolean', default: false },
      'api-port': { type: 'string' },
      'db-port': { type: 'string' },
      'mp-port': { type: 'string' },
      'mail-port': { type: 'string' },
      'web-port': { type: 'string' },
      'next-port': { type: 'string' },
      'data-dir': { type: 'string' },
      country: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
}
try {
  args = parse();
} catch (err) {
  fail(`${(err as Error).message}. See npm start -- --help.`);
}
const v = args.values;

if (v.help) {
  console.log(`usage: npm start -- [--reset] [--no-storefront] [--no-admin] [--no-next] [--data-dir DIR] [--country AR|BR|MX|CL|CO|PE|UY]
                    [--api-port ${DEFAULT_PORTS.api}] [--db-port ${DEFAULT_PORTS.db}] [--mp-port ${DEFAULT_PORTS.mp}] [--mail-port ${DEFAULT_PORTS.mail}] [--web-port ${DEFAULT_PORTS.web}] [--next-port ${DEFAULT_PORTS.next}] [--quiet]
Environment: ${Object.values(PORT_SETTINGS).map((s) => s.env).join(', ')}, STACK_DATA_DIR, STORE_COUNTRY, RESERVATION_TTL_SECONDS,
             SUPABASE_JWT_SECRET, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY,
             MP_SANDBOX_ACCESS_TOKEN, MP_SANDBOX_WEBHOOK_SECRET, MP_SANDBOX_RETRY_SCHEDULE (see dev/stack/README.md)`);
  process.exit(0);
}

function port(which: PortName): number {
  const flag = v[`${which}-port` as const];
  const raw = flag ?? process.env[PORT_SETTINGS[which].env];
  if (raw === undefined || raw === '') return DEFAULT_PORTS[which];
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    fail(`${flag !== undefined ? PORT_SETTINGS[which].flag : PORT_SETTINGS[which].env} must be a port number (0-65535), got "${raw}".`);
  }
  return n;
}

function positiveNumber(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) fail(`${name} must be a positive number, got "${raw}".`);
  return n;
}

const retrySchedule = process.env.MP_SANDBOX_RETRY_SCHEDULE ? process.env.MP_SANDBOX_RETRY_SCHEDULE.split(',').map((s) => Number(s.trim())) : undefined;
if (retrySchedule?.some((n) => !Number.isFinite(n) || n < 0)) fail('MP_SANDBOX_RETRY_SCHEDULE must be comma-separated delays in ms.');

const countryArg = v.country ?? (process.env.STORE_COUNTRY || undefined);
let country: Country | undefined;
try {
  country = countryArg === undefined ? undefined : parseCountry(countryArg);
} catch (err) {
  fail(`${v.country !== undefined ? '--country' : 'STORE_COUNTRY'}: ${(err as Error).message}.`);
}

const quiet = v.quiet;
const options: StackOptions = {
  dataDir: v['data-dir'] ?? (process.env.STACK_DATA_DIR || undefined),
  reset: v.reset,
  ports: { api: port('api'), db: port('db'), mp: port('mp'), mail: port('mail'), web: port('web'), next: port('next') },
  serveStorefront: !v['no-storefront'],
  serveAdmin: !v['no-admin'],
  serveNext: !v['no-next'],
  reservationTtlSeconds: positiveNumber('RESERVATION_TTL_SECONDS'),
  country,
  watch: true,
  sandbox: {
    accessToken: process.env.MP_SANDBOX_ACCESS_TOKEN || undefined,
    webhookSecret: process.env.MP_SANDBOX_WEBHOOK_SECRET || undefined,
    retrySchedule,
  },
  log: (line) => {
    if (quiet && /^\[/.test(line)) return;
    console.log(line);
  },
};

let stack: Stack | undefined;
let stopping = false;
let startupDone = false;

async function shutdown(signal: string): Promise<void> {
  if (stopping) return; // Ctrl-C reaches us twice (the terminal and tsx relaying it): stop once.
  stopping = true;
  if (!startupDone) {
    console.log(`\n${signal}: stopping as soon as the start-up step in progress ends...`);
    return; // main() sees `stopping` when startStack settles and stops what it started.
  }
  console.log(`\n${signal}: stopping the Edge Functions, the sandbox and PostgreSQL...`);
  const force = setTimeout(() => {
    console.error('Still stopping after 20 s; giving up. Check for leftover deno or postgres processes.');
    process.exit(1);
  }, 20_000);
  force.unref();
  await stack?.stop();
  console.log('Stopped.');
  process.exit(0);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void shutdown(sig));
// If whoever started us dies without a signal reaching us (npm killed with
// SIGKILL, a closed pipe), we are re-parented: stop rather than linger.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void shutdown('parent process exited');
}, 1000).unref();

async function main(): Promise<void> {
  try {
    await checkPrerequisites(options);
  } catch (err) {
    if (err instanceof PrerequisiteError) fail(err.message);
    throw err;
  }
  try {
    stack = await startStack(options);
  } catch (err) {
    if (stopping) process.exit(130);
    if (err instanceof PrerequisiteError) fail(err.message);
    const e = err as Error;
    fail(`could not start the local stack: ${process.env.DEBUG ? (e.stack ?? e.message) : e.message.trim()}`);
  }
  startupDone = true;
  if (stopping) {
    await stack.stop();
    process.exit(130);
  }
  const s = stack;
  const rel = relative(process.cwd(), s.dataDir);
  const dataDir = rel && !rel.startsWith('..') ? rel : s.dataDir;
  const lines = [
    '',
    'Local stack ready (Ctrl-C stops everything):',
    `  API (SUPABASE_URL)     ${s.apiUrl}`,
    `    anon key             ${s.anonKey}`,
    `    service_role key     ${s.serviceRoleKey}`,
    `    secret key           ${s.secretKey}`,
    `    JWT secret           ${s.jwtSecret}`,
    `  Edge Functions         ${s.apiUrl}/functions/v1/<name>  (${s.functions.join(', ') || 'none found in edge/'})`,
    `  Database               ${s.dbUrl}`,
    `  MercadoPago sandbox    ${s.mpUrl}`,
    `    MP_ACCESS_TOKEN      ${s.sandbox.accessToken}`,
    `    MP_WEBHOOK_SECRET    ${s.sandbox.webhookSecret}`,
    `  Mail sink (emails)     open ${s.mailSink.url}  (Resend API emulator; send-emails runs every minute)`,
    s.webUrl ? `  Storefront             open ${s.webUrl}` : '  Storefront             not served (--no-storefront)',
    s.adminUrl
      ? `  Store dashboard        open ${s.adminUrl}  (staff only: npm run staff:add -- <email> --password <password>)`
      : '  Store dashboard        not served (--no-admin or --no-storefront)',
    s.nextUrl
      ? `  Next.js storefront     open ${s.nextUrl}  (server-rendered; the session in an HTTP-only cookie)`
      : '  Next.js storefront     not served (--no-next)',
    `  Data                   ${dataDir} (npm start -- --reset starts clean)`,
    '',
  ];
  console.log(lines.join('\n'));
}

process.on('uncaughtException', (err) => {
  console.error(`npm start: unexpected error: ${err.stack ?? err.message}`);
  void (stack?.stop() ?? Promise.resolve()).finally(() => process.exit(1));
});

await main();
