/**
 * `npm run mp-sandbox`: starts the sandbox and prints what a store needs.
 *
 * Environment: MP_SANDBOX_PORT (default 54330), MP_SANDBOX_HOST, MP_SANDBOX_ACCESS_TOKEN,
 * MP_SANDBOX_WEBHOOK_SECRET, MP_SANDBOX_COLLECTOR_ID, MP_SANDBOX_SITE_ID,
 * MP_SANDBOX_PUBLIC_URL, MP_SANDBOX_NOTIFICATION_URL, MP_SANDBOX_RETRY_SCHEDULE
 * (comma-separated ms), MP_SANDBOX_MERCHANT_ORDER_TOPIC. Flags override them: --port,
 * --host, --access-token, --webhook-secret, --collector-id, --site-id, --public-url,
 * --notification-url, --retry-schedule, --merchant-order-topic, --quiet (no JSON log lines).
 */
import { parseArgs } from 'node:util';
import { type SandboxOptions, startSandbox } from './index.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'access-token': { type: 'string' },
    'webhook-secret': { type: 'string' },
    'collector-id': { type: 'string' },
    'site-id': { type: 'string' },
    'public-url': { type: 'string' },
    'notification-url': { type: 'string' },
    'retry-schedule': { type: 'string' },
    'merchant-order-topic': { type: 'string' },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log('usage: npm run mp-sandbox -- [--port 54330] [--host 127.0.0.1] [--access-token TEST-...] [--webhook-secret S]');
  console.log('       [--collector-id N] [--site-id MLA] [--public-url URL] [--notification-url URL] [--retry-schedule 50,100]');
  console.log('       [--merchant-order-topic merchant_order|topic_merchant_order_wh|none] [--quiet]');
  process.exit(0);
}

const env = process.env;
const pick = (flag: string | undefined, name: string): string | undefined => flag ?? (env[name] || undefined);
const num = (value: string | undefined, name: string): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`mp-sandbox: ${name} must be a non-negative integer, got "${value}"`);
    process.exit(2);
  }
  return n;
};

const options: SandboxOptions = { port: num(pick(values.port, 'MP_SANDBOX_PORT'), 'port') ?? 54330 };
const host = pick(values.host, 'MP_SANDBOX_HOST');
if (host !== undefined) options.host = host;
const token = pick(values['access-token'], 'MP_SANDBOX_ACCESS_TOKEN');
if (token !== undefined) options.accessToken = token;
const secret = pick(values['webhook-secret'], 'MP_SANDBOX_WEBHOOK_SECRET');
if (secret !== undefined) options.webhookSecret = secret;
const collector = num(pick(values['collector-id'], 'MP_SANDBOX_COLLECTOR_ID'), 'collector id');
if (collector !== undefined) options.collectorId = collector;
const site = pick(values['site-id'], 'MP_SANDBOX_SITE_ID');
if (site !== undefined) options.siteId = site;
const publicUrl = pick(values['public-url'], 'MP_SANDBOX_PUBLIC_URL');
if (publicUrl !== undefined) options.publicUrl = publicUrl;
const notificationUrl = pick(values['notification-url'], 'MP_SANDBOX_NOTIFICATION_URL');
if (notificationUrl !== undefined) options.notificationUrl = notificationUrl;
const schedule = pick(values['retry-schedule'], 'MP_SANDBOX_RETRY_SCHEDULE');
if (schedule !== undefined) options.retrySchedule = schedule.split(',').map((s) => num(s.trim(), 'retry schedule') ?? 0);
const moTopic = pick(values['merchant-order-topic'], 'MP_SANDBOX_MERCHANT_ORDER_TOPIC');
if (moTopic !== undefined) options.merchantOrderTopic = moTopic as SandboxOptions['merchantOrderTopic'] & string;
if (!values.quiet) options.log = (line) => console.log(JSON.stringify({ t: new Date().toISOString(), ...line }));

try {
  const sandbox = await startSandbox(options);
  console.log(`mp-sandbox listening on ${sandbox.url}`);
  console.log(`  MP_BASE_URL=${sandbox.url}`);
  console.log(`  MP_ACCESS_TOKEN=${sandbox.accessToken}`);
  console.log(`  MP_WEBHOOK_SECRET=${sandbox.webhookSecret}`);
  console.log(`  collector_id=${sandbox.collectorId}  site_id=${sandbox.siteId}  checkout page: ${sandbox.publicUrl}/checkout/v1/redirect?pref_id=<id>`);
  console.log(`  control API: ${sandbox.url}/__sandbox  (see dev/mp-sandbox/README.md)`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`mp-sandbox: ${signal}, stopping`);
    void sandbox.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
} catch (err) {
  console.error(`mp-sandbox: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
