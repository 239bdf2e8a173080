import type { Scenario } from '../lib/scenario.ts';
import { benchClient } from './token.ts';

/**
 * POST /api/files with a 64 KiB raw body, through the generic runner (HTTP hello-world ceiling). The
 * storage figures the issue asks for (64 KiB and 8 MiB uploads and downloads against a bare Node
 * write + fsync + rename + directory fsync loop on the same disk, RSS) come from
 * `npx tsx bench/file-ingest.ts` (docs/files.md, "Performance").
 */
const SIZE = 64 * 1024;

const fileIngest: Scenario = {
  name: 'file-ingest',
  description:
    'POST /api/files, 64 KiB raw bodies (full write protocol); see bench/file-ingest.ts for the disk ceiling',
  async setup({ baseUrl }) {
    const client = benchClient('USER');
    const response = await fetch(`${baseUrl}/api/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: client.clientId, client_secret: client.clientSecret }),
    });
    const body = (await response.json()) as { access_token?: string; error?: string };
    if (!response.ok || !body.access_token)
      throw new Error(`token request answered ${response.status}: ${body.error}`);
    return { token: body.access_token };
  },
  load({ data }) {
    const { token } = data as { token: string };
    return {
      kind: 'request',
      request: {
        method: 'POST',
        path: '/api/files',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/octet-stream',
          'content-disposition': 'attachment; filename="bench.bin"',
        },
        body: 'x'.repeat(SIZE),
      },
    };
  },
};

export default fileIngest;
