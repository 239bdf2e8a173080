import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { appendAudit, recordFailedSignIn } from '../../platform/audit/index.ts';
import type { StaffRole } from '../../platform/auth/permissions.ts';
import type { Platform } from '../../platform/context.ts';
import { AppError } from '../../platform/http/errors.ts';
import { hashPassword, verifyPassword } from '../passwords.ts';
import { staffSettings } from './authenticator.ts';
import { staffClock } from './clock.ts';
import { openSession, sessionKey } from './sessions.ts';
import { findStaffByEmail, revokeSession } from './store.ts';

export interface SignedIn {
  staffId: string;
  email: string;
  role: StaffRole;
  token: string;
  csrfToken: string;
  expiresAt: Date;
}

// A hash of nothing anyone knows, verified for unknown emails so they cost what a wrong password costs.
const dummyHashes = new WeakMap<Platform, Promise<string>>();

function dummyHash(platform: Platform): Promise<string> {
  let hash = dummyHashes.get(platform);
  if (!hash) {
    hash = hashPassword(randomBytes(32).toString('base64url'));
    dummyHashes.set(platform, hash);
  }
  return hash;
}

const failureKeys = (email: string, address: string) => [
  `staff:signin:fail:email:${email}`,
  `staff:signin:fail:address:${address}`,
];

/**
 * `POST /api/admin/session`. Unknown email, wrong password and a disabled account get one answer (401
 * INVALID_CREDENTIALS) after the same work (one scrypt verification), so neither the body nor the time
 * tells which emails are staff. Failures are counted per email and per address in the shared cache;
 * past AUTH_MAX_FAILURES_PER_ACCOUNT / _PER_ADDRESS in AUTH_FAILURE_WINDOW_SECONDS the caller gets 429,
 * even with the right password.
 */
export async function signIn(
  platform: Platform,
  request: FastifyRequest,
  reply: FastifyReply,
  credentials: { email: string; password: string },
): Promise<SignedIn> {
  const { config, cache, db } = platform;
  const email = credentials.email.trim().toLowerCase();
  const address = request.ip;
  const keys = failureKeys(email, address);
  const [emailFailures, addressFailures] = await cache.getMany(keys);
  if (
    Number(emailFailures ?? 0) >= config.AUTH_MAX_FAILURES_PER_ACCOUNT ||
    Number(addressFailures ?? 0) >= config.AUTH_MAX_FAILURES_PER_ADDRESS
  ) {
    reply.header('retry-after', String(config.AUTH_FAILURE_WINDOW_SECONDS));
    throw new AppError('TOO_MANY_FAILED_SIGN_INS', 429, 'Too many failed sign-ins; try again later');
  }

  const staff = await findStaffByEmail(db, email);
  const valid = await verifyPassword(
    credentials.password,
    staff?.passwordHash ?? (await dummyHash(platform)),
  );
  if (!staff || !valid || staff.status !== 'active') {
    const windowMs = config.AUTH_FAILURE_WINDOW_SECONDS * 1000;
    await Promise.all(keys.map((key) => cache.increment(key, 1, windowMs)));
    recordFailedSignIn(platform, {
      kind: 'staff',
      subject: email.slice(0, 254),
      address,
      reason: !staff ? 'unknown_email' : !valid ? 'wrong_password' : 'disabled',
    });
    throw new AppError('INVALID_CREDENTIALS', 401, 'Wrong email or password');
  }

  const now = staffClock(platform).now();
  const { cookie, life } = staffSettings(platform);
  const previous = cookie.read(request.headers.cookie);
  const opened = await db.begin(async (tx) => {
    // A new session on every sign-in; the one the browser may still carry ends here.
    if (previous) await revokeSession(tx, sessionKey(previous), new Date(now));
    const session = await openSession(tx, staff.id, request, now, life);
    await appendAudit(tx, {
      actorType: 'staff',
      actorId: staff.id,
      action: 'staff.sign_in',
      resource: `staff:${staff.id}`,
      result: 'success',
      metadata: { session: session.handle, address, expires_at: session.expiresAt.toISOString() },
    });
    return session;
  });
  return {
    staffId: staff.id,
    email: staff.email,
    role: staff.role,
    token: opened.token,
    csrfToken: opened.csrfToken,
    expiresAt: opened.expiresAt,
  };
}
