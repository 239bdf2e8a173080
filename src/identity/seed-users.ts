import type { SeedContext, SeedProfile } from '../platform/seeding.ts';
import { generateUser } from './generated-users.ts';
import { advanceUserIds, insertUsers } from './store.ts';

const BATCH = 10_000;

/** Users 1..profile.users in the release's format; existing ids are left alone, so re-runs only fill gaps. */
export async function seedUsers(context: SeedContext, profile: SeedProfile): Promise<void> {
  const progress = context.progress('users', profile.users);
  for (let first = 1; first <= profile.users; first += BATCH) {
    const last = Math.min(profile.users, first + BATCH - 1);
    const rows = [];
    for (let id = first; id <= last; id++) rows.push(generateUser(profile.seed, id).row);
    await insertUsers(context.db, rows);
    progress.tick(rows.length);
  }
  progress.done();
  await advanceUserIds(context.db);
}
