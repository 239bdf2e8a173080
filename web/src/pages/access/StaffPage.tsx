import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ApiError, api } from '../../app/api.ts';
import { formatTime } from '../../app/format.ts';
import { useSession } from '../../app/session.tsx';
import { ConfirmDialog } from '../../ui/Dialog.tsx';
import { ErrorBanner, Loading, Notice, StatusBadge } from '../../ui/Feedback.tsx';
import { SelectField, TextField } from '../../ui/Field.tsx';
import { Page, Panel } from '../../ui/Page.tsx';
import { Table } from '../../ui/Table.tsx';
import { SecretOnce } from './SecretOnce.tsx';
import './access.css';

const ROLES = [
  { value: 'analyst', label: 'analyst — read only' },
  { value: 'manager', label: 'manager — templates, campaigns, sending' },
  { value: 'admin', label: 'admin — everything' },
] as const;

interface StaffMember {
  id: number;
  email: string;
  role: 'admin' | 'manager' | 'analyst';
  status: 'active' | 'disabled';
  created_at: string;
  updated_at: string;
  password_changed_at: string;
}
interface LiveSession {
  id: number;
  staff_id: number;
  email: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  user_agent: string | null;
  ip: string | null;
  current: boolean;
}

/** The server's refusal to leave the panel without an admin, said plainly; other errors as they come. */
function StaffError({ error }: { error: unknown }) {
  if (error instanceof ApiError && error.code === 'LAST_ADMIN')
    return (
      <div className="banner banner-error" role="alert">
        <strong>Refused: this is the last active admin.</strong> The panel must keep at least one admin, so
        the last one cannot be demoted, disabled or removed. Make another member admin first. ({error.message}
        , {error.status} {error.code})
      </div>
    );
  return <ErrorBanner error={error} />;
}

/** Staff (admin): members, their roles and status, and the live sessions of the panel. */
export default function StaffPage() {
  const { staff: me } = useSession();
  const queryClient = useQueryClient();
  const members = useQuery({ queryKey: ['staff'], queryFn: () => api<StaffMember[]>('/api/admin/staff') });
  const sessions = useQuery({
    queryKey: ['staff-sessions'],
    queryFn: () => api<LiveSession[]>('/api/admin/sessions'),
    refetchInterval: 15_000,
  });
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ['staff'] });
    void queryClient.invalidateQueries({ queryKey: ['staff-sessions'] });
  };
  const [password, setPassword] = useState<{ email: string; value: string } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<StaffMember | null>(null);
  const [revoking, setRevoking] = useState<LiveSession | null>(null);

  const add = useMutation({
    mutationFn: (body: Record<string, unknown>) =>
      api<StaffMember & { password?: string }>('/api/admin/staff', { method: 'POST', body }),
    onSuccess: (member) => {
      setPassword(member.password ? { email: member.email, value: member.password } : null);
      setNotice(`${member.email} added as ${member.role}.`);
      refresh();
    },
  });
  const change = useMutation({
    mutationFn: ({ member, body }: { member: StaffMember; body: Record<string, unknown> }) =>
      api<StaffMember>(`/api/admin/staff/${member.id}`, { method: 'PATCH', body }),
    onSuccess: (member) => {
      setNotice(`${member.email} is now ${member.role}, ${member.status}.`);
      refresh();
    },
    onError: () => {
      setNotice(null);
      // The select shows the server's value again.
      refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (member: StaffMember) =>
      api(`/api/admin/staff/${member.id}`, { method: 'DELETE' }).then(() => member),
    onSuccess: (member) => {
      setDeleting(null);
      setNotice(`${member.email} removed.`);
      refresh();
    },
  });
  const revoke = useMutation({
    mutationFn: (session: LiveSession) =>
      api(`/api/admin/sessions/${session.id}`, { method: 'DELETE' }).then(() => session),
    onSuccess: (session) => {
      setRevoking(null);
      setNotice(`The session of ${session.email} has ended.`);
      refresh();
    },
  });

  function onAdd(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const typed = String(form.get('password') ?? '');
    add.mutate(
      {
        email: String(form.get('email') ?? '').trim(),
        role: String(form.get('role')),
        ...(typed ? { password: typed } : {}),
      },
      { onSuccess: () => formElement.reset() },
    );
  }

  return (
    <Page title="Staff">
      <Panel title="Add a staff member">
        <form onSubmit={onAdd} aria-label="Add a staff member">
          <div className="form-row">
            <TextField label="Email" name="email" type="email" required autoComplete="off" />
            <SelectField label="Role" name="role" options={ROLES} defaultValue="analyst" />
            <TextField
              label="Password"
              name="password"
              type="password"
              autoComplete="new-password"
              minLength={12}
              hint="Empty: one is generated and shown once"
            />
          </div>
          <button type="submit" className="primary" disabled={add.isPending}>
            Add
          </button>
        </form>
        <ErrorBanner error={add.error} />
      </Panel>
      {password ? (
        <SecretOnce
          label="Generated password"
          subject={`Password of ${password.email}`}
          value={password.value}
          onDismiss={() => setPassword(null)}
        />
      ) : null}
      {notice ? <Notice tone="success">{notice}</Notice> : null}
      <StaffError error={change.error} />
      <Panel title="Members">
        <ErrorBanner error={members.error} />
        {members.isPending ? (
          <Loading />
        ) : (
          <Table
            caption="Staff members"
            rows={members.data ?? []}
            rowKey={(row) => row.id}
            columns={[
              {
                header: 'Email',
                cell: (row) => (
                  <>
                    {row.email}
                    {row.id === me?.id ? <span className="field-hint"> (you)</span> : null}
                  </>
                ),
              },
              {
                header: 'Role',
                cell: (row) => (
                  <div className="inline-select">
                    <label className="visually-hidden" htmlFor={`role-${row.id}`}>
                      Role of {row.email}
                    </label>
                    <select
                      id={`role-${row.id}`}
                      value={row.role}
                      disabled={change.isPending}
                      onChange={(event) => {
                        change.reset();
                        change.mutate({ member: row, body: { role: event.currentTarget.value } });
                      }}
                    >
                      {ROLES.map((role) => (
                        <option key={role.value} value={role.value}>
                          {role.value}
                        </option>
                      ))}
                    </select>
                  </div>
                ),
              },
              { header: 'Status', cell: (row) => <StatusBadge status={row.status} /> },
              { header: 'Added', cell: (row) => formatTime(row.created_at) },
              {
                header: 'Actions',
                cell: (row) => (
                  <div className="row-actions">
                    <button
                      type="button"
                      disabled={change.isPending}
                      onClick={() => {
                        change.reset();
                        change.mutate({
                          member: row,
                          body: { status: row.status === 'active' ? 'disabled' : 'active' },
                        });
                      }}
                    >
                      {row.status === 'active' ? 'Disable' : 'Enable'}{' '}
                      <span className="visually-hidden">{row.email}</span>
                    </button>
                    <button
                      type="button"
                      className="danger"
                      onClick={() => {
                        remove.reset();
                        setDeleting(row);
                      }}
                    >
                      Remove <span className="visually-hidden">{row.email}</span>
                    </button>
                  </div>
                ),
              },
            ]}
          />
        )}
      </Panel>
      <Panel title="Live sessions">
        <ErrorBanner error={sessions.error} />
        {sessions.isPending ? (
          <Loading />
        ) : (
          <Table
            caption="Live admin panel sessions"
            rows={sessions.data ?? []}
            rowKey={(row) => row.id}
            empty="No live sessions."
            columns={[
              { header: 'Member', cell: (row) => row.email },
              { header: 'Signed in', cell: (row) => formatTime(row.created_at) },
              { header: 'Last seen', cell: (row) => formatTime(row.last_seen_at) },
              { header: 'Ends', cell: (row) => formatTime(row.expires_at) },
              { header: 'Address', cell: (row) => row.ip ?? '—' },
              {
                header: 'Browser',
                cell: (row) => <span className="field-hint">{row.user_agent?.slice(0, 60) ?? '—'}</span>,
              },
              {
                header: 'Actions',
                cell: (row) =>
                  row.current ? (
                    <span className="field-hint">this session</span>
                  ) : (
                    <div className="row-actions">
                      <button
                        type="button"
                        onClick={() => {
                          revoke.reset();
                          setRevoking(row);
                        }}
                      >
                        Revoke <span className="visually-hidden">the session of {row.email}</span>
                      </button>
                    </div>
                  ),
              },
            ]}
          />
        )}
      </Panel>
      <ConfirmDialog
        open={deleting !== null}
        title={`Remove ${deleting?.email ?? ''}?`}
        confirmLabel="Remove"
        danger
        busy={remove.isPending}
        onCancel={() => setDeleting(null)}
        onConfirm={() => deleting && remove.mutate(deleting)}
        message={
          <>
            <p>Their account and sessions are deleted at once. The audit log keeps what they did.</p>
            <StaffError error={remove.error} />
          </>
        }
      />
      <ConfirmDialog
        open={revoking !== null}
        title="End this session?"
        confirmLabel="Revoke"
        danger
        busy={revoke.isPending}
        onCancel={() => setRevoking(null)}
        onConfirm={() => revoking && revoke.mutate(revoking)}
        message={
          <>
            <p>
              {revoking?.email} is signed out at their next request; they can sign in again (disable the
              member to stop that).
            </p>
            <ErrorBanner error={revoke.error} />
          </>
        }
      />
    </Page>
  );
}
