import { parseEventsQuery } from './params.ts';
import type { CatalogSearch } from './search.ts';

/** One event of a staff search, as `GET /api/events` lists it. */
export interface FoundEvent {
  id: number;
  title: string;
  description: string | null;
  type: string;
  datetime_start: string;
  provider: string;
}

/**
 * The admin panel's event search (`GET /api/admin/events`): the very search behind `GET /api/events`
 * (Russian and English stemming, ranking, the shared cache), read back as objects. Throws the same 400
 * AppErrors as the public route for what its schema cannot express.
 */
export async function searchEventsForStaff(
  search: CatalogSearch,
  query: { q?: string | undefined; page?: number | undefined; pageSize?: number | undefined },
  now = Date.now(),
): Promise<FoundEvent[]> {
  const request = parseEventsQuery({ q: query.q, page: query.page, pageSize: query.pageSize }, now);
  const body = await search.find(request);
  return (JSON.parse(body.toString('utf8')) as { events: FoundEvent[] }).events;
}
