import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api } from '../../app/api.ts';
import { formatInteger, formatMoney, formatTime } from '../../app/format.ts';
import { ErrorBanner, Loading } from '../../ui/Feedback.tsx';
import { TextField } from '../../ui/Field.tsx';
import { Page, Panel } from '../../ui/Page.tsx';
import { Pager, Table } from '../../ui/Table.tsx';
import type { EventItem, EventsAnswer } from './types.ts';
import './events.css';

const PAGE_SIZE = 20;

/** Events: the catalog's search (Russian and English), each event with its sold / reserved / free seats. */
export default function EventsPage() {
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const page = Math.max(1, Number(params.get('page') ?? '1') || 1);
  const [text, setText] = useState(q);
  const list = useQuery({
    queryKey: ['admin-events', q, page],
    queryFn: ({ signal }) =>
      api<EventsAnswer>('/api/admin/events', { query: { q, page, pageSize: PAGE_SIZE }, signal }),
    placeholderData: (previous) => previous,
  });

  const go = (next: { q?: string; page?: number }) => {
    const search = new URLSearchParams();
    const nq = next.q ?? q;
    if (nq) search.set('q', nq);
    if ((next.page ?? 1) > 1) search.set('page', String(next.page));
    setParams(search);
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    go({ q: text.trim(), page: 1 });
  };

  return (
    <Page title="Events">
      <Panel title="Search">
        <form className="form-row events-search" onSubmit={submit}>
          <TextField
            label="Search events"
            name="q"
            type="search"
            value={text}
            maxLength={200}
            hint='Title, description, type or provider, in Russian or English: "a phrase", or, -word'
            onChange={(e) => setText(e.target.value)}
          />
          <button type="submit" className="primary">
            Search
          </button>
        </form>
      </Panel>
      <Panel title={q ? `Results for “${q}”` : 'Current events'}>
        <ErrorBanner error={list.error} />
        {list.isPending ? (
          <Loading />
        ) : (
          <>
            <Table<EventItem>
              caption="Events"
              rows={list.data?.events ?? []}
              rowKey={(e) => e.id}
              empty="No events match."
              columns={[
                {
                  header: 'Event',
                  cell: (e) => (
                    <>
                      <Link to={`/events/${e.id}`}>{e.title}</Link>
                      <div className="events-meta">
                        #{e.id} · {e.type} · {e.provider}
                      </div>
                    </>
                  ),
                },
                { header: 'Starts', cell: (e) => formatTime(e.datetime_start) },
                { header: 'Sold', numeric: true, cell: (e) => formatInteger(e.totals?.sold_seats) },
                { header: 'Reserved', numeric: true, cell: (e) => formatInteger(e.totals?.reserved_seats) },
                { header: 'Free', numeric: true, cell: (e) => formatInteger(e.totals?.free_seats) },
                { header: 'Revenue', numeric: true, cell: (e) => formatMoney(e.totals?.total_revenue) },
              ]}
            />
            <Pager page={page} hasNext={list.data?.has_more ?? false} onPage={(p) => go({ page: p })} />
          </>
        )}
      </Panel>
    </Page>
  );
}
