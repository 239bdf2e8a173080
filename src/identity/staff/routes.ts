import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { auditFromPrincipal } from '../../platform/audit/index.ts';
import { requirePermission, requirePrincipal } from '../../platform/auth/access.ts';
import type { StaffRole } from '../../platform/auth/permissions.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import type { Platform } from '../../platform/context.ts';
import { AppError } from '../../platform/http/errors.ts';
import { errorResponse, positiveId } from '../../platform/http/schemas.ts';
import type { HttpApp } from '../../platform/http/types.ts';
import { currentSession, registerStaffAuthenticator, staffSettings } from './authenticator.ts';
import { staffClock } from './clock.ts';
import { checkOrigin } from './csrf.ts';
import {
  changeStaffMember,
  createStaffMember,
  deleteStaffMember,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  revokeStaffSession,
  signOut,
} from './service.ts';
import { signIn } from './sign-in.ts';
import { listLiveSessions, listStaff, type StaffRow } from './store.ts';

const Role = Type.Union([Type.Literal('admin'), Type.Literal('manager'), Type.Literal('analyst')], {
  description: 'admin: everything; manager: templates, campaigns, schedules, sending; analyst: read-only',
});
const Status = Type.Union([Type.Literal('active'), Type.Literal('disabled')]);
const Timestamp = Type.String({ format: 'date-time' });

const StaffItem = Type.Object({
  id: Type.Integer(),
  email: Type.String(),
  role: Role,
  status: Status,
  created_at: Timestamp,
  updated_at: Timestamp,
  password_changed_at: Timestamp,
});

const SessionItem = Type.Object({
  id: Type.Integer({ description: 'The handle of the session (never its token)' }),
  staff_id: Type.Integer(),
  email: Type.String(),
  created_at: Timestamp,
  last_seen_at: Timestamp,
  expires_at: Timestamp,
  user_agent: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean({ description: 'The session this request came with' }),
});

const Password = Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH });
const CsrfToken = Type.String({
  description:
    'Send it back in the X-CSRF-Token header of every POST, PUT, PATCH and DELETE made with the cookie',
});

const unauthenticated = { 401: errorResponse('No valid Bearer token or admin panel session') };
const forbidden = {
  403: errorResponse('Not allowed for this principal, or CSRF_FAILED (cross-site, no or wrong X-CSRF-Token)'),
};
const badInput = { 400: errorResponse('Malformed body or parameters: the message says which') };
const noContent = { 204: { description: 'Done', type: 'null' as const } };
const cookieNote =
  'With the admin panel session cookie, a mutating request needs `X-CSRF-Token` (the `csrf_token` of sign-in or `GET /api/admin/me`) and must come from this origin.';

const staffItem = (row: StaffRow) => ({
  id: Number(row.id),
  email: row.email,
  role: row.role,
  status: row.status,
  created_at: row.createdAt.toISOString(),
  updated_at: row.updatedAt.toISOString(),
  password_changed_at: row.passwordChangedAt.toISOString(),
});

function staffPrincipal(request: FastifyRequest): Principal {
  const principal = request.principal!;
  if (principal.kind !== 'staff' || !currentSession(request)) {
    throw new AppError('FORBIDDEN', 403, 'Only an admin panel session (staff sign-in) can do this');
  }
  return principal;
}

/** The admin panel's sign-in, session and staff routes (docs/identity.md, "Staff, sessions and CSRF"). */
export async function staffRoutes(app: HttpApp, platform: Platform): Promise<void> {
  registerStaffAuthenticator(platform);
  const { cookie, trustedOrigins } = staffSettings(platform);
  const signedIn = requirePrincipal(platform);
  const manageStaff = requirePermission(platform, 'staff:manage');
  const now = () => new Date(staffClock(platform).now());

  app.post(
    '/api/admin/session',
    {
      // Login CSRF: another site must not sign a browser in to an account of its choosing.
      preValidation: async (request) => checkOrigin(request, trustedOrigins),
      schema: {
        tags: ['Admin: staff'],
        summary: 'Sign in to the admin panel',
        description: `Sets the session cookie (\`${cookie.name}\`; HttpOnly, SameSite=Strict, Path=/, Secure behind HTTPS). Unknown email, wrong password and a disabled account get the same 401. Repeated failures per email or address: 429 with Retry-After.`,
        body: Type.Object({
          email: Type.String({ minLength: 1, maxLength: 1024 }),
          password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }),
        }),
        response: {
          200: Type.Object({
            email: Type.String(),
            role: Role,
            csrf_token: CsrfToken,
            expires_at: Type.String({ format: 'date-time', description: 'The absolute end of the session' }),
          }),
          ...badInput,
          401: errorResponse('Wrong email or password (INVALID_CREDENTIALS)'),
          403: errorResponse('CSRF_FAILED: sent from another site'),
          429: errorResponse('Too many failed sign-ins (TOO_MANY_FAILED_SIGN_INS)'),
        },
      },
    },
    async (request, reply) => {
      const session = await signIn(platform, request, reply, request.body);
      reply.header('set-cookie', cookie.set(session.token));
      reply.header('cache-control', 'no-store');
      return {
        email: session.email,
        role: session.role,
        csrf_token: session.csrfToken,
        expires_at: session.expiresAt.toISOString(),
      };
    },
  );

  app.delete(
    '/api/admin/session',
    {
      preValidation: signedIn,
      schema: {
        tags: ['Admin: staff'],
        summary: 'Sign out: ends this session everywhere and clears the cookie',
        description: cookieNote,
        response: { ...noContent, ...unauthenticated, ...forbidden },
      },
    },
    async (request, reply) => {
      const principal = staffPrincipal(request);
      await signOut(platform.db, auditFromPrincipal(principal), currentSession(request)!, now());
      reply.header('set-cookie', cookie.clear());
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/admin/me',
    {
      preValidation: signedIn,
      schema: {
        tags: ['Admin: staff'],
        summary: 'Who is signed in, with the CSRF token of the session',
        response: {
          200: Type.Object({
            id: Type.Integer(),
            email: Type.String(),
            role: Role,
            permissions: Type.Array(Type.String(), {
              description: 'What this role may do now (the admin panel shows only what these allow)',
            }),
            csrf_token: CsrfToken,
          }),
          ...unauthenticated,
          403: errorResponse('Not a staff session (e.g. a Bearer token)'),
        },
      },
    },
    async (request, reply) => {
      const principal = staffPrincipal(request);
      reply.header('cache-control', 'no-store');
      return {
        id: Number(principal.id),
        email: principal.name,
        role: principal.role as StaffRole,
        permissions: [...principal.permissions],
        csrf_token: currentSession(request)!.csrfToken,
      };
    },
  );

  app.get(
    '/api/admin/staff',
    {
      preValidation: manageStaff,
      schema: {
        tags: ['Admin: staff'],
        summary: 'Every staff member (admin only)',
        response: { 200: Type.Array(StaffItem), ...unauthenticated, ...forbidden },
      },
    },
    async () => (await listStaff(platform.db)).map(staffItem),
  );

  app.post(
    '/api/admin/staff',
    {
      preValidation: manageStaff,
      schema: {
        tags: ['Admin: staff'],
        summary: 'Add a staff member (admin only)',
        description: `Without \`password\` one is generated and returned here once (it is stored only as a scrypt hash). ${cookieNote}`,
        body: Type.Object({
          email: Type.String({ minLength: 3, maxLength: 254 }),
          role: Role,
          password: Type.Optional(Password),
        }),
        response: {
          201: Type.Intersect([
            StaffItem,
            Type.Object({
              password: Type.Optional(Type.String({ description: 'The generated password, shown once' })),
            }),
          ]),
          ...badInput,
          ...unauthenticated,
          ...forbidden,
          409: errorResponse('STAFF_EXISTS: the email is taken'),
        },
      },
    },
    async (request, reply) => {
      const created = await createStaffMember(
        platform.db,
        auditFromPrincipal(request.principal!),
        request.body,
      );
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .send({ ...staffItem(created.staff), ...(created.password ? { password: created.password } : {}) });
    },
  );

  app.patch(
    '/api/admin/staff/:id',
    {
      preValidation: manageStaff,
      schema: {
        tags: ['Admin: staff'],
        summary: 'Change role, status or password (admin only)',
        description: `Disabling or a new password ends the member's sessions at once (a member changing their own password keeps the current one). The last active admin cannot be demoted or disabled (409 LAST_ADMIN). ${cookieNote}`,
        params: Type.Object({ id: positiveId('The staff member') }),
        body: Type.Object(
          { role: Type.Optional(Role), status: Type.Optional(Status), password: Type.Optional(Password) },
          { minProperties: 1 },
        ),
        response: {
          200: StaffItem,
          ...badInput,
          ...unauthenticated,
          ...forbidden,
          404: errorResponse('No such staff member'),
          409: errorResponse('LAST_ADMIN'),
        },
      },
    },
    async (request) => {
      const principal = request.principal!;
      const id = String(request.params.id);
      const own =
        principal.kind === 'staff' && principal.id === id ? currentSession(request)?.key : undefined;
      const { staff } = await changeStaffMember(
        platform.db,
        auditFromPrincipal(principal),
        id,
        request.body,
        {
          at: now(),
          keepSession: own,
        },
      );
      return staffItem(staff);
    },
  );

  app.delete(
    '/api/admin/staff/:id',
    {
      preValidation: manageStaff,
      schema: {
        tags: ['Admin: staff'],
        summary: 'Remove a staff member and their sessions (admin only)',
        description: `The last active admin cannot be removed (409 LAST_ADMIN). ${cookieNote}`,
        params: Type.Object({ id: positiveId('The staff member') }),
        response: {
          ...noContent,
          ...unauthenticated,
          ...forbidden,
          404: errorResponse('No such staff member'),
          409: errorResponse('LAST_ADMIN'),
        },
      },
    },
    async (request, reply) => {
      await deleteStaffMember(platform.db, auditFromPrincipal(request.principal!), String(request.params.id));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/admin/sessions',
    {
      preValidation: manageStaff,
      schema: {
        tags: ['Admin: staff'],
        summary: 'Live admin panel sessions, newest first (admin only)',
        querystring: Type.Object({ staff_id: Type.Optional(positiveId('Only the sessions of this member')) }),
        response: { 200: Type.Array(SessionItem), ...badInput, ...unauthenticated, ...forbidden },
      },
    },
    async (request) => {
      const at = now();
      const { life } = staffSettings(platform);
      const own = currentSession(request)?.handle;
      const staffId = request.query.staff_id === undefined ? undefined : String(request.query.staff_id);
      const rows = await listLiveSessions(platform.db, at, new Date(at.getTime() - life.idleMs), staffId);
      return rows.map((row) => ({
        id: Number(row.id),
        staff_id: Number(row.staffId),
        email: row.email,
        created_at: row.createdAt.toISOString(),
        last_seen_at: row.lastSeenAt.toISOString(),
        expires_at: row.expiresAt.toISOString(),
        user_agent: row.userAgent,
        ip: row.ip,
        current: row.id === own,
      }));
    },
  );

  app.delete(
    '/api/admin/sessions/:id',
    {
      preValidation: manageStaff,
      schema: {
        tags: ['Admin: staff'],
        summary: 'End a session at once (admin only)',
        description: cookieNote,
        params: Type.Object({ id: positiveId('The session (the id GET /api/admin/sessions shows)') }),
        response: {
          ...noContent,
          ...unauthenticated,
          ...forbidden,
          404: errorResponse('No such live session'),
        },
      },
    },
    async (request, reply) => {
      await revokeStaffSession(
        platform.db,
        auditFromPrincipal(request.principal!),
        String(request.params.id),
        now(),
      );
      return reply.code(204).send(null);
    },
  );
}
