/**
 * `npm run mail-sink`: the Resend API emulator on its own, printing its link.
 * Environment: MAIL_SINK_PORT (default 54340), MAIL_SINK_API_KEY (default re_local_sink).
 */
import { startMailSink } from './index.ts';

const sink = await startMailSink({
  port: Number(process.env.MAIL_SINK_PORT ?? 54340),
  apiKey: process.env.MAIL_SINK_API_KEY || undefined,
  log: (line) => console.log(JSON.stringify(line)),
});
console.log(`Mail sink (Resend API emulator): ${sink.url}  (RESEND_BASE_URL=${sink.url} RESEND_API_KEY=${sink.apiKey})`);
const stop = () => void sink.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
