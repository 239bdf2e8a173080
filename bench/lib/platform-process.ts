import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * What the standalone benchmarks (file-ingest, notify-blast) do to drive a platform they start as child
 * processes (and the `token` scenario): a service account with no practical rate limit from the CLI, the wait for readiness, and
 * an access token.
 */
export function createBenchAccount(
  env: Record<string, string | undefined>,
  name: string,
  role = 'ADMIN',
): { client_id: string; client_secret: string } {
  return JSON.parse(
    execFileSync(
      process.execPath,
      [
        'bin/boxoffice.js',
        'service-accounts',
        'create',
        '--name',
        name,
        '--role',
        role,
        '--json',
        '--per-minute',
        '10000000',
        '--burst',
        '10000000',
      ],
      { cwd: repoRoot, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  ) as { client_id: string; client_secret: string };
}

/** Waits up to 30 s for `GET /health/ready` to answer 200. */
export async function untilReady(baseUrl: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${baseUrl}/health/ready`)).ok) return;
    } catch {}
    if (i > 300) throw new Error(`the API at ${baseUrl} did not start`);
    await sleep(100);
  }
}

export async function accessToken(
  baseUrl: string,
  account: { client_id: string; client_secret: string },
): Promise<string> {
  const response = await fetch(`${baseUrl}/api/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: account.client_id, client_secret: account.client_secret }),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}
