import { Type } from 'typebox';
import { defineConfigSection } from '../platform/config/section.ts';

/** The identity section of the configuration (see docs/identity.md). */
export const identityConfig = defineConfigSection({
  name: 'identity',
  title: "Identity: buyers' sign-in (HTTP Basic)",
  variables: {
    AUTH_CACHE_TTL_SECONDS: Type.Integer({
      minimum: 0,
      maximum: 86400,
      default: 300,
      description: 'How long a verified email:password stays trusted without re-hashing (0 = always verify).',
    }),
    AUTH_CACHE_MAX_ENTRIES: Type.Integer({
      minimum: 1,
      maximum: 10000000,
      default: 200000,
      description: 'Verified credentials remembered per process (least recently used are dropped).',
    }),
    AUTH_MAX_FAILURES_PER_ACCOUNT: Type.Integer({
      minimum: 1,
      maximum: 1000000,
      default: 10,
      description: 'Failed sign-ins for one email within the window before it is throttled (429).',
    }),
    AUTH_MAX_FAILURES_PER_ADDRESS: Type.Integer({
      minimum: 1,
      maximum: 1000000,
      default: 100,
      description: 'Failed sign-ins from one client address within the window before it is throttled (429).',
    }),
    AUTH_FAILURE_WINDOW_SECONDS: Type.Integer({
      minimum: 1,
      maximum: 86400,
      default: 900,
      description: 'The window failed sign-ins are counted in; also the Retry-After of a 429.',
    }),
  },
});
