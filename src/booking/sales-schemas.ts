import { Type } from 'typebox';

/**
 * The shapes of an event's live sales, as `GET /api/analytics` and `/api/analytics/zones` answer them: one
 * definition for every route that shows them (the buyers' analytics, the staff event screens, the live
 * dashboard), so their OpenAPI descriptions cannot drift apart.
 */
export const SALES_TOTALS = {
  total_seats: Type.Integer(),
  sold_seats: Type.Integer(),
  reserved_seats: Type.Integer({ description: 'Live holds and seats pending payment' }),
  free_seats: Type.Integer({ description: 'Never held, released, or whose hold expired' }),
  total_revenue: Type.String({ description: 'Sum of the prices of sold seats, a decimal string' }),
  bookings_count: Type.Integer({ description: 'Bookings not cancelled or refunded' }),
};

export const ZoneSales = Type.Object({
  zone_id: Type.Integer(),
  name: Type.String(),
  price: Type.String({ description: 'Decimal string' }),
  total_seats: Type.Integer(),
  sold_seats: Type.Integer(),
  reserved_seats: Type.Integer({ description: 'Live holds and seats pending payment' }),
  free_seats: Type.Integer({ description: 'Never held, released, or whose hold expired' }),
  revenue: Type.String({ description: 'Sum of the prices of sold seats, a decimal string' }),
});
