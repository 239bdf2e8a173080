import { registerPrincipalGuard } from '../../platform/auth/access.ts';
import type { Platform } from '../../platform/context.ts';
import { AppError } from '../../platform/http/errors.ts';
import { rateLimiter, rateLimitHeaders } from '../../platform/resilience/rate-limit.ts';

const registered = new WeakSet<Platform>();

/**
 * Every request of a service account takes a token from its bucket, before the permission check (a
 * refused call counts too). The bucket is keyed by client_id (random, never reused), its size and
 * refill are the account's own or RATE_LIMIT_BURST / RATE_LIMIT_PER_MINUTE. Staff are not limited
 * here: people sign in by password, which has its own throttling, and then click at human speed.
 */
export function registerServiceAccountRateLimit(platform: Platform): void {
  if (registered.has(platform)) return;
  registered.add(platform);
  const limiter = rateLimiter(platform);
  const fallback = {
    perMinute: platform.config.RATE_LIMIT_PER_MINUTE,
    burst: platform.config.RATE_LIMIT_BURST,
  };
  registerPrincipalGuard(platform, async (principal, _request, reply) => {
    if (principal.kind !== 'service_account') return;
    const policy = principal.rateLimit ?? fallback;
    const decision = await limiter.take(`sa:${principal.name}`, policy);
    reply.headers(rateLimitHeaders(policy, decision));
    if (!decision.allowed) {
      throw new AppError(
        'RATE_LIMITED',
        429,
        `Rate limit exceeded (${policy.perMinute} requests a minute, bursts to ${policy.burst}); retry in ${decision.retryAfterSeconds} s`,
      );
    }
  });
}
