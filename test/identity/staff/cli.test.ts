import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../../../src/platform/runtime.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';
import { runCli } from '../../helpers/process.ts';
import { signIn, startApi, TestClock } from './harness.ts';

/** The real CLI, optionally fed on stdin (logs on, so a log line on stdout would show). */
const boxoffice = (args: string[], env: Record<string, string>, stdin?: string) =>
  runCli(args, { LOG_LEVEL: 'info', ...env }, stdin);

describe('boxoffice staff (the CLI, beside a running platform)', () => {
  let db: TestDatabase;
  let api: Running;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startApi(db, new TestClock());
    env = {
      DATABASE_URL: db.url,
      MASTER_KEY: 'Ym94b2ZmaWNlLXRlc3QtbWFzdGVyLWtleS0wMTIzNDU=',
      NODE_ENV: 'test',
    };
  });
  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  });

  it('create --json prints exactly one JSON object {id, email, role, password} on stdout', async () => {
    const run = await boxoffice(
      ['staff', 'create', '--email', 'First@Admin.test', '--role', 'admin', '--json'],
      env,
    );
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('');
    const answer = JSON.parse(lines[0]!);
    expect(Object.keys(answer).sort()).toEqual(['email', 'id', 'password', 'role']);
    expect(answer).toMatchObject({ email: 'first@admin.test', role: 'admin', id: expect.any(Number) });
    expect(answer.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    // The running platform signs the new admin in at once.
    const browser = await signIn(api, answer);
    expect(browser.response.json().role).toBe('admin');
    const [entry] = await db.sql`select actor_type, actor_id from audit_log where action = 'staff.create'`;
    expect(entry).toEqual({ actor_type: 'system', actor_id: 'cli' });
  });

  it('--password-stdin takes the password from stdin; list --json shows members', async () => {
    const run = await boxoffice(
      ['staff', 'create', '--email', 'analyst@cli.test', '--role', 'analyst', '--json', '--password-stdin'],
      env,
      'a password from stdin\n',
    );
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      id: expect.any(Number),
      email: 'analyst@cli.test',
      role: 'analyst',
    });
    expect(
      (await signIn(api, { email: 'analyst@cli.test', password: 'a password from stdin' })).response
        .statusCode,
    ).toBe(200);
    const list = await boxoffice(['staff', 'list', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    const members = list.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(members.map((m) => m.email)).toEqual(['first@admin.test', 'analyst@cli.test']);
  });

  it('disable ends the member’s sessions at once; reset-password --json gives a new password', async () => {
    const member = { email: 'analyst@cli.test', password: 'a password from stdin' };
    const browser = await signIn(api, member);
    const disabled = await boxoffice(['staff', 'disable', 'Analyst@cli.test'], env);
    expect(disabled.code, disabled.stderr).toBe(0);
    expect(disabled.stdout).toContain('disabled');
    expect((await browser.send(api, { method: 'GET', url: '/api/admin/me' })).statusCode).toBe(401);
    expect((await boxoffice(['staff', 'enable', member.email], env)).code).toBe(0);

    const again = await signIn(api, member);
    const reset = await boxoffice(['staff', 'reset-password', member.email, '--json'], env);
    expect(reset.code, reset.stderr).toBe(0);
    const { password } = JSON.parse(reset.stdout);
    expect((await again.send(api, { method: 'GET', url: '/api/admin/me' })).statusCode).toBe(401);
    await expect(signIn(api, member)).rejects.toThrow(/401/);
    expect((await signIn(api, { email: member.email, password })).response.statusCode).toBe(200);
  });

  it('refuses clearly: a taken email, a bad role, the last admin, an unknown email', async () => {
    const taken = await boxoffice(
      ['staff', 'create', '--email', 'first@admin.test', '--role', 'admin', '--json'],
      env,
    );
    expect(taken.code).toBe(1);
    expect(taken.stdout).toBe('');
    expect(taken.stderr).toContain('STAFF_EXISTS');
    const role = await boxoffice(['staff', 'create', '--email', 'x@cli.test', '--role', 'owner'], env);
    expect(role.code).toBe(2);
    expect(role.stderr).toContain('--role must be one of admin, manager, analyst');
    const last = await boxoffice(['staff', 'disable', 'first@admin.test'], env);
    expect(last.code).toBe(1);
    expect(last.stderr).toContain('LAST_ADMIN');
    const unknown = await boxoffice(['staff', 'disable', 'nobody@cli.test'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no staff member with the email nobody@cli.test');
  });
});
