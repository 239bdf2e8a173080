/**
 * What a caller may do. Routes name the permission they need (`requirePermission`); roles are sets
 * of permissions. Service accounts carry their role's permissions in the token (`permissions` claim);
 * staff get theirs from their role at each request, so a role change takes effect at once.
 */
export const PERMISSIONS = [
  'service-accounts:manage', // create, list, change, rotate, delete service accounts (never their secrets)
  'keys:rotate', // rotate the token signing keys by hand (incidents)
  'audit:read', // read and verify the audit log
  'staff:manage', // staff accounts of the admin panel
  'files:read',
  'files:write',
  'storage:manage', // storage element modes
  'notify:send', // instant notifications
  'notify:read', // notification status, contacts, analytics
  'notify:manage', // templates, schedules, bulk campaigns
  'sales:read', // dashboards over bookings, payments and drops
  'sales:refund', // refund a buyer's booking from the admin panel
  'tickets:scan', // gate scanners: verify e-tickets and mark them used
] as const;

export type Permission = (typeof PERMISSIONS)[number];

/** Roles of service accounts (seed 002). */
export const SERVICE_ROLES = ['ADMIN', 'USER', 'AUDITOR', 'READONLY'] as const;
export type ServiceRole = (typeof SERVICE_ROLES)[number];

/** Roles of staff in the admin panel (seed 004). */
export const STAFF_ROLES = ['admin', 'manager', 'analyst'] as const;
export type StaffRole = (typeof STAFF_ROLES)[number];

const everything: readonly Permission[] = PERMISSIONS;
const reads: readonly Permission[] = ['files:read', 'notify:read', 'sales:read'];

export const SERVICE_ROLE_PERMISSIONS: Readonly<Record<ServiceRole, readonly Permission[]>> = {
  ADMIN: everything,
  // "read and write files, send notifications, read their status"
  USER: ['files:read', 'files:write', 'notify:send', 'notify:read', 'tickets:scan'],
  AUDITOR: ['audit:read'],
  // "read everything except secrets and the audit log"
  READONLY: reads,
};

export const STAFF_ROLE_PERMISSIONS: Readonly<Record<StaffRole, readonly Permission[]>> = {
  admin: everything,
  // templates, campaigns, schedules, sending; and what they need to see to do it
  manager: ['notify:send', 'notify:read', 'notify:manage', 'files:read', 'sales:read'],
  // read-only: dashboards, analytics, logs
  analyst: ['notify:read', 'files:read', 'sales:read', 'audit:read'],
};

export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && (PERMISSIONS as readonly string[]).includes(value);
}
