import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ApiError, api } from '../../app/api.ts';
import { formatTime } from '../../app/format.ts';
import { TextField } from '../../ui/Field.tsx';
import type { FoundEvent } from './types.ts';

/**
 * Which event the dashboard shows: an id typed in, or one found by the staff event search
 * (`GET /api/admin/events?q=`). Blank shows the events with the newest bookings.
 */
export function EventPicker({
  eventId,
  onPick,
}: {
  eventId: number | undefined;
  onPick: (eventId: number | undefined) => void;
}) {
  const [idText, setIdText] = useState(eventId === undefined ? '' : String(eventId));
  const [idError, setIdError] = useState<string | undefined>(undefined);
  const [searchText, setSearchText] = useState('');
  const [q, setQ] = useState('');
  const found = useQuery({
    queryKey: ['dashboard-event-search', q],
    enabled: q !== '',
    queryFn: ({ signal }) =>
      api<{ events: FoundEvent[] }>('/api/admin/events', { query: { q, pageSize: 5 }, signal }),
    retry: false,
  });

  const submitId = (event: FormEvent) => {
    event.preventDefault();
    const text = idText.trim();
    if (text === '') {
      setIdError(undefined);
      onPick(undefined);
      return;
    }
    const id = Number(text);
    if (!Number.isSafeInteger(id) || id < 1) {
      setIdError('An event id is a whole number from 1 up.');
      return;
    }
    setIdError(undefined);
    onPick(id);
  };
  const submitSearch = (event: FormEvent) => {
    event.preventDefault();
    setQ(searchText.trim());
  };
  const pick = (id: number) => {
    setIdText(String(id));
    setIdError(undefined);
    onPick(id);
  };

  const searchMissing = found.error instanceof ApiError && found.error.status === 404;

  return (
    <div className="dashboard-picker">
      <form className="form-row" onSubmit={submitId} aria-label="Choose an event by id">
        <TextField
          label="Event id"
          inputMode="numeric"
          value={idText}
          onChange={(e) => setIdText(e.target.value)}
          hint="Blank: the events with the newest bookings."
          error={idError}
        />
        <button type="submit" className="primary">
          Show
        </button>
      </form>
      <form className="form-row" onSubmit={submitSearch} aria-label="Find an event">
        <TextField
          label="Find an event"
          type="search"
          value={searchText}
          onChange={(e) => setSearchText(e.target.value)}
          placeholder="Title, e.g. concert"
        />
        <button type="submit">Search</button>
      </form>
      {q !== '' ? (
        <div className="dashboard-found" aria-live="polite">
          {found.isPending ? <p className="loading">Searching…</p> : null}
          {found.error ? (
            <p className="field-error">
              {searchMissing
                ? 'The event search is not available here: enter an id.'
                : (found.error as Error).message}
            </p>
          ) : null}
          {found.data && found.data.events.length === 0 ? (
            <p className="dashboard-muted">No event matches “{q}”.</p>
          ) : null}
          {found.data && found.data.events.length > 0 ? (
            <ul>
              {found.data.events.map((e) => (
                <li key={e.id}>
                  <button type="button" onClick={() => pick(e.id)} aria-pressed={e.id === eventId}>
                    {e.title}{' '}
                    <span className="dashboard-muted">
                      #{e.id} · {formatTime(e.datetime_start)}
                    </span>
                  </button>
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}
