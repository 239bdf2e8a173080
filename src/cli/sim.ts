import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { simulatorOptionsFromConfig, startGatewaySimulator } from '../sims/gateway/index.ts';
import { startNotifyPeers } from '../sims/notify/index.ts';
import { UsageError } from './seed.ts';

export const SIM_HELP = `boxoffice sim gateway [--port N] [--host H]
  Runs the payment gateway simulator on its own: the gateway API under /api/v1/ (init, check,
  confirm, cancel), the card form buyers pay on, signed status webhooks, and the gateway's failure
  modes. Point PAYMENT_ENDPOINT at http://HOST:PORT/api/v1 to use it from other processes (with
  PAYMENT_ENDPOINT unset, \`start\` runs one in-process instead).

  --port N   listen on N (default SIM_GATEWAY_PORT, 8090; 0 = any free port)
  --host H   bind to H (default SIM_GATEWAY_HOST, 127.0.0.1)

  It accepts the merchant MERCHANT_ID with MERCHANT_PASSWORD and signs webhooks with
  PAYMENT_WEBHOOK_SECRET. Failure modes come from the SIM_* variables and can be changed while it
  runs: POST /__sim/config with a JSON patch (GET shows the current settings), POST /__sim/faults
  for a one-off fault. Payments live in memory: a restart forgets them. See docs/payments.md.

boxoffice sim notify [--host H] [--smtp-port N] [--inbox-port N] [--sms-port N] [--push-port N]
  Runs the notification peers for development and tests (docs/notify.md): an SMTP server that
  keeps what it receives (SIM_NOTIFY_SMTP_PORT, 2525) with its inbox over HTTP (GET /api/messages,
  SIM_NOTIFY_INBOX_PORT, 8025), an SMS provider API (POST /messages, SIM_NOTIFY_SMS_PORT, 8091)
  and a Web Push service that checks VAPID and decrypts RFC 8291 payloads (POST /push/{id},
  SIM_NOTIFY_PUSH_PORT, 8092), on SIM_NOTIFY_HOST (127.0.0.1). Point SMTP_URL and SMS_PROVIDER_URL
  at them to use them from other processes. Each has failure modes:
  POST /__sim/config for a lasting one, POST /__sim/faults for a one-off. Messages live in memory.
`;

/** Which options each simulator reads, so one meant for the other is refused rather than ignored. */
const SIM_FLAGS: Record<'gateway' | 'notify', string[]> = {
  gateway: ['port', 'host'],
  notify: ['host', 'smtp-port', 'inbox-port', 'sms-port', 'push-port'],
};

export async function runSimCommand(config: Config, logger: Logger, args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    throw new UsageError(`sim: ${(error as Error).message}\n\n${SIM_HELP}`);
  }
  const [kind, ...extra] = parsed.positionals;
  if ((kind !== 'gateway' && kind !== 'notify') || extra.length > 0)
    throw new UsageError(
      `sim: the simulators are: gateway, notify (got ${JSON.stringify(parsed.positionals.join(' '))})`,
    );
  const foreign = Object.keys(parsed.values).filter((flag) => !SIM_FLAGS[kind].includes(flag));
  if (foreign.length > 0)
    throw new UsageError(
      `sim ${kind}: ${foreign.map((f) => `--${f}`).join(', ')} is not its option (it takes ${SIM_FLAGS[kind]
        .map((f) => `--${f}`)
        .join(', ')})`,
    );
  if (kind === 'notify') return runNotifyPeers(config, parsed.values);
  const options = simulatorOptionsFromConfig(config, logger);
  if (parsed.values.port !== undefined) options.port = portOption('--port', parsed.values.port);
  if (parsed.values.host !== undefined) options.host = parsed.values.host;

  const simulator = await startGatewaySimulator(options);
  process.stdout.write(
    `payment gateway simulator: ${simulator.apiUrl} (merchant ${config.MERCHANT_ID}; admin: ${simulator.url}/__sim/config)\n`,
  );
  await untilStopped();
  await simulator.stop();
  return 0;
}

async function runNotifyPeers(config: Config, values: ReturnType<typeof parse>['values']): Promise<number> {
  const port = (flag: string, value: string | undefined, fallback: number) =>
    value === undefined ? fallback : portOption(flag, value);
  const peers = await startNotifyPeers({
    host: values.host ?? config.SIM_NOTIFY_HOST,
    ports: {
      smtp: port('--smtp-port', values['smtp-port'], config.SIM_NOTIFY_SMTP_PORT),
      inbox: port('--inbox-port', values['inbox-port'], config.SIM_NOTIFY_INBOX_PORT),
      sms: port('--sms-port', values['sms-port'], config.SIM_NOTIFY_SMS_PORT),
      push: port('--push-port', values['push-port'], config.SIM_NOTIFY_PUSH_PORT),
    },
  });
  process.stdout.write(
    `notify peers: SMTP ${peers.smtpUrl} (inbox ${peers.inboxUrl}/api/messages), SMS ${peers.smsUrl}/messages, ` +
      `Web Push ${peers.pushUrl}\n`,
  );
  await untilStopped();
  await peers.stop();
  return 0;
}

function portOption(flag: string, value: string): number {
  const port = Number(value);
  if (!/^[0-9]+$/.test(value) || port > 65535)
    throw new UsageError(`sim: ${flag} must be an integer from 0 to 65535, got ${value}`);
  return port;
}

function untilStopped(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'smtp-port': { type: 'string' },
      'inbox-port': { type: 'string' },
      'sms-port': { type: 'string' },
      'push-port': { type: 'string' },
    },
  });
}
