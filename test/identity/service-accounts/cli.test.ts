import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateClient } from '../../../src/identity/service-accounts/index.ts';
import type { Running } from '../../../src/platform/runtime.ts';
import { testConfig } from '../../helpers/config.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';
import { runCli } from '../../helpers/process.ts';
import { as, requestToken, startApi } from './harness.ts';

/** The real CLI (logs on, so a log line on stdout would show). */
const boxoffice = (args: string[], env: Record<string, string>) =>
  runCli(['service-accounts', ...args], { LOG_LEVEL: 'debug', ...env });

describe('boxoffice service-accounts (the CLI, beside a running platform)', () => {
  let db: TestDatabase;
  let api: Running;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startApi(db);
    // The API's own key: the CLI's hashes must be the ones the API checks.
    env = { DATABASE_URL: db.url, MASTER_KEY: testConfig().MASTER_KEY!, NODE_ENV: 'test' };
  });
  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  });

  it('create --json: exactly one JSON object {id, client_id, client_secret, role}; the running API takes it', async () => {
    const run = await boxoffice(['create', '--name', 'first-admin', '--role', 'ADMIN', '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.endsWith('\n')).toBe(true);
    expect(run.stdout.trimEnd().split('\n')).toHaveLength(1);
    const created = JSON.parse(run.stdout);
    expect(Object.keys(created).sort()).toEqual(['client_id', 'client_secret', 'id', 'role']);
    expect(created).toMatchObject({ id: expect.stringMatching(/^\d+$/), role: 'ADMIN' });
    expect(created.client_secret).toMatch(/^bxs_/);

    const token = await requestToken(api, created.client_id, created.client_secret);
    expect(token.statusCode).toBe(200);
    const listed = await as(api, `Bearer ${token.json().access_token}`, {
      method: 'GET',
      url: '/api/service-accounts',
    });
    expect(listed.statusCode).toBe(200);
    expect(listed.json().items.map((a: { name: string }) => a.name)).toContain('first-admin');

    const [entry] = await db.sql`
      select actor_type, actor_id, action from audit_log where resource = ${`service_account:${created.id}`}`;
    expect(entry).toMatchObject({ actor_type: 'system', actor_id: 'cli', action: 'service_account.create' });
  });

  it('list, rotate-secret, disable and enable; each change takes effect on the running API at once', async () => {
    const created = JSON.parse(
      (
        await boxoffice(
          ['create', '--name', 'ops-bot', '--role', 'USER', '--per-minute', '5', '--burst', '9', '--json'],
          env,
        )
      ).stdout,
    );
    const list = await boxoffice(['list', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    const rows = list.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(rows.find((r) => r.id === created.id)).toMatchObject({
      name: 'ops-bot',
      rate_limit: { per_minute: 5, burst: 9 },
    });
    expect(list.stdout).not.toContain('bxs_');

    const rotated = await boxoffice(['rotate-secret', created.id, '--json'], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    const { client_secret } = JSON.parse(rotated.stdout);
    expect(await authenticateClient(api.platform, created.client_id, created.client_secret)).toBeUndefined();
    expect(await authenticateClient(api.platform, created.client_id, client_secret)).toBeDefined();

    const disabled = await boxoffice(['disable', created.id], env);
    expect(disabled.code, disabled.stderr).toBe(0);
    expect(disabled.stdout).toBe('');
    expect((await requestToken(api, created.client_id, client_secret)).statusCode).toBe(401);
    expect((await boxoffice(['enable', created.id], env)).code).toBe(0);
    expect((await requestToken(api, created.client_id, client_secret)).statusCode).toBe(200);

    const actions = await db.sql`
      select action from audit_log where resource = ${`service_account:${created.id}`} and actor_id = 'cli' order by id`;
    expect(actions.map((a) => a.action)).toEqual([
      'service_account.create',
      'service_account.rotate_secret',
      'service_account.update',
      'service_account.update',
    ]);
  });

  it('says what is wrong on stderr, with nothing on stdout and a non-zero exit', async () => {
    const cases: [string[], number, RegExp][] = [
      [['create', '--name', 'x', '--role', 'ROOT', '--json'], 2, /role must be one of/],
      [['create', '--role', 'USER', '--json'], 2, /--name/],
      [['create', '--name', 'first-admin', '--role', 'USER', '--json'], 1, /exists already/],
      [['create', '--name', 'y', '--role', 'USER', '--per-minute', '5'], 2, /go together/],
      [['disable', '999999'], 1, /does not exist/],
      [['disable'], 2, /missing id/],
      [['frobnicate'], 2, /unknown action/],
      [['create', '--bogus'], 2, /bogus/],
    ];
    for (const [args, code, message] of cases) {
      const run = await boxoffice(args, env);
      expect(run.code, args.join(' ')).toBe(code);
      expect(run.stdout, args.join(' ')).toBe('');
      expect(run.stderr, args.join(' ')).toMatch(message);
    }
  });

  it('refuses to disable the last active ADMIN, naming the way out', async () => {
    const [admin] = await db.sql`select id::text from service_accounts where name = 'first-admin'`;
    const run = await boxoffice(['disable', admin!.id], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/last active ADMIN/);
  });
});
