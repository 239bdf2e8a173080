import { appendAudit } from '../../platform/audit/index.ts';
import type { Platform } from '../../platform/context.ts';
import { hashPassword } from '../passwords.ts';
import { generatePassword, normalizeEmail } from './service.ts';
import { countStaff, insertStaff } from './store.ts';

/**
 * The demo admin: on a start with SEED_DEMO_ON_START and no staff member at all (the first start of a
 * fresh install), STAFF_DEMO_ADMIN_EMAIL is created with a generated password, which is printed once
 * on stderr and kept nowhere but as its scrypt hash. Once any staff member exists this never runs
 * again; several processes starting at once create (and print) it once, under an advisory lock.
 * `boxoffice seed` leaves staff alone: its data is generated and re-runnable, accounts are not.
 */
export async function ensureDemoAdmin(
  platform: Platform,
  print: (text: string) => void = (text) => process.stderr.write(text),
): Promise<{ email: string; password: string } | undefined> {
  const { config, db, logger } = platform;
  if (!config.SEED_DEMO_ON_START) return undefined;
  if ((await countStaff(db)) > 0) return undefined;
  const email = normalizeEmail(config.STAFF_DEMO_ADMIN_EMAIL);
  const password = generatePassword();
  const passwordHash = await hashPassword(password);
  const created = await db.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('boxoffice:staff:demo-admin'))`;
    if ((await countStaff(tx)) > 0) return undefined;
    const row = await insertStaff(tx, { email, role: 'admin', passwordHash });
    if (!row) return undefined;
    await appendAudit(tx, {
      actorType: 'system',
      actorId: null,
      action: 'staff.create',
      resource: `staff:${row.id}`,
      result: 'success',
      metadata: { email, role: 'admin', password: 'generated', demo: true },
    });
    return row;
  });
  if (!created) return undefined;
  const rule = '='.repeat(72);
  print(
    `\n${rule}\n  boxoffice: the demo admin of the admin panel was created. Its password is\n` +
      '  shown this once and stored nowhere (only its hash): note it now.\n\n' +
      `    email:    ${email}\n    password: ${password}\n\n` +
      '  Sign in at the admin panel: /admin/ on the address logged as `admin`\n' +
      '  below (or POST /api/admin/session {email, password}). More staff:\n' +
      '  boxoffice staff create --email E --role admin|manager|analyst --json\n' +
      `${rule}\n\n`,
  );
  logger.warn({ email, staffId: created.id }, 'demo admin created; its password was printed on stderr once');
  return { email, password };
}
