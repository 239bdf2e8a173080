import type { Platform } from '../context.ts';
import { appendAuditEntry } from './append.ts';

export type SignInKind = 'token' | 'staff' | 'basic';

export interface FailedSignIn {
  kind: SignInKind;
  /** The client_id or email that was tried (not necessarily an existing one). */
  subject: string;
  address: string;
  reason: string;
}

export interface FailedSignInLimits {
  subjects: number;
  addresses: number;
  reasons: number;
  text: number;
}

/** Bounds, so a flood of made-up subjects cannot grow memory or the log. */
export const FAILED_SIGN_IN_LIMITS: Readonly<FailedSignInLimits> = {
  /** Distinct (kind, subject) buckets per window; past it, failures go to one overflow bucket per kind. */
  subjects: 10_000,
  addresses: 20,
  reasons: 10,
  /** Longest subject, address or reason kept (characters). */
  text: 200,
};

/** The subject of the bucket that counts failures past FAILED_SIGN_IN_LIMITS.subjects. */
export const OVERFLOW_SUBJECT = '*';

interface Bucket {
  kind: SignInKind;
  subject: string;
  count: number;
  addresses: Set<string>;
  /** Distinct addresses seen beyond the kept ones are not tracked, only that there were some. */
  moreAddresses: boolean;
  reasons: Map<string, number>;
  firstAt: number;
  lastAt: number;
}

/**
 * Failed sign-ins of one process, counted in memory and written as one audit entry per kind,
 * subject and window (a minute, by the starter's timer) instead of one entry per attempt: a
 * password-guessing flood must not become a flood of rows queued behind the chain lock.
 */
export class FailedSignInAggregator {
  private buckets = new Map<string, Bucket>();

  private readonly now: () => number;
  private readonly limits: FailedSignInLimits;

  constructor(options: { now?: () => number; limits?: Partial<FailedSignInLimits> } = {}) {
    this.now = options.now ?? Date.now;
    this.limits = { ...FAILED_SIGN_IN_LIMITS, ...options.limits };
  }

  record(event: FailedSignIn): void {
    const subject = this.clip(event.subject);
    let key = `${event.kind}\u0000${subject}`;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      const overflowKey = `${event.kind}\u0000\u0001overflow`;
      const full = this.buckets.size >= this.limits.subjects;
      if (full) key = overflowKey;
      bucket = this.buckets.get(key);
      if (!bucket) {
        const at = this.now();
        bucket = {
          kind: event.kind,
          subject: full ? OVERFLOW_SUBJECT : subject,
          count: 0,
          addresses: new Set(),
          moreAddresses: false,
          reasons: new Map(),
          firstAt: at,
          lastAt: at,
        };
        this.buckets.set(key, bucket);
      }
    }
    bucket.count += 1;
    bucket.lastAt = this.now();
    const address = this.clip(event.address);
    if (bucket.addresses.has(address)) {
      // known
    } else if (bucket.addresses.size < this.limits.addresses) bucket.addresses.add(address);
    else bucket.moreAddresses = true;
    const reason = this.clip(event.reason);
    const reasonKey =
      bucket.reasons.has(reason) || bucket.reasons.size < this.limits.reasons ? reason : 'other';
    bucket.reasons.set(reasonKey, (bucket.reasons.get(reasonKey) ?? 0) + 1);
  }

  private clip(text: string): string {
    return text.length > this.limits.text ? text.slice(0, this.limits.text) : text;
  }

  get pending(): number {
    return this.buckets.size;
  }

  /**
   * Writes one entry per bucket, all in one transaction, and starts a new window. If the write
   * fails the counts are merged back, to go out with the next flush.
   */
  async flush(platform: Platform): Promise<number> {
    if (this.buckets.size === 0) return 0;
    const taken = this.buckets;
    this.buckets = new Map();
    try {
      await platform.db.begin(async (tx) => {
        for (const bucket of taken.values()) await appendAuditEntry(tx, toEntry(bucket));
      });
      return taken.size;
    } catch (error) {
      for (const [key, bucket] of taken) this.mergeBack(key, bucket);
      throw error;
    }
  }

  private mergeBack(key: string, bucket: Bucket): void {
    const current = this.buckets.get(key);
    if (!current) {
      if (this.buckets.size < this.limits.subjects) this.buckets.set(key, bucket);
      return; // a full new window: these counts are lost, the log said so for the window that overflowed
    }
    current.count += bucket.count;
    current.firstAt = Math.min(current.firstAt, bucket.firstAt);
    current.lastAt = Math.max(current.lastAt, bucket.lastAt);
    for (const address of bucket.addresses) {
      if (current.addresses.size < this.limits.addresses) current.addresses.add(address);
      else current.moreAddresses = true;
    }
    for (const [reason, count] of bucket.reasons)
      current.reasons.set(reason, (current.reasons.get(reason) ?? 0) + count);
  }
}

function toEntry(bucket: Bucket) {
  const reasons = Object.fromEntries(bucket.reasons);
  const top = [...bucket.reasons.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  return {
    actorType: 'anonymous' as const,
    actorId: null,
    action: `${bucket.kind}.sign_in_failed`,
    resource: `${bucket.kind}:${bucket.subject}`,
    result: 'failure' as const,
    reason: bucket.count === 1 ? top : `${bucket.count} failed sign-ins (most often: ${top})`,
    metadata: {
      count: bucket.count,
      addresses: [...bucket.addresses],
      addresses_truncated: bucket.moreAddresses,
      first_at: new Date(bucket.firstAt).toISOString(),
      last_at: new Date(bucket.lastAt).toISOString(),
      reasons,
      ...(bucket.subject === OVERFLOW_SUBJECT ? { overflow: true } : {}),
    },
  };
}
