/** What the staff box-office routes answer (src/booking/staff-routes.ts, /openapi.json "Admin: events"). */

export interface Totals {
  total_seats: number;
  sold_seats: number;
  reserved_seats: number;
  free_seats: number;
  total_revenue: string;
  bookings_count: number;
}

export interface EventItem {
  id: number;
  title: string;
  description: string | null;
  type: string;
  datetime_start: string;
  provider: string;
  totals: Totals | null;
}

export interface EventsAnswer {
  page: number;
  pageSize: number;
  has_more: boolean;
  events: EventItem[];
}

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

export interface SalesAnswer extends Totals {
  event_id: number;
  event: { id: number; title: string; type: string; provider: string; datetime_start: string };
  zones: ZoneSales[];
}

export interface SeatMapAnswer {
  event_id: number;
  venue: string | null;
  capacity: number;
  first_seat_id: number;
  zones: { index: number; zone_id: number; name: string; price: string; capacity: number }[];
  /** 5 integers per run: first seat index, row, zone index, first number, count. */
  runs: number[];
  /** One of F, R, S per seat. */
  status: string;
  counts: { free: number; reserved: number; sold: number };
  generated_at: string;
}

export interface StaffBooking {
  id: number;
  event_id: number;
  status: 'created' | 'pending_payment' | 'paid' | 'cancelled' | 'refunded';
  created_at: string;
  updated_at: string;
  buyer: { id: number; email: string | null };
  seats: { id: number; row: number; number: number; zone: string }[];
  payment: {
    status: string;
    state: string;
    amount: string;
    currency: string;
    payment_id: string | null;
    updated_at: string;
  } | null;
  action: 'refund' | 'cancel' | null;
}

export interface BookingsAnswer {
  page: number;
  pageSize: number;
  has_more: boolean;
  bookings: StaffBooking[];
}

export const STATUS_NAME: Record<string, string> = { F: 'FREE', R: 'RESERVED', S: 'SOLD' };
