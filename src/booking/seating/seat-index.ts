import type { SeatState } from './store.ts';

/**
 * An event's seats and their live state in memory, answering `GET /api/seats` exactly as `listSeats` does
 * from PostgreSQL: the same rows in the same order. Pure data: whoever feeds it (holds, sales, deletes,
 * resets) keeps it in step with `booking_seats`.
 *
 * Everything is a typed array indexed by ordinal (seat id − first id), so 100,000 seats cost about 1.7 MB
 * and a listing allocates nothing per seat beyond its answer.
 */

/** A seat's state in the index: FREE (0) when nothing holds it, else who holds it how. */
export const FREE = 0; // no row, or an expired hold (held until <= now)
export const SOLD = -1; // sold (booking paid): never FREE
export const NO_EXPIRY = Number.POSITIVE_INFINITY; // reserved without expiry (pending payment)
/** FREE, SOLD, NO_EXPIRY, or any other positive number: reserved until that epoch ms (FREE once now >= it). */
export type SeatCode = number;

export interface SeatPosition {
  id: number;
  row: number;
  number: number;
  zoneId: number;
}

export interface IndexedSeat {
  id: number;
  row: number;
  number: number;
  zoneId: number;
  state: SeatState;
}

export interface SeatIndexQuery {
  row?: number | undefined;
  /** undefined = every state. */
  state?: SeatState | undefined;
  limit: number;
  offset: number;
}

/** A row's seats: `byRow[start..end)` (or ordinals start..end-1 when `byRow` is null), in seat number order. */
interface RowSpan {
  start: number;
  end: number;
}

/** What a Map entry and its span object cost, roughly, on V8: only for the `bytes` estimate. */
const ROW_OVERHEAD_BYTES = 64;

export class EventSeatIndex {
  readonly eventId: number;
  readonly capacity: number;
  readonly bytes: number;
  private readonly firstSeatId: number;
  private readonly codes: Float64Array;
  private readonly rowNos: Int32Array;
  private readonly seatNos: Int32Array;
  private readonly zoneOf: Uint8Array | Uint16Array | Uint32Array;
  private readonly zoneIds: readonly number[];
  private readonly rows: Map<number, RowSpan>;
  /**
   * Ordinals sorted by (row, seat number); null when that is id order already (seats numbered row by row,
   * as every generated map is), which saves 4 bytes a seat.
   */
  private readonly byRow: Int32Array | null;

  private constructor(
    eventId: number,
    firstSeatId: number,
    rowNos: Int32Array,
    seatNos: Int32Array,
    zoneOf: Uint8Array | Uint16Array | Uint32Array,
    zoneIds: readonly number[],
    rows: Map<number, RowSpan>,
    byRow: Int32Array | null,
  ) {
    this.eventId = eventId;
    this.firstSeatId = firstSeatId;
    this.capacity = rowNos.length;
    this.codes = new Float64Array(this.capacity);
    this.rowNos = rowNos;
    this.seatNos = seatNos;
    this.zoneOf = zoneOf;
    this.zoneIds = zoneIds;
    this.rows = rows;
    this.byRow = byRow;
    this.bytes =
      this.codes.byteLength +
      rowNos.byteLength +
      seatNos.byteLength +
      zoneOf.byteLength +
      (byRow?.byteLength ?? 0) +
      zoneIds.length * 8 +
      rows.size * ROW_OVERHEAD_BYTES;
  }

  /** seats: every seat of the event (any order); ids are firstSeatId .. firstSeatId+capacity-1 (contiguous). */
  static build(eventId: number, firstSeatId: number, seats: readonly SeatPosition[]): EventSeatIndex {
    const capacity = seats.length;
    const rowNos = new Int32Array(capacity);
    const seatNos = new Int32Array(capacity);
    const zoneIds: number[] = [];
    const zoneSlot = new Map<number, number>();
    const zoneByOrdinal = new Uint32Array(capacity);
    for (const seat of seats) {
      const o = seat.id - firstSeatId;
      rowNos[o] = seat.row;
      seatNos[o] = seat.number;
      let slot = zoneSlot.get(seat.zoneId);
      if (slot === undefined) {
        slot = zoneIds.push(seat.zoneId) - 1;
        zoneSlot.set(seat.zoneId, slot);
      }
      zoneByOrdinal[o] = slot;
    }
    const zoneOf =
      zoneIds.length <= 0x100
        ? Uint8Array.from(zoneByOrdinal)
        : zoneIds.length <= 0x10000
          ? Uint16Array.from(zoneByOrdinal)
          : zoneByOrdinal;

    const order = new Int32Array(capacity);
    for (let o = 0; o < capacity; o++) order[o] = o;
    order.sort((a, b) => rowNos[a]! - rowNos[b]! || seatNos[a]! - seatNos[b]!);
    const rows = new Map<number, RowSpan>();
    let identity = true;
    for (let k = 0; k < capacity; k++) {
      const o = order[k]!;
      if (o !== k) identity = false;
      const span = rows.get(rowNos[o]!);
      if (span) span.end = k + 1;
      else rows.set(rowNos[o]!, { start: k, end: k + 1 });
    }
    return new EventSeatIndex(
      eventId,
      firstSeatId,
      rowNos,
      seatNos,
      zoneOf,
      zoneIds,
      rows,
      identity ? null : order,
    );
  }

  has(seatId: number): boolean {
    const o = seatId - this.firstSeatId;
    return o >= 0 && o < this.capacity;
  }

  code(seatId: number): SeatCode {
    return this.has(seatId) ? this.codes[seatId - this.firstSeatId]! : FREE;
  }

  /** Sets a seat's state unconditionally (a hold: until ms or NO_EXPIRY; SOLD; FREE). Ignores ids outside. */
  set(seatId: number, code: SeatCode): void {
    if (this.has(seatId)) this.codes[seatId - this.firstSeatId] = code;
  }

  /** Every seat FREE. */
  clear(): void {
    this.codes.fill(FREE);
  }

  /** 0 free, 1 reserved, 2 sold, at `nowMs`. */
  state(seatId: number, nowMs: number): SeatState {
    return stateOf(this.code(seatId), nowMs);
  }

  /** The page, as listSeats would answer it. state undefined = all. */
  list(q: SeatIndexQuery, nowMs: number): IndexedSeat[] {
    const out: IndexedSeat[] = [];
    if (q.limit <= 0) return out;
    if (q.row === undefined) {
      if (q.state === undefined) {
        // No filter: the page's ordinals are known arithmetically, like the SQL's id range.
        const end = Math.min(this.capacity, q.offset + q.limit);
        for (let o = q.offset; o < end; o++) out.push(this.seat(o, nowMs));
        return out;
      }
      this.collect(0, this.capacity, null, q.state, q.offset, q.limit, nowMs, out);
      return out;
    }
    const span = this.rows.get(q.row);
    if (span) this.collect(span.start, span.end, this.byRow, q.state, q.offset, q.limit, nowMs, out);
    return out;
  }

  /** Walks positions start..end-1 (ordinals via `order`, or themselves), skipping and keeping matches. */
  private collect(
    start: number,
    end: number,
    order: Int32Array | null,
    state: SeatState | undefined,
    offset: number,
    limit: number,
    nowMs: number,
    out: IndexedSeat[],
  ): void {
    let skip = offset;
    for (let k = start; k < end; k++) {
      const o = order ? order[k]! : k;
      if (state !== undefined && stateOf(this.codes[o]!, nowMs) !== state) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      out.push(this.seat(o, nowMs));
      if (out.length === limit) return;
    }
  }

  private seat(o: number, nowMs: number): IndexedSeat {
    return {
      id: this.firstSeatId + o,
      row: this.rowNos[o]!,
      number: this.seatNos[o]!,
      zoneId: this.zoneIds[this.zoneOf[o]!]!,
      state: stateOf(this.codes[o]!, nowMs),
    };
  }
}

/** The SQL's `case when held_until <= now() then 0 when sold then 2 else 1`, on a code. */
function stateOf(code: SeatCode, nowMs: number): SeatState {
  if (code === SOLD) return 2;
  return code === FREE || code <= nowMs ? 0 : 1;
}
