import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { simulatorOptionsFromConfig, startGatewaySimulator } from '../sims/gateway/index.ts';
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
`;

export async function runSimCommand(config: Config, logger: Logger, args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    throw new UsageError(`sim: ${(error as Error).message}\n\n${SIM_HELP}`);
  }
  const [kind, ...extra] = parsed.positionals;
  if (kind !== 'gateway' || extra.length > 0)
    throw new UsageError(
      `sim: the simulators are: gateway (got ${JSON.stringify(parsed.positionals.join(' '))})`,
    );
  const options = simulatorOptionsFromConfig(config, logger);
  if (parsed.values.port !== undefined) {
    const port = Number(parsed.values.port);
    if (!/^[0-9]+$/.test(parsed.values.port) || port > 65535)
      throw new UsageError(`sim: --port must be an integer from 0 to 65535, got ${parsed.values.port}`);
    options.port = port;
  }
  if (parsed.values.host !== undefined) options.host = parsed.values.host;

  const simulator = await startGatewaySimulator(options);
  process.stdout.write(
    `payment gateway simulator: ${simulator.apiUrl} (merchant ${config.MERCHANT_ID}; admin: ${simulator.url}/__sim/config)\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await simulator.stop();
  return 0;
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: { port: { type: 'string' }, host: { type: 'string' } },
  });
}
