import { createRandom } from '../../platform/seeding.ts';

/**
 * Seat maps as data: which zones a venue has, their prices, rows and seats per row. Pure and deterministic
 * for (seed, event id), so a map generated lazily on first use is the same on every machine.
 *
 * Seat ids are derived, not allocated: seat `n` (1-based, row-major through the zones in order) of event `e`
 * has id `(e - 1) * SEAT_ID_SPACE + n`. Event 1's seats are 1..100,000, as the public data release numbers
 * them; an event's seats are one contiguous id range, so "the seats of event e" is a primary-key range
 * scan, and a seat id alone says which event it belongs to.
 */
export const SEAT_ID_SPACE = 100_000;

/** The largest event id whose seat ids stay exact JavaScript integers (below 2^53). */
export const MAX_SEATED_EVENT_ID = Math.floor(Number.MAX_SAFE_INTEGER / SEAT_ID_SPACE);

export function firstSeatId(eventId: number): number {
  return (eventId - 1) * SEAT_ID_SPACE + 1;
}

/** The event a seat id belongs to (whether or not that seat exists). */
export function eventOfSeat(seatId: number): number {
  return Math.floor((seatId - 1) / SEAT_ID_SPACE) + 1;
}

/** 1-based position of the seat in its event's map. */
export function seatOrdinal(seatId: number): number {
  return ((seatId - 1) % SEAT_ID_SPACE) + 1;
}

export interface ZoneLayout {
  name: string;
  /** Whole currency units. */
  price: number;
  rows: number;
  seatsPerRow: number;
}

export interface VenueLayout {
  name: string;
  kind: 'stadium' | 'cinema' | 'theatre' | 'club' | 'arena';
  zones: ZoneLayout[];
}

export function capacityOf(layout: VenueLayout): number {
  return layout.zones.reduce((sum, zone) => sum + zone.rows * zone.seatsPerRow, 0);
}

/** Event 1, the headline concert (specs/hackload-data.md): 100,000 seats in five zones, 100 seats a row. */
export const STADIUM: VenueLayout = Object.freeze({
  name: 'Central Stadium',
  kind: 'stadium',
  zones: [
    { name: 'Golden circle', price: 40_000, rows: 100, seatsPerRow: 100 },
    { name: 'Fan zone', price: 80_000, rows: 150, seatsPerRow: 100 },
    { name: 'Lower tier', price: 120_000, rows: 200, seatsPerRow: 100 },
    { name: 'Middle tier', price: 160_000, rows: 250, seatsPerRow: 100 },
    { name: 'Upper tier', price: 200_000, rows: 300, seatsPerRow: 100 },
  ],
}) as VenueLayout;

/**
 * The seat map of `eventId`: the stadium for event 1, otherwise a modest hall (a few hundred to about
 * 2,500 seats) whose kind follows the event's type when the catalog gives one (films in cinemas, games in
 * arenas, stage events in theatres or clubs), with sizes and prices drawn from the event's own PRNG stream.
 */
export function layoutFor(seed: number, eventId: number, eventType?: string): VenueLayout {
  if (eventId === 1) return STADIUM;
  const random = createRandom(seed, `booking:seatmap:${eventId}`);
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const price = (low: number, high: number, step: number) => between(low / step, high / step) * step;
  const kinds: VenueLayout['kind'][] = ['cinema', 'theatre', 'club', 'arena'];
  const drawn = kinds[Math.floor(random() * kinds.length)]!;
  const kind =
    eventType === 'film' || eventType === 'cinema'
      ? 'cinema'
      : eventType === 'game' || eventType === 'sport'
        ? 'arena'
        : eventType === 'stage' || eventType === 'theater' || eventType === 'concert'
          ? random() < 0.7
            ? 'theatre'
            : 'club'
          : drawn;
  const number = between(1, 12);
  switch (kind) {
    case 'cinema':
      return {
        name: `Cinema hall ${number}`,
        kind,
        zones: [
          {
            name: 'Standard',
            price: price(400, 1_200, 50),
            rows: between(8, 14),
            seatsPerRow: between(14, 22),
          },
          { name: 'VIP', price: price(1_500, 3_500, 100), rows: between(1, 3), seatsPerRow: between(8, 12) },
        ],
      };
    case 'theatre':
      return {
        name: `Drama theatre, stage ${number}`,
        kind,
        zones: [
          {
            name: 'Stalls',
            price: price(3_000, 9_000, 500),
            rows: between(12, 20),
            seatsPerRow: between(20, 28),
          },
          {
            name: 'Dress circle',
            price: price(2_000, 6_000, 500),
            rows: between(5, 8),
            seatsPerRow: between(20, 26),
          },
          {
            name: 'Balcony',
            price: price(1_000, 3_000, 500),
            rows: between(4, 6),
            seatsPerRow: between(18, 24),
          },
        ],
      };
    case 'club':
      return {
        name: `Club ${number}`,
        kind,
        zones: [
          {
            name: 'Hall',
            price: price(1_500, 4_000, 500),
            rows: between(6, 12),
            seatsPerRow: between(10, 16),
          },
        ],
      };
    case 'arena':
      return {
        name: `Arena ${number}`,
        kind,
        zones: [
          {
            name: 'Floor',
            price: price(5_000, 15_000, 1_000),
            rows: between(8, 12),
            seatsPerRow: between(20, 30),
          },
          {
            name: 'Lower bowl',
            price: price(3_000, 8_000, 1_000),
            rows: between(12, 18),
            seatsPerRow: between(30, 40),
          },
          {
            name: 'Upper bowl',
            price: price(1_000, 4_000, 500),
            rows: between(12, 18),
            seatsPerRow: between(30, 40),
          },
        ],
      };
    default:
      return STADIUM;
  }
}

/** One seat of a layout, as inserted. */
export interface SeatRow {
  id: number;
  /** Index into `layout.zones`. */
  zone: number;
  row: number;
  number: number;
}

/**
 * The seats of `layout` for `eventId`, in id order, in chunks of at most `chunk` (for batched inserts).
 * Rows are numbered across the whole venue: row 1 is the first row of the first zone.
 */
export function* seatChunks(eventId: number, layout: VenueLayout, chunk: number): Generator<SeatRow[]> {
  const capacity = capacityOf(layout);
  if (capacity > SEAT_ID_SPACE) throw new RangeError(`a venue holds at most ${SEAT_ID_SPACE} seats`);
  let id = firstSeatId(eventId);
  let row = 0;
  let batch: SeatRow[] = [];
  for (let zone = 0; zone < layout.zones.length; zone++) {
    const z = layout.zones[zone]!;
    for (let r = 0; r < z.rows; r++) {
      row++;
      for (let n = 1; n <= z.seatsPerRow; n++) {
        batch.push({ id: id++, zone, row, number: n });
        if (batch.length === chunk) {
          yield batch;
          batch = [];
        }
      }
    }
  }
  if (batch.length > 0) yield batch;
}
