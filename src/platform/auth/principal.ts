import type { Permission } from './permissions.ts';

/** Who is calling a protected route: a machine (Bearer token) or a person (admin panel session). */
export interface Principal {
  kind: 'service_account' | 'staff';
  /** Service account id or staff id: the audit log's actor_id. */
  id: string;
  /** client_id of a service account, email of a staff member. */
  name: string;
  role: string;
  permissions: ReadonlySet<Permission>;
  /** Per-principal request budget (service accounts); undefined means the configured default. */
  rateLimit?: { perMinute: number; burst: number };
}

/** The audit log's actor_type for a principal. */
export function actorType(principal: Principal): 'service_account' | 'staff' {
  return principal.kind;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requirePermission` on the routes that use it. */
    principal: Principal | undefined;
  }
}
