import { useQuery } from '@tanstack/react-query';
import { useSearchParams } from 'react-router';
import { api, withQuery } from '../../app/api.ts';
import { formatDecimal, formatInteger, formatMoney, formatTime } from '../../app/format.ts';
import { useEventStream } from '../../app/live.ts';
import { ErrorBanner, Loading, Notice, Stat, StatusBadge } from '../../ui/Feedback.tsx';
import { Page, Panel } from '../../ui/Page.tsx';
import { Table } from '../../ui/Table.tsx';
import { EventPicker } from './EventPicker.tsx';
import type {
  BreakerState,
  DropOverview,
  EventSales,
  LiveSnapshot,
  NotifyOverview,
  ZoneSales,
} from './types.ts';
import './dashboard.css';

/**
 * The dashboard: sales per event and zone, the current drop, the payment breaker and the notify queue.
 * One snapshot from `GET /api/admin/overview` first (it also says whether the event exists), then the
 * server-sent events of `GET /api/admin/live`, about one a second.
 */
export default function DashboardPage() {
  const [params, setParams] = useSearchParams();
  const raw = params.get('event');
  const eventId = raw && /^\d+$/.test(raw) && Number(raw) >= 1 ? Number(raw) : undefined;
  const query = { event_id: eventId };
  const first = useQuery({
    queryKey: ['dashboard-overview', eventId ?? null],
    queryFn: ({ signal }) => api<LiveSnapshot>('/api/admin/overview', { query, signal }),
    retry: false,
  });
  // The stream opens once the event is known to exist (a 404 would only make EventSource retry forever).
  const live = useEventStream<LiveSnapshot>(
    first.isSuccess ? withQuery('/api/admin/live', query) : undefined,
    'snapshot',
  );
  const snapshot = live.data ?? first.data;

  const pick = (id: number | undefined) => {
    const next = new URLSearchParams(params);
    if (id === undefined) next.delete('event');
    else next.set('event', String(id));
    setParams(next);
  };

  return (
    <Page
      title="Dashboard"
      actions={
        first.isSuccess ? (
          <output className="live-indicator" data-live={live.connected} aria-live="polite">
            {live.connected ? 'Live' : 'Reconnecting…'}
          </output>
        ) : null
      }
    >
      <Panel title="Event">
        <EventPicker key={eventId ?? 'recent'} eventId={eventId} onPick={pick} />
      </Panel>
      <ErrorBanner error={first.error} />
      {!snapshot && first.isPending ? <Loading /> : null}
      {snapshot ? <Figures snapshot={snapshot} /> : null}
    </Page>
  );
}

function Figures({ snapshot }: { snapshot: LiveSnapshot }) {
  return (
    <>
      {snapshot.sales.events.length === 0 ? (
        <Notice>No event has seats or bookings yet.</Notice>
      ) : (
        snapshot.sales.events.map((event) => <EventPanel key={event.event_id} event={event} />)
      )}
      <div className="grid">
        <DropPanel drop={snapshot.drop} />
        <BreakerPanel breaker={snapshot.breaker} />
        <NotifyPanel notify={snapshot.notify} />
      </div>
      <p className="dashboard-meta">Updated {formatTime(snapshot.at)}</p>
    </>
  );
}

function EventPanel({ event }: { event: EventSales }) {
  const title = `${event.title ?? 'Event'} (#${event.event_id})`;
  return (
    <Panel title={title}>
      <dl className="stats" aria-label={`Sales of ${title}`}>
        <Stat
          label="Sold"
          value={formatInteger(event.sold_seats)}
          hint={`of ${formatInteger(event.total_seats)}`}
        />
        <Stat label="Reserved" value={formatInteger(event.reserved_seats)} />
        <Stat label="Free" value={formatInteger(event.free_seats)} />
        <Stat label="Revenue" value={formatMoney(event.total_revenue)} />
        <Stat label="Bookings" value={formatInteger(event.bookings_count)} />
      </dl>
      <h3 className="visually-hidden">Zones</h3>
      {/* The scroll container on a phone: focusable, so the keyboard can scroll it (the shell's is not). */}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard */}
      <section className="zone-table" tabIndex={0} aria-label={`Zones of ${title}`}>
        <Table<ZoneSales>
          caption={`Zones of ${title}`}
          rows={event.zones}
          rowKey={(z) => z.zone_id}
          empty="This event has no seat map."
          columns={[
            { header: 'Zone', cell: (z) => z.name },
            { header: 'Price', cell: (z) => formatMoney(z.price), numeric: true },
            { header: 'Sold', cell: (z) => formatInteger(z.sold_seats), numeric: true },
            { header: 'Reserved', cell: (z) => formatInteger(z.reserved_seats), numeric: true },
            { header: 'Free', cell: (z) => formatInteger(z.free_seats), numeric: true },
            { header: 'Revenue', cell: (z) => formatMoney(z.revenue), numeric: true },
            { header: 'Seats', cell: (z) => <ZoneBar zone={z} /> },
          ]}
        />
      </section>
      <ul className="legend" aria-hidden="true">
        <li className="legend-sold">Sold</li>
        <li className="legend-reserved">Reserved</li>
        <li className="legend-free">Free</li>
      </ul>
    </Panel>
  );
}

function ZoneBar({ zone }: { zone: ZoneSales }) {
  const total = Math.max(1, zone.total_seats);
  const pct = (n: number) => `${(n / total) * 100}%`;
  return (
    <div
      className="zone-bar"
      role="img"
      aria-label={`${zone.name}: ${formatInteger(zone.sold_seats)} sold, ${formatInteger(zone.reserved_seats)} reserved, ${formatInteger(zone.free_seats)} free`}
    >
      <span className="bar-sold" style={{ width: pct(zone.sold_seats) }} />
      <span className="bar-reserved" style={{ width: pct(zone.reserved_seats) }} />
      <span className="bar-free" style={{ width: pct(zone.free_seats) }} />
    </div>
  );
}

function DropPanel({ drop }: { drop: DropOverview | null }) {
  return (
    <Panel title="Current drop">
      {drop ? (
        <>
          <dl className="stats" aria-label="The current drop">
            <Stat
              label="Items left"
              value={formatInteger(drop.left)}
              hint={`of ${formatInteger(drop.items)}`}
            />
            <Stat label="Sold" value={formatInteger(drop.sold)} />
            <Stat label="Reserved" value={formatInteger(drop.reserved)} />
            <Stat label="Purchases / s" value={formatDecimal(drop.purchasesPerSecond)} />
            <Stat label="Sold out at" value={drop.soldOutAt ? formatTime(drop.soldOutAt) : 'Not yet'} />
          </dl>
          <p className="dashboard-meta">
            Sale {formatInteger(drop.sale)}: {formatTime(drop.startsAt)} – {formatTime(drop.endsAt)}
          </p>
        </>
      ) : (
        <p className="dashboard-muted">Drops are off in this deployment.</p>
      )}
    </Panel>
  );
}

function BreakerPanel({ breaker }: { breaker: BreakerState | null }) {
  return (
    <Panel title="Payment gateway" actions={breaker ? <StatusBadge status={breaker.state} /> : null}>
      {breaker ? (
        <dl className="stats" aria-label="The payment circuit breaker">
          <Stat label="Circuit breaker" value={breaker.state === 'HalfOpen' ? 'Half-open' : breaker.state} />
          <Stat
            label="Failures"
            value={formatInteger(breaker.failure_count)}
            hint={`opens at ${formatInteger(breaker.threshold)}`}
          />
          {breaker.opened_at ? <Stat label="Opened at" value={formatTime(breaker.opened_at)} /> : null}
          {breaker.next_attempt_at ? (
            <Stat label="Next try" value={formatTime(breaker.next_attempt_at)} />
          ) : null}
        </dl>
      ) : (
        <p className="dashboard-muted">Payments do not run in this process.</p>
      )}
    </Panel>
  );
}

function NotifyPanel({ notify }: { notify: NotifyOverview | null }) {
  const atLeast = (n: number) => `${formatInteger(n)}${notify?.capped && n >= 100_000 ? '+' : ''}`;
  return (
    <Panel title="Notifications">
      {notify ? (
        <>
          <dl className="stats" aria-label="The notification queue">
            <Stat label="Sent, last minute" value={formatInteger(notify.sent_last_minute)} />
            <Stat label="Queued" value={atLeast(notify.queued)} hint={`${atLeast(notify.due)} due`} />
            <Stat label="In flight" value={formatInteger(notify.in_flight)} />
            <Stat
              label="Failed, last minute"
              value={formatInteger(notify.failed_last_minute)}
              hint={`${formatInteger(notify.failed_last_hour)} in the last hour`}
            />
            <Stat label="Dead letters" value={atLeast(notify.dead_letters)} />
          </dl>
          <p className="dashboard-meta">Measured {formatTime(notify.measured_at)} (every 5 s)</p>
        </>
      ) : (
        <p className="dashboard-muted">No figures.</p>
      )}
    </Panel>
  );
}
