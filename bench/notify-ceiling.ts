import { parseArgs } from 'node:util';
import nodemailer from 'nodemailer';
import webpush from 'web-push';

// One bare sender of the notify-blast ceiling (bench/notify-blast.ts runs one per worker process, at once):
// `--channel email|sms|push` for `--seconds` at `--concurrency` sends in flight, straight to the peers, with
// none of the platform (no queue, no database, no templates). Prints `{"perSecond": N}`.
const { values } = parseArgs({
  options: {
    channel: { type: 'string' },
    seconds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '64' },
    smtp: { type: 'string' },
    sms: { type: 'string' },
    subscription: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);

async function forSeconds(task: (i: number) => Promise<void>): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        await task(next++);
        done++;
      }
    }),
  );
  return done / seconds;
}

const tag = `${process.pid}-`;
let perSecond = 0;
if (values.channel === 'email') {
  const url = new URL(values.smtp!);
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: Math.max(1, Math.min(32, Math.ceil(concurrency / 8))),
    maxMessages: Number.POSITIVE_INFINITY,
    host: url.hostname,
    port: Number(url.port),
    secure: false,
  });
  perSecond = await forSeconds(async (i) => {
    await transport.sendMail({
      from: 'b@bench.test',
      to: `c${tag}${i}@bench.test`,
      subject: 'Hi',
      html: '<p>Hi Anna, <a href="https://bench.test/sale">the sale</a> is on.</p>',
      text: 'Hi Anna, the sale is on.',
    });
  });
  transport.close();
} else if (values.channel === 'sms') {
  perSecond = await forSeconds(async (i) => {
    const r = await fetch(values.sms!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        to: `+78${String(process.pid % 100).padStart(2, '0')}${String(i).padStart(7, '0')}`,
        text: 'Hi Anna, the sale is on',
      }),
    });
    await r.arrayBuffer();
  });
} else if (values.channel === 'push') {
  const sub = JSON.parse(values.subscription!) as {
    endpoint: string;
    keys: { p256dh: string; auth: string };
  };
  const vapid = webpush.generateVAPIDKeys();
  // The same shortcut the platform takes: one VAPID token per push service, not one per push.
  const { Authorization } = webpush.getVapidHeaders(
    new URL(sub.endpoint).origin,
    'mailto:b@bench.test',
    vapid.publicKey,
    vapid.privateKey,
    'aes128gcm',
    Math.floor(Date.now() / 1000) + 3600,
  );
  perSecond = await forSeconds(async () => {
    const d = webpush.generateRequestDetails(sub, '{"title":"Sale","body":"Hi Anna, the sale is on"}', {
      headers: { Authorization },
    });
    const r = await fetch(d.endpoint, {
      method: d.method,
      headers: d.headers as Record<string, string>,
      body: d.body as Buffer,
    });
    await r.arrayBuffer();
  });
} else {
  console.error('notify-ceiling: --channel email|sms|push');
  process.exit(2);
}
console.log(JSON.stringify({ perSecond }));
