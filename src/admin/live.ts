import type { Logger } from 'pino';
import { type BookingService, bookingServiceOf } from '../booking/index.ts';
import { recentEventIds } from '../booking/overview.ts';
import { getEvent } from '../catalog/index.ts';
import { type CurrentSale, currentDrop } from '../drops/overview.ts';
import { type NotifyOverview, notifyOverview } from '../notify/overview.ts';
import type { CircuitBreakerStatus } from '../payments/gateway/index.ts';
import { paymentBreakerStatus } from '../payments/index.ts';
import type { Platform } from '../platform/context.ts';

/** How many events the dashboard shows when none is chosen: the ones with the newest bookings. */
export const RECENT_EVENTS = 3;

type EventZoneAnalytics = Awaited<ReturnType<BookingService['zoneAnalytics']>>;

export interface EventSales extends EventZoneAnalytics {
  title: string | null;
}

export interface DropOverview extends CurrentSale {
  /** Purchases per second over the last few snapshots (or the sale's average so far); null before any. */
  purchasesPerSecond: number | null;
}

/** One dashboard snapshot (the `snapshot` event of `GET /api/admin/live`, and `GET /api/admin/overview`). */
export interface LiveSnapshot {
  at: string;
  sales: { event_id: number | null; events: EventSales[] };
  drop: DropOverview | null;
  breaker: CircuitBreakerStatus['circuit_breaker'] | null;
  notify: (NotifyOverview & { measured_at: string }) | null;
}

export interface LiveHubOptions {
  /** How often a snapshot is sent to each stream. */
  intervalMs?: number;
  /** How often the notify figures are recomputed (they scan a day or two of deliveries). */
  notifyEveryMs?: number;
}

type Listener = (snapshot: LiveSnapshot) => void;

interface Channel {
  eventId: number | undefined;
  listeners: Set<Listener>;
}

/** Samples of the current sale's sold count, for its purchase rate. */
interface DropSample {
  at: number;
  sale: number;
  sold: number;
}
const RATE_WINDOW_MS = 10_000;

/**
 * The dashboard's live data: one snapshot per interval per process, per chosen event (or the recent
 * events), shared by every stream that asked for it. The timer runs only while somebody listens; the
 * drop, breaker and notify parts are computed once per tick for every channel.
 */
export class LiveHub {
  readonly intervalMs: number;
  readonly #notifyEveryMs: number;
  readonly #platform: Platform;
  readonly #log: Logger;
  readonly #channels = new Map<string, Channel>();
  readonly #titles = new Map<number, string | null>();
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
  #samples: DropSample[] = [];
  #notify: { at: number; value: LiveSnapshot['notify'] } | undefined;
  #closed = false;

  constructor(platform: Platform, options: LiveHubOptions = {}) {
    this.#platform = platform;
    this.#log = platform.logger.child({ module: 'admin' });
    this.intervalMs = options.intervalMs ?? 1000;
    this.#notifyEveryMs = options.notifyEveryMs ?? 5000;
  }

  get listeners(): number {
    let n = 0;
    for (const channel of this.#channels.values()) n += channel.listeners.size;
    return n;
  }

  /** The booking service, or why not: the dashboard needs the booking module in this process. */
  #booking(): BookingService {
    const booking = bookingServiceOf(this.#platform);
    if (!booking)
      throw new Error('admin: the live dashboard needs the booking module running in this process');
    return booking;
  }

  /** Throws the booking module's 404 for an unknown event (before a stream opens). */
  async checkEvent(eventId: number): Promise<void> {
    await this.#booking().zoneAnalytics(eventId);
  }

  /**
   * Starts sending `listener` a snapshot for `eventId` (or the recent events): the first at once, then one
   * per interval. Returns the unsubscribe function.
   */
  subscribe(eventId: number | undefined, listener: Listener): () => void {
    const key = eventId === undefined ? '' : String(eventId);
    let channel = this.#channels.get(key);
    if (!channel) {
      channel = { eventId, listeners: new Set() };
      this.#channels.set(key, channel);
    }
    channel.listeners.add(listener);
    const joined = channel;
    // The first snapshot at once, for this listener alone (the others get theirs on the next tick).
    void this.snapshot(eventId).then(
      (snapshot) => {
        if (joined.listeners.has(listener)) listener(snapshot);
      },
      (error: unknown) => this.#log.warn({ err: error }, 'admin: live snapshot failed'),
    );
    if (!this.#timer && !this.#closed) {
      this.#timer = setInterval(() => void this.#tick(), this.intervalMs);
      this.#timer.unref();
    }
    return () => {
      joined.listeners.delete(listener);
      if (joined.listeners.size === 0 && this.#channels.get(key) === joined) this.#channels.delete(key);
      if (this.#channels.size === 0) this.#stopTimer();
    };
  }

  /** One snapshot now (GET /api/admin/overview, and each stream's first). */
  async snapshot(eventId: number | undefined): Promise<LiveSnapshot> {
    const [shared, sales] = await Promise.all([this.#shared(), this.#sales(eventId)]);
    return { at: new Date().toISOString(), sales, ...shared };
  }

  /** Stops the timer and forgets every listener (server stop). */
  close(): void {
    this.#closed = true;
    this.#channels.clear();
    this.#stopTimer();
  }

  #stopTimer(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #tick(): Promise<void> {
    // A slow database must not pile up ticks: a tick that finds the previous one running is skipped.
    if (this.#ticking || this.#channels.size === 0) return;
    this.#ticking = true;
    try {
      const shared = await this.#shared();
      const channels = [...this.#channels.values()];
      const sales = await Promise.all(
        channels.map((c) => this.#sales(c.eventId).catch((error: unknown) => error)),
      );
      const at = new Date().toISOString();
      channels.forEach((channel, i) => {
        const result = sales[i];
        if (result instanceof Error || result === undefined) {
          this.#log.warn({ err: result, eventId: channel.eventId }, 'admin: live sales failed');
          return;
        }
        const snapshot: LiveSnapshot = { at, sales: result as LiveSnapshot['sales'], ...shared };
        for (const listener of channel.listeners) listener(snapshot);
      });
    } catch (error) {
      this.#log.warn({ err: error }, 'admin: live snapshot failed');
    } finally {
      this.#ticking = false;
    }
  }

  async #sales(eventId: number | undefined): Promise<LiveSnapshot['sales']> {
    const booking = this.#booking();
    const ids = eventId === undefined ? await recentEventIds(this.#platform.db, RECENT_EVENTS) : [eventId];
    const events = await Promise.all(
      ids.map(async (id) => ({ ...(await booking.zoneAnalytics(id)), title: await this.#title(id) })),
    );
    return { event_id: eventId ?? null, events };
  }

  async #title(eventId: number): Promise<string | null> {
    if (this.#titles.has(eventId)) return this.#titles.get(eventId) ?? null;
    const title = (await getEvent(this.#platform.db, eventId))?.title ?? null;
    if (this.#titles.size > 1000) this.#titles.clear();
    this.#titles.set(eventId, title);
    return title;
  }

  async #shared(): Promise<Omit<LiveSnapshot, 'at' | 'sales'>> {
    const [drop, breaker, notify] = await Promise.all([
      this.#drop(),
      paymentBreakerStatus(this.#platform).then((s) => s?.circuit_breaker ?? null),
      this.#notifyFigures(),
    ]);
    return { drop, breaker, notify };
  }

  async #drop(): Promise<DropOverview | null> {
    const sale = await currentDrop(this.#platform);
    if (!sale) return null;
    const now = Date.now();
    this.#samples = this.#samples.filter((s) => s.sale === sale.sale && now - s.at <= RATE_WINDOW_MS);
    this.#samples.push({ at: now, sale: sale.sale, sold: sale.sold });
    return { ...sale, purchasesPerSecond: purchaseRate(this.#samples, sale, now) };
  }

  async #notifyFigures(): Promise<LiveSnapshot['notify']> {
    const now = Date.now();
    if (this.#notify && now - this.#notify.at < this.#notifyEveryMs) return this.#notify.value;
    const value = { ...(await notifyOverview(this.#platform.db)), measured_at: new Date(now).toISOString() };
    this.#notify = { at: now, value };
    return value;
  }
}

/**
 * Purchases per second: between the oldest and newest sample of the last RATE_WINDOW_MS when they span a
 * second or more; else the sale's average since its first checkout (until it sold out); null before any.
 */
export function purchaseRate(samples: readonly DropSample[], sale: CurrentSale, now: number): number | null {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (first && last && last.at - first.at >= 1000) {
    return Math.max(0, ((last.sold - first.sold) * 1000) / (last.at - first.at));
  }
  if (sale.firstCheckoutAt === null || sale.sold === 0) return sale.firstCheckoutAt === null ? null : 0;
  const end = sale.soldOutAt === null ? now : Date.parse(sale.soldOutAt);
  const seconds = (end - Date.parse(sale.firstCheckoutAt)) / 1000;
  return seconds > 0 ? sale.sold / seconds : null;
}
