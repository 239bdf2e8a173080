import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../app/api.ts';
import { formatInteger, formatTime } from '../../app/format.ts';
import { isoToLocal, useUrlFilters } from '../../app/url-filters.ts';
import { Dialog } from '../../ui/Dialog.tsx';
import { ErrorBanner, Loading, StatusBadge } from '../../ui/Feedback.tsx';
import { TextField } from '../../ui/Field.tsx';
import { Page, Panel } from '../../ui/Page.tsx';
import { Pager, Table } from '../../ui/Table.tsx';
import './audit.css';

interface AuditEntry {
  id: string;
  at: string;
  actor_type: 'service_account' | 'staff' | 'system' | 'anonymous';
  actor_id: string | null;
  action: string;
  resource: string;
  result: 'success' | 'failure' | 'denied';
  reason?: string;
  metadata: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}
interface AuditPage {
  items: AuditEntry[];
  page: number;
  pageSize: number;
  hasMore: boolean;
}
type VerifyResult =
  | { valid: true; entries: number; head: { id: string; hash: string } | null }
  | { valid: false; first_bad_id: string; reason: string };
interface Checkpoints {
  public_key: { alg: 'Ed25519'; jwk: { kty: string; crv: string; x: string }; message: string };
  checkpoints: { head_id: string; head_hash: string; at: string; signature: string }[];
}

const PAGE_SIZE = 50;
const FILTERS = ['actor_id', 'action', 'resource', 'from', 'to'] as const;

/** The audit log: filters and paging per the API, entry details, and the chain's verification. */
export default function AuditLogPage() {
  const { values: filters, page, key, applyForm, setPage, clear } = useUrlFilters(FILTERS, ['from', 'to']);
  const log = useQuery({
    queryKey: ['audit', filters, page],
    queryFn: () => api<AuditPage>('/api/audit', { query: { ...filters, page, pageSize: PAGE_SIZE } }),
    placeholderData: keepPreviousData,
  });
  const [entry, setEntry] = useState<AuditEntry | null>(null);

  return (
    <Page title="Audit log">
      <VerifyPanel />
      <Panel title="Filters">
        <form onSubmit={applyForm} aria-label="Filter the audit log" key={key}>
          <div className="form-row">
            <TextField label="Actor id" name="actor_id" defaultValue={filters.actor_id} />
            <TextField
              label="Action"
              name="action"
              defaultValue={filters.action}
              placeholder="staff.sign_in"
              hint="Exact, e.g. service_account.create"
            />
            <TextField
              label="Resource"
              name="resource"
              defaultValue={filters.resource}
              placeholder="staff:1"
              hint="Exact, e.g. storage_element:se-1"
            />
          </div>
          <div className="form-row">
            <TextField
              label="From"
              name="from"
              type="datetime-local"
              defaultValue={isoToLocal(filters.from)}
            />
            <TextField
              label="To"
              name="to"
              type="datetime-local"
              defaultValue={isoToLocal(filters.to)}
              hint="Inclusive"
            />
          </div>
          <div className="row-actions">
            <button type="submit" className="primary">
              Apply filters
            </button>
            <button type="button" onClick={clear}>
              Clear
            </button>
          </div>
        </form>
      </Panel>
      <Panel title="Entries">
        <ErrorBanner error={log.error} />
        {log.isPending ? (
          <Loading />
        ) : (
          <>
            {(log.data?.items.length ?? 0) === 0 ? (
              <p>No entry matches.</p>
            ) : (
              <Table
                caption="Audit log entries, newest first"
                rows={log.data?.items ?? []}
                rowKey={(row) => row.id}
                empty="No entry matches."
                columns={[
                  { header: '#', numeric: true, cell: (row) => row.id },
                  { header: 'At', cell: (row) => formatTime(row.at) },
                  {
                    header: 'Actor',
                    cell: (row) => (
                      <>
                        {row.actor_type}
                        {row.actor_id ? <code> {row.actor_id}</code> : null}
                      </>
                    ),
                  },
                  { header: 'Action', cell: (row) => <code>{row.action}</code> },
                  { header: 'Resource', cell: (row) => <code>{row.resource}</code> },
                  {
                    header: 'Result',
                    cell: (row) => (
                      <>
                        <StatusBadge status={row.result} />
                        {row.reason ? <span className="field-hint"> {row.reason}</span> : null}
                      </>
                    ),
                  },
                  {
                    header: 'Details',
                    cell: (row) => (
                      <div className="row-actions">
                        <button type="button" onClick={() => setEntry(row)}>
                          Details <span className="visually-hidden">of entry {row.id}</span>
                        </button>
                      </div>
                    ),
                  },
                ]}
              />
            )}
            <Pager page={page} hasNext={log.data?.hasMore ?? false} onPage={setPage} />
          </>
        )}
      </Panel>
      <Dialog open={entry !== null} title={`Audit entry ${entry?.id ?? ''}`} onClose={() => setEntry(null)}>
        {entry ? (
          <>
            <dl className="audit-figures">
              <dt>At</dt>
              <dd>{entry.at}</dd>
              <dt>Actor</dt>
              <dd>
                {entry.actor_type} {entry.actor_id ?? ''}
              </dd>
              <dt>Action</dt>
              <dd>
                <code>{entry.action}</code>
              </dd>
              <dt>Resource</dt>
              <dd>
                <code>{entry.resource}</code>
              </dd>
              <dt>Result</dt>
              <dd>
                {entry.result}
                {entry.reason ? ` (${entry.reason})` : ''}
              </dd>
              <dt>Previous hash</dt>
              <dd className="hash mono">{entry.prev_hash}</dd>
              <dt>Hash</dt>
              <dd className="hash mono">{entry.hash}</dd>
            </dl>
            <h3>Metadata</h3>
            <pre className="json-block">{JSON.stringify(entry.metadata, null, 2)}</pre>
          </>
        ) : null}
        <div className="dialog-actions">
          <button type="button" onClick={() => setEntry(null)}>
            Close
          </button>
        </div>
      </Dialog>
    </Page>
  );
}

/** `GET /api/audit/verify` (on demand: it walks the whole chain) and the signed checkpoints. */
function VerifyPanel() {
  const verify = useQuery({
    queryKey: ['audit-verify'],
    queryFn: () => api<VerifyResult>('/api/audit/verify'),
    staleTime: Number.POSITIVE_INFINITY,
  });
  const checkpoints = useQuery({
    queryKey: ['audit-checkpoints'],
    // Oldest first, at most 1,000 an answer: the screen shows the newest ten of those (a log with more
    // checkpoints than that would need paging with after_head_id; not done here).
    queryFn: () => api<Checkpoints>('/api/audit/checkpoints', { query: { limit: 1000 } }),
    staleTime: 60_000,
  });
  const result = verify.data;
  const recent = checkpoints.data?.checkpoints.slice(-10).reverse() ?? [];
  return (
    <Panel
      title="Chain verification"
      actions={
        <button
          type="button"
          disabled={verify.isFetching}
          onClick={() => {
            void verify.refetch();
            void checkpoints.refetch();
          }}
        >
          {verify.isFetching ? 'Verifying…' : 'Verify again'}
        </button>
      }
    >
      <ErrorBanner error={verify.error} />
      {verify.isPending ? (
        <Loading label="Verifying the chain…" />
      ) : result ? (
        <div aria-live="polite" aria-busy={verify.isFetching}>
          <div className="verify-state">
            <span className={result.valid ? 'verdict ok' : 'verdict bad'} data-testid="verify-verdict">
              {result.valid ? 'Chain intact' : 'Chain broken'}
            </span>
            <StatusBadge status={result.valid ? 'valid' : 'broken'} />
            <span className="field-hint">checked {formatTime(verify.dataUpdatedAt)}</span>
          </div>
          {result.valid ? (
            <dl className="audit-figures">
              <dt>Entries verified</dt>
              <dd>{formatInteger(result.entries)}</dd>
              <dt>Head</dt>
              <dd>
                {result.head ? (
                  <>
                    entry {result.head.id} <span className="hash mono">{result.head.hash}</span>
                  </>
                ) : (
                  'empty log'
                )}
              </dd>
            </dl>
          ) : (
            <dl className="audit-figures">
              <dt>First bad entry</dt>
              <dd>{result.first_bad_id}</dd>
              <dt>Reason</dt>
              <dd>{result.reason}</dd>
            </dl>
          )}
        </div>
      ) : null}
      <h3>Signed checkpoints</h3>
      <ErrorBanner error={checkpoints.error} />
      {checkpoints.data ? (
        <>
          <p className="field-hint">
            {formatInteger(checkpoints.data.checkpoints.length)} checkpoints, Ed25519 over{' '}
            {checkpoints.data.public_key.message}. Public key (JWK x):{' '}
            <code className="hash">{checkpoints.data.public_key.jwk.x}</code>
          </p>
          {recent.length === 0 ? (
            <p>No checkpoint yet (one is signed every few minutes once the chain grows).</p>
          ) : (
            <Table
              caption="The latest signed checkpoints"
              rows={recent}
              rowKey={(row) => row.head_id}
              empty="No checkpoint yet (one is signed every few minutes once the chain grows)."
              columns={[
                { header: 'Head entry', numeric: true, cell: (row) => row.head_id },
                { header: 'Signed at', cell: (row) => formatTime(row.at) },
                { header: 'Head hash', cell: (row) => <span className="hash mono">{row.head_hash}</span> },
              ]}
            />
          )}
        </>
      ) : null}
    </Panel>
  );
}
