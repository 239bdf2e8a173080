import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link } from 'react-router';
import { api } from '../../app/api.ts';
import { formatTime } from '../../app/format.ts';
import { isoToLocal, useUrlFilters } from '../../app/url-filters.ts';
import { ErrorBanner, Loading, StatusBadge } from '../../ui/Feedback.tsx';
import { SelectField, TextField } from '../../ui/Field.tsx';
import { Page, Panel } from '../../ui/Page.tsx';
import { Table } from '../../ui/Table.tsx';
import { CHANNELS, DELIVERY_STATUSES, type Delivery } from './types.ts';
import './notify.css';

const FILTERS = [
  'status',
  'channel',
  'notification_id',
  'campaign_id',
  'recipient',
  'user_id',
  'from',
  'to',
] as const;

export default function DeliveriesPage() {
  const { values: filters, key, applyForm, clear } = useUrlFilters(FILTERS, ['from', 'to']);
  // Keyset paging: the stack of `before_id`s of the pages before this one.
  const [cursors, setCursors] = useState<number[]>([]);
  const before = cursors.at(-1);
  const log = useQuery({
    queryKey: ['deliveries', filters, before],
    queryFn: () =>
      api<{ items: Delivery[]; next_before_id: number | null }>('/api/notify/deliveries', {
        query: { ...filters, before_id: before, limit: 50 },
      }),
  });
  const apply = (event: FormEvent<HTMLFormElement>) => {
    setCursors([]);
    applyForm(event);
  };
  return (
    <Page title="Delivery log">
      <Panel title="Filters">
        <form className="filters" onSubmit={apply} key={key}>
          <div className="form-row">
            <SelectField
              label="Status"
              name="status"
              defaultValue={filters.status}
              options={[{ value: '', label: 'any' }, ...DELIVERY_STATUSES]}
            />
            <SelectField
              label="Channel"
              name="channel"
              defaultValue={filters.channel}
              options={[{ value: '', label: 'any' }, ...CHANNELS]}
            />
            <TextField
              label="Recipient"
              name="recipient"
              defaultValue={filters.recipient}
              hint="Exact address"
            />
            <TextField label="User id" name="user_id" inputMode="numeric" defaultValue={filters.user_id} />
            <TextField
              label="Notification id"
              name="notification_id"
              inputMode="numeric"
              defaultValue={filters.notification_id}
            />
            <TextField
              label="Campaign id"
              name="campaign_id"
              inputMode="numeric"
              defaultValue={filters.campaign_id}
            />
            <TextField
              label="From"
              name="from"
              type="datetime-local"
              defaultValue={isoToLocal(filters.from)}
              hint="Default: 7 days ago"
            />
            <TextField label="To" name="to" type="datetime-local" defaultValue={isoToLocal(filters.to)} />
          </div>
          <div className="form-actions">
            <button type="submit" className="primary">
              Apply filters
            </button>
            <button
              type="button"
              onClick={() => {
                setCursors([]);
                clear();
              }}
            >
              Clear
            </button>
          </div>
        </form>
      </Panel>
      <Panel title="Deliveries">
        <ErrorBanner error={log.error} />
        {log.isPending ? (
          log.isError ? null : (
            <Loading />
          )
        ) : (
          <>
            <Table
              caption="Deliveries, newest first"
              rows={log.data?.items ?? []}
              rowKey={(d) => d.id}
              empty="No deliveries match."
              columns={[
                { header: 'Id', numeric: true, cell: (d) => d.id },
                { header: 'Created', cell: (d) => formatTime(d.created_at) },
                {
                  header: 'Status',
                  cell: (d) => (
                    <>
                      <StatusBadge status={d.status} /> {d.dead ? <StatusBadge status="dead" /> : null}
                    </>
                  ),
                },
                { header: 'Channel', cell: (d) => d.channel },
                { header: 'Recipient', cell: (d) => <span className="mono wrap">{d.recipient}</span> },
                {
                  header: 'Source',
                  cell: (d) =>
                    d.campaign_id ? (
                      <Link to={`/campaigns/${d.campaign_id}`}>campaign {d.campaign_id}</Link>
                    ) : (
                      `${d.kind ?? '?'} #${d.notification_id}`
                    ),
                },
                { header: 'Attempts', numeric: true, cell: (d) => d.attempts },
                { header: 'Error', cell: (d) => d.last_error ?? '—' },
              ]}
            />
            <nav className="pager" aria-label="Pages">
              <button
                type="button"
                disabled={cursors.length === 0}
                onClick={() => setCursors(cursors.slice(0, -1))}
              >
                Newer
              </button>
              <span>Page {cursors.length + 1}</span>
              <button
                type="button"
                disabled={!log.data?.next_before_id}
                onClick={() => log.data?.next_before_id && setCursors([...cursors, log.data.next_before_id])}
              >
                Older
              </button>
            </nav>
          </>
        )}
      </Panel>
    </Page>
  );
}
