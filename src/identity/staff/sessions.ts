import { createHash, randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../../config.ts';
import type { Queryable } from '../../platform/db/client.ts';
import { findSession, insertSession, type SessionRow, touchSession } from './store.ts';

/** last_seen_at is written at most this often per session, however many requests it makes. */
export const TOUCH_INTERVAL_MS = 60_000;

/** 32 random bytes, base64url: what the cookie carries. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** The session's key in staff_sessions: SHA-256 of the cookie's token, so the table holds no usable token. */
export function sessionKey(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export interface Lifetimes {
  idleMs: number;
  absoluteMs: number;
}

export function lifetimes(
  config: Pick<Config, 'STAFF_SESSION_IDLE_MINUTES' | 'STAFF_SESSION_ABSOLUTE_HOURS'>,
) {
  return {
    idleMs: config.STAFF_SESSION_IDLE_MINUTES * 60_000,
    absoluteMs: config.STAFF_SESSION_ABSOLUTE_HOURS * 3_600_000,
  };
}

export interface OpenedSession {
  token: string;
  key: Buffer;
  handle: string;
  csrfToken: string;
  expiresAt: Date;
}

/** A new session for `staffId`, in the caller's transaction (the sign-in's audit entry commits with it). */
export async function openSession(
  tx: Queryable,
  staffId: string,
  request: FastifyRequest,
  now: number,
  life: Lifetimes,
): Promise<OpenedSession> {
  const token = randomBytes(32).toString('base64url');
  const key = sessionKey(token);
  const csrf = randomBytes(32);
  const expiresAt = new Date(now + life.absoluteMs);
  const userAgent = request.headers['user-agent'];
  const handle = await insertSession(tx, {
    id: key,
    staffId,
    csrfToken: csrf,
    at: new Date(now),
    expiresAt,
    userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : null,
    ip: request.ip ?? null,
  });
  return { token, key, handle, csrfToken: csrf.toString('base64url'), expiresAt };
}

export type SessionEnd = 'unknown' | 'revoked' | 'idle' | 'expired' | 'disabled';

export const SESSION_END_MESSAGES: Record<SessionEnd, string> = {
  unknown: 'This is not a session of the admin panel: sign in again',
  revoked: 'This session was ended (signed out or revoked): sign in again',
  idle: 'This session expired after being idle: sign in again',
  expired: 'This session reached its maximum lifetime: sign in again',
  disabled: 'This staff account is disabled',
};

/** Why a session may not be used at `now`, or undefined when it may. */
export function sessionEnd(
  session: SessionRow | undefined,
  now: number,
  life: Lifetimes,
): SessionEnd | undefined {
  if (!session) return 'unknown';
  if (session.revokedAt) return 'revoked';
  if (now >= session.expiresAt.getTime()) return 'expired';
  if (now >= session.lastSeenAt.getTime() + life.idleMs) return 'idle';
  if (session.status !== 'active') return 'disabled';
  return undefined;
}

/**
 * The session behind a cookie token, checked in PostgreSQL on every request: a sign-out, a revocation, a
 * disabled or deleted account or a role change counts at once in every process, with no cache to invalidate.
 */
export async function loadSession(
  db: Queryable,
  token: string,
  now: number,
  life: Lifetimes,
): Promise<{ key: Buffer; session: SessionRow } | { end: SessionEnd }> {
  if (!TOKEN_SHAPE.test(token)) return { end: 'unknown' };
  const key = sessionKey(token);
  const session = await findSession(db, key);
  const end = sessionEnd(session, now, life);
  if (end) return { end };
  // Sliding idle expiry, written at most once a minute per session (the update checks the age itself,
  // so concurrent requests and other processes write it once too).
  if (now - session!.lastSeenAt.getTime() >= TOUCH_INTERVAL_MS) {
    await touchSession(db, key, new Date(now), new Date(now - TOUCH_INTERVAL_MS));
  }
  return { key, session: session! };
}
