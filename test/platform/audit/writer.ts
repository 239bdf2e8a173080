/**
 * A separate process appending audit entries: `writer.ts <url> <count> <tag> <parallel>`. It waits for the
 * test to release a barrier (an advisory lock the test holds), so every writer starts at once.
 */
import postgres from 'postgres';
import { appendAudit } from '../../../src/platform/audit/index.ts';

export const BARRIER_KEY = 0x62_61_72;

const [url, countText, tag, parallelText] = process.argv.slice(2);
if (url && countText && tag && parallelText) {
  const count = Number(countText);
  const parallel = Number(parallelText);
  const sql = postgres(url, { max: parallel, onnotice: () => {} });
  await sql`select pg_advisory_lock_shared(${BARRIER_KEY})`;
  await sql`select pg_advisory_unlock_shared(${BARRIER_KEY})`;
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const n = next++;
        await sql.begin(async (tx) => {
          await tx`select 1`; // some work of the audited transaction before its entry
          await appendAudit(tx, {
            actorType: 'system',
            actorId: tag,
            action: 'test.append',
            resource: `writer:${tag}`,
            result: 'success',
            metadata: { n, pid: process.pid },
          });
        });
      }
    }),
  );
  await sql.end();
  process.stdout.write(`done ${tag} ${count}\n`);
}
