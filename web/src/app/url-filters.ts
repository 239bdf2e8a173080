import type { FormEvent } from 'react';
import { useSearchParams } from 'react-router';

/** A `datetime-local` value (the browser's zone) as ISO 8601, or undefined when empty or invalid. */
export function localToIso(local: string): string | undefined {
  if (!local) return undefined;
  const time = new Date(local);
  return Number.isNaN(time.getTime()) ? undefined : time.toISOString();
}

/** An ISO 8601 time as a `datetime-local` value in the browser's zone ('' when absent or invalid). */
export function isoToLocal(iso: string | null | undefined): string {
  if (!iso) return '';
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) return '';
  return new Date(time.getTime() - time.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

/**
 * A list screen's filters kept in the address, so a filtered view can be bookmarked, shared and left with
 * the back button: their values, the 1-based `page`, a form submit handler that reads every named field
 * (the `times` ones from `datetime-local` to ISO) and starts again at page 1, paging and clearing.
 */
export function useUrlFilters<const Name extends string>(
  names: readonly Name[],
  times: readonly Name[] = [],
) {
  const [params, setParams] = useSearchParams();
  const values = Object.fromEntries(names.map((name) => [name, params.get(name) ?? undefined])) as Record<
    Name,
    string | undefined
  >;
  const page = Math.max(1, Number(params.get('page') ?? 1) || 1);
  return {
    values,
    page,
    /** Changes whenever the address does: a form keyed by it shows the address's values again. */
    key: params.toString(),
    applyForm(event: FormEvent<HTMLFormElement>) {
      event.preventDefault();
      const form = new FormData(event.currentTarget);
      const next = new URLSearchParams();
      for (const name of names) {
        const raw = String(form.get(name) ?? '').trim();
        const value = times.includes(name) ? localToIso(raw) : raw;
        if (value) next.set(name, value);
      }
      setParams(next);
    },
    setPage(target: number) {
      const next = new URLSearchParams(params);
      next.set('page', String(target));
      setParams(next);
    },
    clear: () => setParams(new URLSearchParams()),
  };
}
