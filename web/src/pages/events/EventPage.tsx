import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import { Link, useParams } from 'react-router';
import { api } from '../../app/api.ts';
import { formatInteger, formatMoney, formatTime } from '../../app/format.ts';
import { useEventStream } from '../../app/live.ts';
import { ErrorBanner, Loading, Stat } from '../../ui/Feedback.tsx';
import { Page, Panel } from '../../ui/Page.tsx';
import { BookingsPanel } from './BookingsPanel.tsx';
import { SeatMap } from './SeatMap.tsx';
import type { SalesAnswer, SeatMapAnswer, ZoneSales } from './types.ts';
import './events.css';

/** How often the sales figures and the seat map are read again without the live stream. */
const REFRESH_MS = 5_000;
/** With the live stream: the seat map is read again when the stream's counts move, at most this often. */
const MAP_MIN_INTERVAL_MS = 2_000;

/** What this page reads of the dashboard's `snapshot` events (GET /api/admin/live?event_id=). */
interface LiveSales {
  sales?: { events?: (Omit<SalesAnswer, 'event'> & { title: string | null })[] };
}

/** An event: its sales per zone, its seat map on a canvas, and its bookings (refund for sales:refund). */
export default function EventPage() {
  const id = Number(useParams().id);
  const valid = Number.isSafeInteger(id) && id >= 1;
  // The dashboard's stream, when it is there: figures about once a second. Without it, polling.
  const live = useEventStream<LiveSales>(valid ? `/api/admin/live?event_id=${id}` : undefined, 'snapshot');
  const liveSales = live.connected ? live.data?.sales?.events?.find((e) => e.event_id === id) : undefined;
  const sales = useQuery({
    queryKey: ['admin-sales', id],
    queryFn: ({ signal }) => api<SalesAnswer>(`/api/admin/events/${id}/sales`, { signal }),
    enabled: valid,
    refetchInterval: liveSales ? 30_000 : REFRESH_MS,
  });
  const seatMap = useQuery({
    queryKey: ['admin-seat-map', id],
    queryFn: ({ signal }) => api<SeatMapAnswer>(`/api/admin/events/${id}/seat-map`, { signal }),
    enabled: valid,
    refetchInterval: liveSales ? 30_000 : REFRESH_MS,
  });
  // The stream's counts moved away from the drawn map's: read the map again (throttled).
  const lastMapRead = useRef(0);
  const counts = seatMap.data?.counts;
  const refetchMap = seatMap.refetch;
  useEffect(() => {
    if (!liveSales || !counts || seatMap.isFetching) return;
    if (liveSales.sold_seats === counts.sold && liveSales.reserved_seats === counts.reserved) return;
    const wait = lastMapRead.current + MAP_MIN_INTERVAL_MS - Date.now();
    const timer = setTimeout(
      () => {
        lastMapRead.current = Date.now();
        void refetchMap();
      },
      Math.max(0, wait),
    );
    return () => clearTimeout(timer);
  }, [liveSales, counts, seatMap.isFetching, refetchMap]);
  const figures = sales.data ? { ...sales.data, ...(liveSales ?? {}), event: sales.data.event } : undefined;
  const refresh = () => {
    void sales.refetch();
    void seatMap.refetch();
  };
  const title = sales.data?.event.title ?? `Event ${valid ? id : ''}`;

  return (
    <Page
      title={title}
      actions={
        <>
          <Link to="/events">All events</Link>
          <button type="button" onClick={refresh}>
            Refresh now
          </button>
        </>
      }
    >
      {!valid ? <ErrorBanner error={new Error('Not an event id')} /> : null}
      <ErrorBanner error={sales.error} />
      {sales.data ? (
        <p className="events-meta">
          #{sales.data.event.id} · {sales.data.event.type} · {sales.data.event.provider} · starts{' '}
          {formatTime(sales.data.event.datetime_start)} ·{' '}
          {liveSales ? 'live' : `refreshed every ${REFRESH_MS / 1000} s`}
        </p>
      ) : null}
      <Panel title="Sales">
        {sales.isPending && valid ? (
          <Loading />
        ) : figures ? (
          <>
            <dl className="stats">
              <Stat label="Sold" value={formatInteger(figures.sold_seats)} />
              <Stat label="Reserved" value={formatInteger(figures.reserved_seats)} />
              <Stat label="Free" value={formatInteger(figures.free_seats)} />
              <Stat label="Revenue" value={formatMoney(figures.total_revenue)} />
              <Stat
                label="Bookings"
                value={formatInteger(figures.bookings_count)}
                hint="not cancelled or refunded"
              />
            </dl>
            <ZoneTable zones={figures.zones} />
          </>
        ) : null}
      </Panel>
      <Panel title="Seat map">
        <ErrorBanner error={seatMap.error} />
        {seatMap.isPending && valid ? (
          <Loading label="Loading the seat map…" />
        ) : seatMap.data && seatMap.data.capacity > 0 ? (
          <SeatMap map={seatMap.data} />
        ) : seatMap.data ? (
          <p>This event has no seat map (it started before anything was put on sale).</p>
        ) : null}
      </Panel>
      {valid ? <BookingsPanel eventId={id} /> : null}
    </Page>
  );
}

const ZONE_COLUMNS: { header: string; cell: (z: ZoneSales) => string; numeric?: boolean }[] = [
  { header: 'Zone', cell: (z) => z.name },
  { header: 'Price', numeric: true, cell: (z) => formatMoney(z.price) },
  { header: 'Seats', numeric: true, cell: (z) => formatInteger(z.total_seats) },
  { header: 'Sold', numeric: true, cell: (z) => formatInteger(z.sold_seats) },
  { header: 'Reserved', numeric: true, cell: (z) => formatInteger(z.reserved_seats) },
  { header: 'Free', numeric: true, cell: (z) => formatInteger(z.free_seats) },
  { header: 'Revenue', numeric: true, cell: (z) => formatMoney(z.revenue) },
];

/** Sales per zone; its scroll box is focusable, so a keyboard can scroll it sideways on a phone. */
function ZoneTable({ zones }: { zones: ZoneSales[] }) {
  if (zones.length === 0) return <p>This event has no seat map.</p>;
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard
    <section className="table-scroll" tabIndex={0} aria-label="Sales per zone">
      <table>
        <caption className="visually-hidden">Sales per zone</caption>
        <thead>
          <tr>
            {ZONE_COLUMNS.map((c) => (
              <th key={c.header} scope="col" className={c.numeric ? 'numeric' : undefined}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {zones.map((z) => (
            <tr key={z.zone_id}>
              {ZONE_COLUMNS.map((c) => (
                <td key={c.header} className={c.numeric ? 'numeric' : undefined}>
                  {c.cell(z)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
