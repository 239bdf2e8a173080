import { formatBytes, formatPercent } from '../../app/format.ts';

/** Used against capacity as a bar, with the figures beside it for screen readers and small screens. */
export function SpaceBar({ used, free, capacity }: { used: number; free: number; capacity: number }) {
  const total = capacity > 0 ? capacity : used + free;
  const ratio = total > 0 ? Math.min(1, used / total) : 0;
  return (
    <div>
      <span
        className={ratio >= 0.9 ? 'space-bar full' : 'space-bar'}
        // Decoration: the figures below say the same in words.
        aria-hidden="true"
      >
        <span style={{ width: `${ratio * 100}%` }} />
      </span>
      <span className="space-text">
        {formatBytes(used)} used · {formatBytes(free)} free ({formatPercent(ratio)})
      </span>
    </div>
  );
}
