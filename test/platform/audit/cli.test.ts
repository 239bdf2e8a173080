import { afterAll, beforeAll, expect, it } from 'vitest';
import { appendAudit } from '../../../src/platform/audit/index.ts';
import { testConfig } from '../../helpers/config.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';
import { spawnNode } from '../../helpers/process.ts';
import { tamper } from './helpers.ts';

/** `boxoffice audit verify` and `boxoffice audit checkpoint`, as real processes. */
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db?.drop());

async function boxoffice(...args: string[]) {
  const run = spawnNode(['audit', ...args], {
    DATABASE_URL: db.url,
    MASTER_KEY: testConfig().MASTER_KEY!,
    LOG_LEVEL: 'silent',
    NODE_ENV: 'test',
  });
  const { code } = await run.exited;
  return { code, output: run.output() };
}

it('verifies, checkpoints, and exits 1 with the first bad id when the chain was tampered with', async () => {
  expect(await boxoffice('verify')).toEqual({ code: 0, output: 'audit log intact: 0 entries\n' });
  expect(await boxoffice('checkpoint')).toEqual({
    code: 0,
    output: 'no checkpoint written: the audit log is empty\n',
  });
  for (let n = 1; n <= 3; n++) {
    await appendAudit(db.sql, {
      actorType: 'system',
      actorId: null,
      action: 'cli.test',
      resource: `r:${n}`,
      result: 'success',
    });
  }
  const written = await boxoffice('checkpoint', '--json');
  expect(written.code).toBe(0);
  expect(JSON.parse(written.output)).toMatchObject({ written: true, checkpoint: { head_id: '3' } });
  expect((await boxoffice('checkpoint')).output).toBe(
    'no checkpoint written: the chain has not grown since the checkpoint of entry 3\n',
  );
  const [head] = await db.sql`select hash from audit_log where id = 3`;
  const ok = await boxoffice('verify', '--json');
  expect(ok.code).toBe(0);
  expect(JSON.parse(ok.output)).toEqual({ valid: true, entries: 3, head: { id: '3', hash: head!.hash } });

  await tamper(db.sql, (tx) => tx`delete from audit_log where id = 3`);
  const cut = await boxoffice('verify', '--json');
  expect(cut.code).toBe(1);
  expect(JSON.parse(cut.output)).toMatchObject({ valid: false, first_bad_id: '3' });
  const human = await boxoffice('verify');
  expect(human.code).toBe(1);
  expect(human.output).toMatch(
    /^audit log TAMPERED at entry 3: the chain ends at entry 2, but a signed checkpoint/,
  );
});

it('refuses unknown subcommands and options with usage, exit 2', async () => {
  expect((await boxoffice('rewrite')).code).toBe(2);
  const bad = await boxoffice('verify', '--fast');
  expect(bad.code).toBe(2);
  expect(bad.output).toMatch(/--fast/);
});
