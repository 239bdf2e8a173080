import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Platform } from '../context.ts';
import { AppError } from '../http/errors.ts';
import type { Permission } from './permissions.ts';
import type { Principal } from './principal.ts';

/**
 * How a request proves who it is. Identity registers two: Bearer tokens (service accounts) and the
 * admin panel's session cookie (staff). `undefined` means "not my kind of credentials"; a throw
 * (AppError 401/403/429) means "mine, and refused".
 */
export interface Authenticator {
  name: string;
  authenticate(request: FastifyRequest, reply: FastifyReply): Promise<Principal | undefined>;
}

/** Runs after a principal is known, before the permission check (e.g. the per-account rate limit). */
export type PrincipalGuard = (
  principal: Principal,
  request: FastifyRequest,
  reply: FastifyReply,
) => Promise<void>;

interface AccessControl {
  authenticators: Authenticator[];
  guards: PrincipalGuard[];
}

const registries = new WeakMap<Platform, AccessControl>();

function accessControl(platform: Platform): AccessControl {
  let registry = registries.get(platform);
  if (!registry) {
    registry = { authenticators: [], guards: [] };
    registries.set(platform, registry);
  }
  return registry;
}

/** Identity calls this at boot; modules never do. */
export function registerAuthenticator(platform: Platform, authenticator: Authenticator): void {
  accessControl(platform).authenticators.push(authenticator);
}

export function registerPrincipalGuard(platform: Platform, guard: PrincipalGuard): void {
  accessControl(platform).guards.push(guard);
}

export const BEARER_CHALLENGE = 'Bearer realm="boxoffice"';

/**
 * A route hook that authenticates and authorizes. Use it as the route's `preValidation`, so a caller
 * without the right learns nothing from validation errors and is throttled before any work.
 */
export type AccessHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * The one way a route of any module requires a permission:
 * `{ preValidation: requirePermission(platform, 'files:write') }`. Sets `request.principal`.
 * No credentials or invalid ones: 401 with `WWW-Authenticate: Bearer`; valid without the
 * permission: 403.
 */
export function requirePermission(platform: Platform, permission: Permission): AccessHook {
  const registry = accessControl(platform);
  const authorize = async function authorize(request: FastifyRequest, reply: FastifyReply) {
    const principal = await authenticate(registry, request, reply);
    for (const guard of registry.guards) await guard(principal, request, reply);
    if (!principal.permissions.has(permission)) {
      throw new AppError(
        'FORBIDDEN',
        403,
        `This ${describe(principal)} may not do this (needs ${permission})`,
      );
    }
  };
  return Object.assign(authorize, { [REQUIRED]: permission });
}

/** Like requirePermission, for routes any signed-in principal may call (e.g. GET /api/admin/me). */
export function requirePrincipal(platform: Platform): AccessHook {
  const registry = accessControl(platform);
  const authorizeAny = async function authorizeAny(request: FastifyRequest, reply: FastifyReply) {
    const principal = await authenticate(registry, request, reply);
    for (const guard of registry.guards) await guard(principal, request, reply);
  };
  return Object.assign(authorizeAny, { [REQUIRED]: 'any' as const });
}

const REQUIRED = Symbol('boxoffice.requiredPermission');

/** A protected route as registered: what its preHandler demands ('any' = any signed-in principal). */
export interface ProtectedRoute {
  method: string;
  url: string;
  requires: Permission | 'any';
}

/**
 * What a route's hooks demand, if one of them came from requirePermission/requirePrincipal.
 * The HTTP app records every such route (`protectedRoutes`), so the role matrix test covers each one
 * without a list to keep by hand.
 */
export function requiredPermissionOf(...hooks: unknown[]): Permission | 'any' | undefined {
  for (const handler of hooks.flat()) {
    const requires = (handler as { [REQUIRED]?: Permission | 'any' } | undefined)?.[REQUIRED];
    if (requires) return requires;
  }
  return undefined;
}

const routeLists = new WeakMap<Platform, ProtectedRoute[]>();

export function recordProtectedRoute(platform: Platform, route: ProtectedRoute): void {
  let routes = routeLists.get(platform);
  if (!routes) {
    routes = [];
    routeLists.set(platform, routes);
  }
  routes.push(route);
}

/** Every route registered so far that requires a principal, in registration order. */
export function protectedRoutes(platform: Platform): readonly ProtectedRoute[] {
  return routeLists.get(platform) ?? [];
}

async function authenticate(registry: AccessControl, request: FastifyRequest, reply: FastifyReply) {
  for (const authenticator of registry.authenticators) {
    const principal = await authenticator.authenticate(request, reply);
    if (principal) {
      request.principal = principal;
      return principal;
    }
  }
  reply.header('www-authenticate', BEARER_CHALLENGE);
  throw new AppError('UNAUTHENTICATED', 401, 'A Bearer access token (or an admin panel session) is required');
}

function describe(principal: Principal): string {
  return principal.kind === 'staff'
    ? `staff member (${principal.role})`
    : `service account (${principal.role})`;
}
