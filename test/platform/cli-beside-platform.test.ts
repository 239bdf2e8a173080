import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/identity/passwords.ts';
import { answers, lineMatching, tempDataDir } from '../helpers/embedded.ts';
import { freePort, type Spawned, spawnNode, waitForOk } from '../helpers/process.ts';

const EMBEDDED_USER = new URL('../fixtures/embedded-user.ts', import.meta.url).pathname;
const HEADER =
  'user_id,email,password_hash,password_plain,first_name,surname,birthday,registered_at,is_active,last_logged_in';

/**
 * `npm start` on the embedded database (no DATABASE_URL) and a CLI command beside it: the command
 * uses the running server and leaves it running; the platform stopping leaves it to the command.
 */
describe('a CLI command beside a running platform (embedded PostgreSQL)', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let env: Record<string, string>;
  let platform: Spawned;
  let base: string;
  beforeAll(async () => {
    data = await tempDataDir({ open: true });
    const port = await freePort();
    env = {
      DATA_DIR: data.dataDir,
      EMBEDDED_PG_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
      SEED_DEMO_ON_START: 'false',
    };
    platform = spawnNode(['start'], {
      ...env,
      PORT: String(port),
      DROPS_CONTEST_PORT: '0',
      SIM_GATEWAY_PORT: '0',
    });
    base = `http://127.0.0.1:${port}`;
    // Fail at once, with its output, if the platform exits instead of getting ready.
    let ready = false;
    await Promise.race([
      waitForOk(`${base}/health/ready`, 60_000).then(() => {
        ready = true;
      }),
      platform.exited.then((exit) => {
        if (!ready)
          throw new Error(
            `the platform exited (${JSON.stringify(exit)}) before it was ready:\n${platform.output()}`,
          );
      }),
    ]);
  });
  afterAll(async () => {
    platform?.child.kill('SIGKILL');
    await data?.remove();
  });

  it('`boxoffice import` of a users file leaves the platform answering, and it sees the new users', async () => {
    const password = 'Beside:the/platform1';
    const email = 'beside_platform_900001@check.local';
    writeFileSync(
      join(data.dataDir, '..', 'users.csv'),
      `${HEADER}\n900001,${email},${sha256Hex(password)},${password},Beside,Platform,,2024-01-01 00:00:00,true,\n`,
    );
    const run = spawnNode(['import', join(data.dataDir, '..')], env);
    expect(await run.exited, run.output()).toMatchObject({ code: 0 });

    expect((await fetch(`${base}/health/ready`)).status).toBe(200);
    const basic = `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}`;
    const bookings = await fetch(`${base}/api/bookings`, { headers: { authorization: basic } });
    expect(bookings.status, await bookings.clone().text()).toBe(200);
    expect(await bookings.json()).toEqual([]);
    const wrong = `Basic ${Buffer.from(`${email}:not-it`).toString('base64')}`;
    expect((await fetch(`${base}/api/bookings`, { headers: { authorization: wrong } })).status).toBe(401);
  });

  it('a platform stopping while a command still uses the server leaves it running for the command', async () => {
    const command = spawnNode([], env, EMBEDDED_USER);
    const adminUrl = (await lineMatching(command, /^ready /)).slice('ready '.length);
    platform.child.kill('SIGTERM');
    expect(await platform.exited, platform.output()).toEqual({ code: 0, signal: null });
    expect(await answers(adminUrl)).toBe(true);

    command.child.kill('SIGTERM');
    expect(await command.exited, command.output()).toEqual({ code: 0, signal: null });
    expect(await answers(adminUrl)).toBe(false);
  });
});
