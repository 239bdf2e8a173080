/** One event as the release files and the generator describe it. */
export interface EventRow {
  id: number;
  title: string;
  description: string | null;
  type: string;
  provider: string;
  /** ISO 8601 with an offset (`2024-12-25T16:00:00.000Z`). */
  datetimeStart: string;
}

/** What other modules need of an event (booking: the 12-hour refund rule, event ids). */
export interface EventSummary {
  id: number;
  title: string;
  datetimeStart: Date;
  provider: string;
  type: string;
}
