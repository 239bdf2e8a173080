import { useEffect, useState } from 'react';
import { ApiError, api } from '../../app/api.ts';
import { formatInteger } from '../../app/format.ts';
import { SelectField, TextField } from '../../ui/Field.tsx';

/**
 * The segment builder: a UI for the declarative segment JSON of src/notify/segments.ts. Conditions are
 * combined with "all" or "any"; each can be excluded (a "not"). The recipient count is live: the segment is
 * posted to POST /api/notify/segments/estimate 400 ms after the last change.
 */
export type SegmentField =
  | 'has_channel'
  | 'country'
  | 'time_zone'
  | 'locale'
  | 'active'
  | 'bought_event'
  | 'user_ids';

export interface SegmentRow {
  key: number;
  field: SegmentField;
  value: string;
  exclude: boolean;
}
export interface SegmentDraft {
  op: 'all' | 'any';
  rows: SegmentRow[];
}

const FIELDS: { value: SegmentField; label: string; hint: string }[] = [
  { value: 'has_channel', label: 'Has an address for', hint: 'email, push or sms' },
  { value: 'country', label: 'Country', hint: 'ISO codes, comma-separated: RU, KZ' },
  { value: 'time_zone', label: 'Time zone', hint: 'IANA zones, comma-separated: Europe/Moscow' },
  { value: 'locale', label: 'Language', hint: 'Comma-separated: ru, en-GB (ru also matches ru-RU)' },
  { value: 'active', label: 'Active', hint: 'yes or no' },
  { value: 'bought_event', label: 'Bought a ticket for event', hint: 'Event ids, comma-separated' },
  { value: 'user_ids', label: 'User ids', hint: 'Comma-separated' },
];

const DEFAULT_VALUE: Record<SegmentField, string> = {
  has_channel: 'email',
  country: '',
  time_zone: '',
  locale: '',
  active: 'true',
  bought_event: '',
  user_ids: '',
};

let nextKey = 1;
export const newRow = (field: SegmentField = 'has_channel', value?: string): SegmentRow => ({
  key: nextKey++,
  field,
  value: value ?? DEFAULT_VALUE[field],
  exclude: false,
});

const split = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const ids = (text: string) => split(text).map((s) => (/^\d+$/.test(s) ? Number(s) : s));

function condition(row: SegmentRow): Record<string, unknown> {
  switch (row.field) {
    case 'has_channel':
      return { has_channel: row.value };
    case 'active':
      return { active: row.value === 'true' };
    case 'country':
      return { country: split(row.value).map((c) => c.toUpperCase()) };
    case 'time_zone':
    case 'locale':
      return { [row.field]: split(row.value) };
    case 'bought_event':
    case 'user_ids':
      return { [row.field]: ids(row.value) };
  }
}

/** The segment JSON the API takes. */
export function toSegment(draft: SegmentDraft): unknown {
  const parts = draft.rows.map((row) => (row.exclude ? { not: condition(row) } : condition(row)));
  if (parts.length === 1) return parts[0];
  return { [draft.op]: parts };
}

export function SegmentBuilder({
  draft,
  onChange,
  onCount,
}: {
  draft: SegmentDraft;
  onChange: (draft: SegmentDraft) => void;
  onCount?: (count: number | null) => void;
}) {
  const segmentText = JSON.stringify(toSegment(draft));
  const [count, setCount] = useState<number | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [counting, setCounting] = useState(false);

  useEffect(() => {
    if (draft.rows.length === 0) {
      setCount(null);
      setProblem('Add at least one condition.');
      onCount?.(null);
      return;
    }
    const controller = new AbortController();
    setCounting(true);
    const timer = setTimeout(() => {
      api<{ recipients: number }>('/api/notify/segments/estimate', {
        method: 'POST',
        body: { segment: JSON.parse(segmentText) },
        signal: controller.signal,
      })
        .then((result) => {
          setCount(result.recipients);
          setProblem(null);
          onCount?.(result.recipients);
        })
        .catch((error: unknown) => {
          if (controller.signal.aborted) return;
          setCount(null);
          onCount?.(null);
          setProblem(error instanceof ApiError ? error.message : String(error));
        })
        .finally(() => {
          if (!controller.signal.aborted) setCounting(false);
        });
    }, 400);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [segmentText, draft.rows.length, onCount]);

  const update = (key: number, patch: Partial<SegmentRow>) =>
    onChange({ ...draft, rows: draft.rows.map((row) => (row.key === key ? { ...row, ...patch } : row)) });

  return (
    <fieldset className="segment-builder">
      <legend>Audience</legend>
      <SelectField
        label="Match"
        value={draft.op}
        onChange={(e) => onChange({ ...draft, op: e.target.value as 'all' | 'any' })}
        options={[
          { value: 'all', label: 'all of the conditions' },
          { value: 'any', label: 'any of the conditions' },
        ]}
      />
      <ol className="segment-rows">
        {draft.rows.map((row, i) => {
          const field = FIELDS.find((f) => f.value === row.field)!;
          return (
            <li key={row.key} className="segment-row">
              <SelectField
                label={`Condition ${i + 1}`}
                value={row.field}
                onChange={(e) => {
                  const next = e.target.value as SegmentField;
                  update(row.key, { field: next, value: DEFAULT_VALUE[next] });
                }}
                options={FIELDS.map((f) => ({ value: f.value, label: f.label }))}
              />
              {row.field === 'has_channel' ? (
                <SelectField
                  label={`Condition ${i + 1} value`}
                  value={row.value}
                  onChange={(e) => update(row.key, { value: e.target.value })}
                  options={['email', 'push', 'sms']}
                />
              ) : row.field === 'active' ? (
                <SelectField
                  label={`Condition ${i + 1} value`}
                  value={row.value}
                  onChange={(e) => update(row.key, { value: e.target.value })}
                  options={[
                    { value: 'true', label: 'yes' },
                    { value: 'false', label: 'no' },
                  ]}
                />
              ) : (
                <TextField
                  label={`Condition ${i + 1} value`}
                  hint={field.hint}
                  value={row.value}
                  onChange={(e) => update(row.key, { value: e.target.value })}
                />
              )}
              <label className="segment-exclude">
                <input
                  type="checkbox"
                  checked={row.exclude}
                  onChange={(e) => update(row.key, { exclude: e.target.checked })}
                />
                Exclude (not)
              </label>
              <button
                type="button"
                onClick={() => onChange({ ...draft, rows: draft.rows.filter((r) => r.key !== row.key) })}
                aria-label={`Remove condition ${i + 1}`}
              >
                Remove
              </button>
            </li>
          );
        })}
      </ol>
      <button
        type="button"
        onClick={() => onChange({ ...draft, rows: [...draft.rows, newRow('country')] })}
        disabled={draft.rows.length >= 50}
      >
        Add condition
      </button>
      <p className="segment-count">
        <output aria-live="polite" aria-label="Recipients" data-testid="recipient-count">
          {problem ? (
            <span className="field-error">{problem}</span>
          ) : count === null ? (
            'Counting…'
          ) : (
            `${formatInteger(count)} recipient${count === 1 ? '' : 's'}${counting ? ' (updating…)' : ''}`
          )}
        </output>
      </p>
      <details>
        <summary>Segment JSON</summary>
        <pre className="mono segment-json">{JSON.stringify(toSegment(draft), null, 2)}</pre>
      </details>
    </fieldset>
  );
}
