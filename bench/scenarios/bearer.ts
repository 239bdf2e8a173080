import type { Scenario } from '../lib/scenario.ts';
import { type BenchClient, benchClient } from './token.ts';

/**
 * A cheap Bearer-protected route: GET /api/auth/whoami with one access token. The token is verified once
 * (one RSA verify) and then served from the verified-token cache, so this measures the cached path: a
 * SHA-256 of the token, a Map lookup, the service account directory's in-memory copy, the rate limit
 * bucket. Run `health` with the same settings: the difference in server µs per request is what auth adds.
 */
const bearer: Scenario = {
  name: 'bearer',
  description: 'GET /api/auth/whoami with a Bearer token (verified once, then cached): compare with health',
  async setup({ baseUrl }) {
    const client: BenchClient = benchClient();
    const response = await fetch(`${baseUrl}/api/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: client.clientId, client_secret: client.clientSecret }),
    });
    const body = (await response.json()) as { access_token?: string; error?: string };
    if (!response.ok || !body.access_token)
      throw new Error(`token request answered ${response.status}: ${body.error}`);
    console.error(`bearer: token for ${client.clientId}`);
    return { token: body.access_token };
  },
  load({ data }) {
    const { token } = data as { token: string };
    return {
      kind: 'request',
      request: { method: 'GET', path: '/api/auth/whoami', headers: { authorization: `Bearer ${token}` } },
    };
  },
};

export default bearer;
