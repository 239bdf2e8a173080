import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayClient, type GatewayClientOptions } from '../../../src/payments/gateway/index.ts';
import {
  type BehaviourPatch,
  type GatewaySimulator,
  type MerchantAccount,
  startGatewaySimulator,
} from '../../../src/sims/gateway/index.ts';

export const MERCHANT: MerchantAccount = {
  teamSlug: 'test-team',
  password: 'p@ss:word with spaces',
  webhookSecret: 'whsec_test_secret',
};
export const OTHER_MERCHANT: MerchantAccount = {
  teamSlug: 'other-team',
  password: 'other-password',
  webhookSecret: 'whsec_other',
};

/** Test settings: no waiting a real minute for anything. */
export const FAST: BehaviourPatch = {
  stallMs: 20_000,
  webhookRetries: 3,
  webhookRetryBaseMs: 20,
  webhookTimeoutMs: 2_000,
};

export function startSim(behaviour: BehaviourPatch = {}): Promise<GatewaySimulator> {
  return startGatewaySimulator({
    merchants: [MERCHANT, OTHER_MERCHANT],
    behaviour: { ...FAST, ...behaviour },
  });
}

export function clientFor(
  sim: GatewaySimulator,
  overrides: Partial<GatewayClientOptions> = {},
  merchant: Pick<MerchantAccount, 'teamSlug' | 'password'> = MERCHANT,
): GatewayClient {
  return new GatewayClient({
    endpoint: sim.apiUrl,
    teamSlug: merchant.teamSlug,
    password: merchant.password,
    timeoutMs: 2_000,
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    ...overrides,
  });
}

export function orderId(label = 'order'): string {
  return `${label}-${randomUUID()}`;
}

/** Polls until `check` returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(
  check: () => T | undefined | Promise<T | undefined>,
  deadlineMs = 5_000,
): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`condition not met within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface ReceivedWebhook {
  raw: Buffer;
  headers: IncomingHttpHeaders;
  answeredWith: number;
}

/** A merchant's webhook endpoint on node:http: records raw bodies; answers with `plan`'s statuses in turn (then 200). */
export async function startReceiver() {
  const received: ReceivedWebhook[] = [];
  let plan: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const status = plan.shift() ?? 200;
      received.push({ raw: Buffer.concat(chunks), headers: req.headers, answeredWith: status });
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'ok' : 'not now');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/api/payments/notifications`,
    received,
    /** The next answers, in order (e.g. [500, 500] makes the next two deliveries fail). */
    answer(statuses: number[]) {
      plan = [...statuses];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Posts the card form as a browser would. */
export async function submitCard(
  sim: GatewaySimulator,
  paymentId: string,
  card: { number: string; expiry?: string; cvv?: string; name?: string },
  accept = 'text/html',
): Promise<Response> {
  return fetch(`${sim.apiUrl}/paymentform/submit`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept },
    body: new URLSearchParams({
      PaymentId: paymentId,
      CardNumber: card.number,
      ExpiryDate: card.expiry ?? '12/39',
      Cvv: card.cvv ?? '123',
      CardholderName: card.name ?? 'Ada Lovelace',
      Email: 'ada@example.com',
    }),
  });
}
