import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api } from '../../app/api.ts';
import { formatTime } from '../../app/format.ts';
import { ConfirmDialog, Dialog } from '../../ui/Dialog.tsx';
import { ErrorBanner, Loading, Notice, StatusBadge } from '../../ui/Feedback.tsx';
import { SelectField, TextField } from '../../ui/Field.tsx';
import { Page, Panel } from '../../ui/Page.tsx';
import { Pager, Table } from '../../ui/Table.tsx';
import { SecretOnce } from './SecretOnce.tsx';
import './access.css';

const ROLES = [
  { value: 'USER', label: 'USER — files and notifications' },
  { value: 'READONLY', label: 'READONLY — reads, no secrets or audit' },
  { value: 'AUDITOR', label: 'AUDITOR — the audit log' },
  { value: 'ADMIN', label: 'ADMIN — everything' },
] as const;
const PAGE_SIZE = 50;

interface RateLimit {
  per_minute: number;
  burst: number;
}
export interface ServiceAccount {
  id: string;
  client_id: string;
  name: string;
  description: string | null;
  role: 'ADMIN' | 'USER' | 'AUDITOR' | 'READONLY';
  status: 'active' | 'disabled';
  rate_limit: RateLimit | null;
  version: number;
  created_at: string;
  updated_at: string;
  last_used_at: string | null;
}
interface Listing {
  items: ServiceAccount[];
  page: number;
  pageSize: number;
  total: number;
}

/** The two optional numbers of a form as a rate limit: both or neither (null: the platform default). */
function rateLimitOf(form: FormData): RateLimit | null | string {
  const perMinute = String(form.get('per_minute') ?? '').trim();
  const burst = String(form.get('burst') ?? '').trim();
  if (!perMinute && !burst) return null;
  const a = Number(perMinute);
  const b = Number(burst);
  if (!Number.isInteger(a) || !Number.isInteger(b) || a < 1 || b < 1)
    return 'Give both numbers (whole, at least 1), or neither for the default.';
  return { per_minute: a, burst: b };
}

/** Service accounts (admin): list, create (secret once), rotate, disable/enable, edit, delete. */
export default function ServiceAccountsPage() {
  const queryClient = useQueryClient();
  const [page, setPage] = useState(1);
  const list = useQuery({
    queryKey: ['service-accounts', page],
    queryFn: () => api<Listing>('/api/service-accounts', { query: { page, pageSize: PAGE_SIZE } }),
    placeholderData: keepPreviousData,
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['service-accounts'] });
  const [secret, setSecret] = useState<{ subject: string; value: string } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [rateError, setRateError] = useState<string | undefined>();
  const [editing, setEditing] = useState<ServiceAccount | null>(null);
  const [deleting, setDeleting] = useState<ServiceAccount | null>(null);
  const [rotating, setRotating] = useState<ServiceAccount | null>(null);

  const create = useMutation({
    mutationFn: (body: Record<string, unknown>) =>
      api<ServiceAccount & { client_secret: string }>('/api/service-accounts', { method: 'POST', body }),
    onSuccess: (account) => {
      setSecret({
        subject: `${account.name}: client id ${account.client_id}`,
        value: account.client_secret,
      });
      setNotice(null);
      void refresh();
    },
  });
  const change = useMutation({
    mutationFn: ({ id, body }: { id: string; body: Record<string, unknown> }) =>
      api<ServiceAccount>(`/api/service-accounts/${encodeURIComponent(id)}`, { method: 'PATCH', body }),
    onSuccess: (account) => {
      setEditing(null);
      setNotice(`${account.name} saved (${account.role}, ${account.status}).`);
      void refresh();
    },
  });
  const rotate = useMutation({
    mutationFn: (account: ServiceAccount) =>
      api<{ client_secret: string }>(
        `/api/service-accounts/${encodeURIComponent(account.id)}/rotate-secret`,
        {
          method: 'POST',
        },
      ).then((answer) => ({ account, secret: answer.client_secret })),
    onSuccess: ({ account, secret: value }) => {
      setRotating(null);
      setSecret({
        subject: `${account.name}: new secret (the old one and its tokens no longer work)`,
        value,
      });
      setNotice(null);
      void refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (account: ServiceAccount) =>
      api(`/api/service-accounts/${encodeURIComponent(account.id)}`, { method: 'DELETE' }).then(
        () => account,
      ),
    onSuccess: (account) => {
      setDeleting(null);
      setNotice(`${account.name} deleted.`);
      void refresh();
    },
  });

  function onCreate(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const rateLimit = rateLimitOf(form);
    if (typeof rateLimit === 'string') {
      setRateError(rateLimit);
      return;
    }
    setRateError(undefined);
    const description = String(form.get('description') ?? '').trim();
    create.mutate(
      {
        name: String(form.get('name') ?? '').trim(),
        role: String(form.get('role')),
        ...(description ? { description } : {}),
        ...(rateLimit ? { rate_limit: rateLimit } : {}),
      },
      { onSuccess: () => formElement.reset() },
    );
  }

  return (
    <Page title="Service accounts">
      <Panel title="New service account">
        <form onSubmit={onCreate} aria-label="Create a service account">
          <div className="form-row">
            <TextField
              label="Name"
              name="name"
              required
              maxLength={100}
              hint="Letters, digits, . _ - and spaces"
            />
            <SelectField label="Role" name="role" options={ROLES} defaultValue="USER" />
            <TextField label="Description" name="description" maxLength={500} />
          </div>
          <div className="form-row">
            <TextField
              label="Requests per minute"
              name="per_minute"
              type="number"
              min={1}
              hint="Empty: the default"
            />
            <TextField label="Burst" name="burst" type="number" min={1} error={rateError} />
          </div>
          <button type="submit" className="primary" disabled={create.isPending}>
            Create
          </button>
        </form>
        <ErrorBanner error={create.error} />
      </Panel>
      {secret ? (
        <SecretOnce
          label="Client secret"
          subject={secret.subject}
          value={secret.value}
          onDismiss={() => setSecret(null)}
        />
      ) : null}
      {notice ? <Notice tone="success">{notice}</Notice> : null}
      <ErrorBanner error={change.isPending || editing ? null : change.error} />
      <Panel title="Accounts">
        <ErrorBanner error={list.error} />
        {list.isPending ? (
          <Loading />
        ) : (
          <>
            {(list.data?.items.length ?? 0) === 0 ? (
              <p>No service accounts yet.</p>
            ) : (
              <Table
                caption="Service accounts"
                rows={list.data?.items ?? []}
                rowKey={(row) => row.id}
                empty="No service accounts yet."
                columns={[
                  {
                    header: 'Name',
                    cell: (row) => (
                      <>
                        <strong>{row.name}</strong>
                        {row.description ? <div className="field-hint">{row.description}</div> : null}
                      </>
                    ),
                  },
                  { header: 'Client id', cell: (row) => <code>{row.client_id}</code> },
                  { header: 'Role', cell: (row) => row.role },
                  { header: 'Status', cell: (row) => <StatusBadge status={row.status} /> },
                  {
                    header: 'Rate limit',
                    cell: (row) =>
                      row.rate_limit
                        ? `${row.rate_limit.per_minute}/min, burst ${row.rate_limit.burst}`
                        : 'default',
                  },
                  { header: 'Last used', cell: (row) => formatTime(row.last_used_at) },
                  {
                    header: 'Actions',
                    cell: (row) => (
                      <div className="row-actions">
                        <button type="button" onClick={() => setEditing(row)}>
                          Edit <span className="visually-hidden">{row.name}</span>
                        </button>
                        <button type="button" onClick={() => setRotating(row)}>
                          Rotate secret <span className="visually-hidden">of {row.name}</span>
                        </button>
                        <button
                          type="button"
                          disabled={change.isPending}
                          onClick={() =>
                            change.mutate({
                              id: row.id,
                              body: { status: row.status === 'active' ? 'disabled' : 'active' },
                            })
                          }
                        >
                          {row.status === 'active' ? 'Disable' : 'Enable'}{' '}
                          <span className="visually-hidden">{row.name}</span>
                        </button>
                        <button type="button" className="danger" onClick={() => setDeleting(row)}>
                          Delete <span className="visually-hidden">{row.name}</span>
                        </button>
                      </div>
                    ),
                  },
                ]}
              />
            )}
            <Pager page={page} hasNext={page * PAGE_SIZE < (list.data?.total ?? 0)} onPage={setPage} />
          </>
        )}
      </Panel>
      <EditDialog
        account={editing}
        busy={change.isPending}
        error={change.error}
        onCancel={() => {
          change.reset();
          setEditing(null);
        }}
        onSave={(body) => editing && change.mutate({ id: editing.id, body })}
      />
      <ConfirmDialog
        open={rotating !== null}
        title={`Rotate the secret of ${rotating?.name ?? ''}?`}
        confirmLabel="Rotate"
        danger
        busy={rotate.isPending}
        onCancel={() => {
          rotate.reset();
          setRotating(null);
        }}
        onConfirm={() => rotating && rotate.mutate(rotating)}
        message={
          <>
            <p>
              The current secret stops working at once, and so do the tokens issued with it. The new secret is
              shown once.
            </p>
            <ErrorBanner error={rotate.error} />
          </>
        }
      />
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete ${deleting?.name ?? ''}?`}
        confirmLabel="Delete"
        danger
        busy={remove.isPending}
        onCancel={() => {
          remove.reset();
          setDeleting(null);
        }}
        onConfirm={() => deleting && remove.mutate(deleting)}
        message={
          <>
            <p>
              Its secret is erased and its tokens stop working. The audit log keeps naming it; the name
              becomes free. This cannot be undone.
            </p>
            <ErrorBanner error={remove.error} />
          </>
        }
      />
    </Page>
  );
}

function EditDialog({
  account,
  busy,
  error,
  onCancel,
  onSave,
}: {
  account: ServiceAccount | null;
  busy: boolean;
  error: unknown;
  onCancel: () => void;
  onSave: (body: Record<string, unknown>) => void;
}) {
  const [rateError, setRateError] = useState<string | undefined>();
  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!account) return;
    const form = new FormData(event.currentTarget);
    const rateLimit = rateLimitOf(form);
    if (typeof rateLimit === 'string') {
      setRateError(rateLimit);
      return;
    }
    setRateError(undefined);
    const description = String(form.get('description') ?? '').trim();
    const body: Record<string, unknown> = {};
    if (form.get('role') !== account.role) body.role = form.get('role');
    if ((description || null) !== account.description) body.description = description || null;
    if (JSON.stringify(rateLimit) !== JSON.stringify(account.rate_limit)) body.rate_limit = rateLimit;
    if (Object.keys(body).length === 0) onCancel();
    else onSave(body);
  }
  return (
    <Dialog open={account !== null} title={`Edit ${account?.name ?? ''}`} onClose={onCancel}>
      {account ? (
        <form onSubmit={onSubmit} aria-label={`Edit ${account.name}`}>
          <SelectField label="Role" name="role" options={ROLES} defaultValue={account.role} />
          <TextField label="Description" name="description" defaultValue={account.description ?? ''} />
          <div className="form-row">
            <TextField
              label="Requests per minute"
              name="per_minute"
              type="number"
              min={1}
              defaultValue={account.rate_limit?.per_minute ?? ''}
              hint="Both empty: the default"
            />
            <TextField
              label="Burst"
              name="burst"
              type="number"
              min={1}
              defaultValue={account.rate_limit?.burst ?? ''}
              error={rateError}
            />
          </div>
          <p className="field-hint">A change of role or rate limit ends the account's current tokens.</p>
          <ErrorBanner error={error} />
          <div className="dialog-actions">
            <button type="button" onClick={onCancel}>
              Cancel
            </button>
            <button type="submit" className="primary" disabled={busy}>
              Save
            </button>
          </div>
        </form>
      ) : null}
    </Dialog>
  );
}
