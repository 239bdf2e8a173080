/** The snapshot of `GET /api/admin/live` (event `snapshot`) and `GET /api/admin/overview` (src/admin/live-routes.ts). */

export interface ZoneSales {
  zone_id: number;
  name: string;
  price: string;
  total_seats: number;
  sold_seats: number;
  reserved_seats: number;
  free_seats: number;
  revenue: string;
}

export interface EventSales {
  event_id: number;
  title: string | null;
  total_seats: number;
  sold_seats: number;
  reserved_seats: number;
  free_seats: number;
  total_revenue: string;
  bookings_count: number;
  zones: ZoneSales[];
}

export interface DropOverview {
  sale: number;
  startsAt: string;
  endsAt: string;
  items: number;
  left: number;
  sold: number;
  reserved: number;
  perUserLimit: number;
  reservationSeconds: number;
  firstCheckoutAt: string | null;
  soldOutAt: string | null;
  purchasesPerSecond: number | null;
}

export interface BreakerState {
  state: 'Closed' | 'Open' | 'HalfOpen';
  failure_count: number;
  threshold: number;
  timeout_seconds: number;
  opened_at: string | null;
  next_attempt_at: string | null;
}

export interface NotifyOverview {
  sent_last_minute: number;
  queued: number;
  due: number;
  in_flight: number;
  failed_last_minute: number;
  failed_last_hour: number;
  dead_letters: number;
  capped: boolean;
  measured_at: string;
}

export interface LiveSnapshot {
  at: string;
  sales: { event_id: number | null; events: EventSales[] };
  drop: DropOverview | null;
  breaker: BreakerState | null;
  notify: NotifyOverview | null;
}

/** One event of `GET /api/admin/events` (only what the picker needs). */
export interface FoundEvent {
  id: number;
  title: string;
  datetime_start: string;
}
