import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../app/api.ts';
import { formatDecimal, formatInteger, formatPercent } from '../../app/format.ts';
import { ErrorBanner, Loading, Stat } from '../../ui/Feedback.tsx';
import { SelectField, TextField } from '../../ui/Field.tsx';
import { Page, Panel } from '../../ui/Page.tsx';
import { Table } from '../../ui/Table.tsx';
import { Chart } from './Chart.tsx';
import { type AnalyticsReport, CHANNELS, type TimeToOpen } from './types.ts';
import './notify.css';

const DAY_MS = 86_400_000;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const percentTick = (v: number) => `${Math.round(v * 100)} %`;

/** Seconds as a short duration: 45 s, 3.2 min, 5.1 h, 2 d. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 60) return `${formatDecimal(seconds)} s`;
  if (seconds < 3600) return `${formatDecimal(seconds / 60)} min`;
  if (seconds < 86_400) return `${formatDecimal(seconds / 3600)} h`;
  return `${formatDecimal(seconds / 86_400)} d`;
}

/** Coarse bins for the chart (the API's buckets are four per doubling). */
const BINS = [
  0,
  10,
  30,
  60,
  300,
  900,
  3600,
  3 * 3600,
  12 * 3600,
  86_400,
  3 * 86_400,
  Number.POSITIVE_INFINITY,
];
function binned(histogram: TimeToOpen) {
  return BINS.slice(0, -1).map((lower, i) => {
    const upper = BINS[i + 1]!;
    const count = histogram.buckets
      .filter((b) => b.from_seconds >= lower && b.from_seconds < upper)
      .reduce((sum, b) => sum + b.count, 0);
    const label = Number.isFinite(upper)
      ? `${formatDuration(lower)}–${formatDuration(upper)}`
      : `over ${formatDuration(lower)}`;
    return { label, count };
  });
}
const binTick = (v: number) => (Number.isInteger(v) && v >= 0 && v < BINS.length - 1 ? String(v + 1) : '');

export default function AnalyticsPage() {
  const today = Date.parse(`${day(Date.now())}T00:00:00Z`);
  const [from, setFrom] = useState(day(today - 13 * DAY_MS));
  const [to, setTo] = useState(day(today));
  const [channel, setChannel] = useState('');
  const query = { from, to, channel: channel || undefined };
  const byDay = useQuery({
    queryKey: ['notify-analytics', 'day', query],
    queryFn: () => api<AnalyticsReport>('/api/notify/analytics', { query: { ...query, group_by: 'day' } }),
    refetchInterval: 30_000,
  });
  const byCountry = useQuery({
    queryKey: ['notify-analytics', 'country', query],
    queryFn: () =>
      api<AnalyticsReport>('/api/notify/analytics', { query: { ...query, group_by: 'country' } }),
    refetchInterval: 30_000,
  });
  const latency = useQuery({
    queryKey: ['notify-analytics', 'time-to-open', query],
    queryFn: () => api<TimeToOpen>('/api/notify/analytics/time-to-open', { query }),
    refetchInterval: 30_000,
  });

  // Every day of the range, so a day without sends is a gap rather than missing.
  const days: string[] = [];
  for (
    let t = Date.parse(`${from}T00:00:00Z`);
    t <= Date.parse(`${to}T00:00:00Z`) && days.length < 366;
    t += DAY_MS
  )
    days.push(day(t));
  const groups = new Map((byDay.data?.groups ?? []).map((g) => [g.key, g]));
  const totals = byDay.data?.totals;
  const bins = latency.data ? binned(latency.data) : [];

  return (
    <Page title="Notify analytics">
      <Panel title="Range">
        <div className="form-row">
          <TextField
            label="From"
            type="date"
            value={from}
            max={to}
            onChange={(e) => e.target.value && setFrom(e.target.value)}
          />
          <TextField
            label="To"
            type="date"
            value={to}
            min={from}
            onChange={(e) => e.target.value && setTo(e.target.value)}
          />
          <SelectField
            label="Channel"
            value={channel}
            onChange={(e) => setChannel(e.target.value)}
            options={[{ value: '', label: 'all channels' }, ...CHANNELS]}
          />
        </div>
        <ErrorBanner error={byDay.error ?? byCountry.error ?? latency.error} />
        {totals ? (
          <dl className="stats">
            <Stat label="Sent" value={formatInteger(totals.counts.sent)} />
            <Stat label="Delivery rate" value={formatPercent(totals.delivery_rate)} />
            <Stat label="Open rate" value={formatPercent(totals.open_rate)} />
            <Stat label="Click rate" value={formatPercent(totals.click_rate)} />
            <Stat
              label="Time to open"
              value={formatDuration(totals.time_to_open?.p50)}
              hint={totals.time_to_open ? `p95 ${formatDuration(totals.time_to_open.p95)}` : undefined}
            />
            <Stat label="Failed" value={formatInteger(totals.counts.failed)} />
          </dl>
        ) : null}
      </Panel>

      <Panel title="Rates over time">
        {byDay.isPending ? (
          <Loading />
        ) : (
          <>
            <Chart
              label={`Delivery, open and click rates per day from ${from} to ${to}; the table below has the numbers`}
              x={days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000)}
              yFormat={percentTick}
              yRange={[0, 1]}
              series={[
                {
                  label: 'Delivery rate',
                  color: '--success',
                  values: days.map((d) => groups.get(d)?.delivery_rate ?? null),
                },
                {
                  label: 'Open rate',
                  color: '--accent',
                  values: days.map((d) => groups.get(d)?.open_rate ?? null),
                },
                {
                  label: 'Click rate',
                  color: '--warning',
                  values: days.map((d) => groups.get(d)?.click_rate ?? null),
                },
              ]}
            />
            <details>
              <summary>Rates per day as a table</summary>
              <Table
                caption="Rates per day"
                rows={days.filter((d) => groups.has(d))}
                rowKey={(d) => d}
                empty="Nothing was sent in this range."
                columns={[
                  { header: 'Day', cell: (d) => d },
                  { header: 'Sent', numeric: true, cell: (d) => formatInteger(groups.get(d)!.counts.sent) },
                  {
                    header: 'Delivery rate',
                    numeric: true,
                    cell: (d) => formatPercent(groups.get(d)!.delivery_rate),
                  },
                  {
                    header: 'Open rate',
                    numeric: true,
                    cell: (d) => formatPercent(groups.get(d)!.open_rate),
                  },
                  {
                    header: 'Click rate',
                    numeric: true,
                    cell: (d) => formatPercent(groups.get(d)!.click_rate),
                  },
                ]}
              />
            </details>
          </>
        )}
      </Panel>

      <Panel title="Time to open">
        {latency.isPending ? (
          <Loading />
        ) : (
          <>
            <p>
              {formatInteger(latency.data?.total ?? 0)} first opens
              {totals?.time_to_open
                ? `; half within ${formatDuration(totals.time_to_open.p50)}, 95 % within ${formatDuration(totals.time_to_open.p95)}.`
                : '.'}
            </p>
            <Chart
              label="First opens by time from send to open; the table below has the numbers"
              kind="bars"
              xTime={false}
              xFormat={binTick}
              x={bins.map((_, i) => i)}
              series={[{ label: 'Opens', color: '--accent', values: bins.map((b) => b.count) }]}
            />
            <Table
              caption="First opens by time to open"
              rows={bins.map((b, i) => ({ ...b, n: i + 1 }))}
              rowKey={(b) => b.n}
              columns={[
                { header: '#', numeric: true, cell: (b) => b.n },
                { header: 'Time to open', cell: (b) => b.label },
                { header: 'Opens', numeric: true, cell: (b) => formatInteger(b.count) },
              ]}
            />
          </>
        )}
      </Panel>

      <Panel title="By country">
        {byCountry.isPending ? (
          <Loading />
        ) : (
          <Table
            caption="Numbers by country"
            rows={byCountry.data?.groups ?? []}
            rowKey={(g) => g.key ?? '—'}
            empty="Nothing was sent in this range."
            columns={[
              { header: 'Country', cell: (g) => g.key ?? 'unknown' },
              { header: 'Sent', numeric: true, cell: (g) => formatInteger(g.counts.sent) },
              {
                header: 'Share of sends',
                cell: (g) => {
                  const share = totals?.counts.sent ? (g.counts.sent ?? 0) / totals.counts.sent : 0;
                  return (
                    <span className="share-bar" aria-hidden="true">
                      <span style={{ width: `${Math.round(share * 100)}%` }} />
                    </span>
                  );
                },
              },
              { header: 'Delivery rate', numeric: true, cell: (g) => formatPercent(g.delivery_rate) },
              { header: 'Open rate', numeric: true, cell: (g) => formatPercent(g.open_rate) },
              { header: 'Click rate', numeric: true, cell: (g) => formatPercent(g.click_rate) },
              {
                header: 'Time to open (p50)',
                numeric: true,
                cell: (g) => formatDuration(g.time_to_open?.p50),
              },
            ]}
          />
        )}
      </Panel>
    </Page>
  );
}
