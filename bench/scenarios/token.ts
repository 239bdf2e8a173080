import { randomBytes } from 'node:crypto';
import { createBenchAccount } from '../lib/platform-process.ts';
import type { Scenario } from '../lib/scenario.ts';

export interface BenchClient {
  clientId: string;
  clientSecret: string;
}

/**
 * A service account to benchmark with: BENCH_CLIENT_ID / BENCH_CLIENT_SECRET when given (any target), else
 * made with `boxoffice service-accounts create --json` against the database the runner's platform uses
 * (DATABASE_URL, or the bench's embedded one in .data/bench). Its rate limit is lifted so the bucket does
 * not turn the measurement into 429s.
 */
export function benchClient(role = 'READONLY'): BenchClient {
  if (process.env.BENCH_CLIENT_ID && process.env.BENCH_CLIENT_SECRET) {
    return { clientId: process.env.BENCH_CLIENT_ID, clientSecret: process.env.BENCH_CLIENT_SECRET };
  }
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
  if (!process.env.DATABASE_URL) {
    env.DATA_DIR = '.data/bench';
    env.EMBEDDED_PG_PORT = '54339';
  }
  const created = createBenchAccount(
    env,
    `bench-${role.toLowerCase()}-${randomBytes(4).toString('hex')}`,
    role,
  );
  return { clientId: created.client_id, clientSecret: created.client_secret };
}

/**
 * The token endpoint: POST /api/auth/token, form body + HTTP Basic (RFC 6749 §4.4), one service account.
 * Each answer is a fresh RS256 signature (about a millisecond of CPU) plus the client lookup (one indexed
 * row and an HMAC): compare the server's µs per request with the bare-Node ceiling of the same run.
 */
const token: Scenario = {
  name: 'token',
  description: 'POST /api/auth/token (client_credentials, HTTP Basic): one RS256 signature per answer',
  async setup() {
    const client = benchClient();
    console.error(`token: service account ${client.clientId}`);
    return client;
  },
  load({ data }) {
    const { clientId, clientSecret } = data as BenchClient;
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString(
      'base64',
    );
    return {
      kind: 'request',
      request: {
        method: 'POST',
        path: '/api/auth/token',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      },
    };
  },
};

export default token;
