import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useSearchParams } from 'react-router';
import { api } from '../../app/api.ts';
import { formatInteger, formatTime } from '../../app/format.ts';
import { useSession } from '../../app/session.tsx';
import { ErrorBanner, Loading, StatusBadge } from '../../ui/Feedback.tsx';
import { Page, Panel } from '../../ui/Page.tsx';
import { Table } from '../../ui/Table.tsx';
import type { Schedule } from './types.ts';
import './notify.css';

export default function SchedulesPage() {
  const { can } = useSession();
  const client = useQueryClient();
  const [params, setParams] = useSearchParams();
  const selected = Number(params.get('id')) || null;
  const list = useQuery({
    queryKey: ['schedules'],
    queryFn: () =>
      api<{ items: Schedule[]; next_after_id: number | null }>('/api/notifications/scheduled', {
        query: { limit: 500 },
      }),
    refetchInterval: 30_000,
  });
  const toggle = useMutation({
    mutationFn: (s: Schedule) =>
      api<Schedule>(`/api/notifications/scheduled/${s.id}`, { method: 'PATCH', body: { paused: !s.paused } }),
    onSettled: async () => {
      await client.invalidateQueries({ queryKey: ['schedules'] });
      await client.invalidateQueries({ queryKey: ['schedule'] });
    },
  });
  const manage = can('notify:manage');
  return (
    <Page title="Schedules">
      <Panel title="Scheduled notifications">
        <ErrorBanner error={list.error ?? toggle.error} />
        {list.isPending ? (
          <Loading />
        ) : (
          <Table
            caption="Scheduled notifications with their next runs"
            rows={list.data?.items ?? []}
            rowKey={(s) => s.id}
            empty="No schedules."
            columns={[
              { header: 'Name', cell: (s) => s.name ?? `#${s.id}` },
              { header: 'Status', cell: (s) => <StatusBadge status={s.status} /> },
              { header: 'Cron', cell: (s) => <span className="mono">{s.cron}</span> },
              { header: 'Zone', cell: (s) => s.time_zone },
              { header: 'Channel', cell: (s) => s.channel },
              {
                header: 'Next runs',
                cell: (s) =>
                  s.paused || s.next_runs.length === 0 ? (
                    '—'
                  ) : (
                    <ul className="plain-list">
                      {s.next_runs.slice(0, 3).map((at) => (
                        <li key={at}>{formatTime(at)}</li>
                      ))}
                    </ul>
                  ),
              },
              { header: 'Last run', cell: (s) => formatTime(s.last_run_at) },
              {
                header: 'Actions',
                cell: (s) => (
                  <div className="row-actions">
                    <button
                      type="button"
                      aria-label={`Details of ${s.name ?? `schedule ${s.id}`}`}
                      aria-pressed={selected === s.id}
                      onClick={() => setParams(selected === s.id ? {} : { id: String(s.id) })}
                    >
                      Details
                    </button>
                    {manage && s.status !== 'finished' ? (
                      <button
                        type="button"
                        disabled={toggle.isPending}
                        aria-label={`${s.paused ? 'Resume' : 'Pause'} ${s.name ?? `schedule ${s.id}`}`}
                        onClick={() => toggle.mutate(s)}
                      >
                        {s.paused ? 'Resume' : 'Pause'}
                      </button>
                    ) : null}
                  </div>
                ),
              },
            ]}
          />
        )}
      </Panel>
      {selected ? <ScheduleDetails id={selected} /> : null}
    </Page>
  );
}

function ScheduleDetails({ id }: { id: number }) {
  const details = useQuery({
    queryKey: ['schedule', id],
    queryFn: () => api<Schedule>(`/api/notifications/scheduled/${id}`),
  });
  const s = details.data;
  return (
    <Panel title={s ? `Schedule ${s.name ?? `#${s.id}`}` : 'Schedule'}>
      <ErrorBanner error={details.error} />
      {!s ? (
        details.isError ? null : (
          <Loading />
        )
      ) : (
        <>
          <dl className="details-list">
            <dt>Template</dt>
            <dd className="mono">{s.template_id}</dd>
            <dt>Category</dt>
            <dd>{s.category}</dd>
            <dt>Audience</dt>
            <dd>
              <pre className="mono segment-json">
                {JSON.stringify(s.segment ?? { user_ids: s.user_ids }, null, 2)}
              </pre>
            </dd>
            {s.next_runs_by_zone ? (
              <>
                <dt>Next runs by zone</dt>
                <dd>
                  <ul className="plain-list">
                    {Object.entries(s.next_runs_by_zone).map(([zone, runs]) => (
                      <li key={zone}>
                        {zone}: {runs.slice(0, 3).map(formatTime).join(', ')}
                      </li>
                    ))}
                  </ul>
                </dd>
              </>
            ) : null}
          </dl>
          <h3>Recent runs</h3>
          <Table
            caption="Recent runs"
            rows={s.recent_runs ?? []}
            rowKey={(r) => `${r.run_at}-${r.zone}`}
            empty="It has not run yet."
            columns={[
              { header: 'Run at', cell: (r) => formatTime(r.run_at) },
              { header: 'Zone', cell: (r) => r.zone || s.time_zone },
              { header: 'Recipients', numeric: true, cell: (r) => formatInteger(r.recipients) },
              { header: 'Notification', numeric: true, cell: (r) => r.notification_id ?? '—' },
              { header: 'Taken at', cell: (r) => formatTime(r.taken_at) },
            ]}
          />
        </>
      )}
    </Panel>
  );
}
