import {
  type FormEvent,
  type KeyboardEvent,
  type PointerEvent,
  useEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import { formatInteger } from '../../app/format.ts';
import { TextField } from '../../ui/Field.tsx';
import { type SeatMapAnswer, STATUS_NAME } from './types.ts';

/**
 * The seat map on one <canvas>: every seat is one pixel of an offscreen bitmap (one row of the hall per
 * bitmap row, a gap between zones), written in one pass into an ImageData and scaled onto the visible
 * canvas with a single drawImage. So 100,000 seats cost one loop and one blit per refresh; zoom and pan
 * only blit again. Hover or click shows a seat; the zone × status table and the seat lookup are the
 * keyboard and screen-reader way to the same figures.
 */

interface Layout {
  /** Bitmap size. */
  width: number;
  height: number;
  /** Width of one column of rows (the widest row). */
  columnWidth: number;
  /** Per run (index into the runs array / 5): its bitmap row and the x of its seat number 1. */
  runY: Int32Array;
  runX: Int32Array;
  /** Runs by bitmap row, for hit testing. */
  runsAtY: Map<number, number[]>;
}

interface SeatInfo {
  id: number;
  index: number;
  /** Its run and place in the run (where it is drawn). */
  run: number;
  k: number;
  row: number;
  number: number;
  zone: string;
  price: string;
  status: string;
}

const ZONE_GAP = 2;
const COLUMN_GAP = 4;
const MIN_SCALE = 0.05;
const MAX_SCALE = 40;

/**
 * One bitmap row per row of the hall, a gap between zones; a hall much taller than the canvas is folded
 * into `columns` side by side (the stadium's 1,000 rows of 100 become five columns of 200) so that it
 * fills the canvas instead of a thin strip.
 */
function layoutOf(runs: number[], aspect: number): Layout {
  const count = runs.length / 5;
  const linearY = new Int32Array(count);
  const yOfRow = new Map<number, number>();
  let columnWidth = 0;
  let y = -1;
  let lastZone = -1;
  for (let r = 0; r < count; r++) {
    const row = runs[r * 5 + 1]!;
    const zone = runs[r * 5 + 2]!;
    let at = yOfRow.get(row);
    if (at === undefined) {
      y += 1 + (lastZone !== -1 && zone !== lastZone ? ZONE_GAP : 0);
      at = y;
      yOfRow.set(row, at);
    }
    lastZone = zone;
    linearY[r] = at;
    columnWidth = Math.max(columnWidth, Math.max(runs[r * 5 + 3]!, 1) - 1 + runs[r * 5 + 4]!);
  }
  columnWidth = Math.max(columnWidth, 1);
  const rows = Math.max(y + 1, 1);
  // Columns so the bitmap's shape is close to the canvas's (aspect = height / width).
  const columns = Math.max(1, Math.min(12, Math.round(Math.sqrt(rows / columnWidth / aspect))));
  const columnHeight = Math.ceil(rows / columns);
  const runY = new Int32Array(count);
  const runX = new Int32Array(count);
  const runsAtY = new Map<number, number[]>();
  for (let r = 0; r < count; r++) {
    const column = Math.floor(linearY[r]! / columnHeight);
    runY[r] = linearY[r]! - column * columnHeight;
    runX[r] = column * (columnWidth + COLUMN_GAP) + Math.max(runs[r * 5 + 3]!, 1) - 1;
    const list = runsAtY.get(runY[r]!);
    if (list) list.push(r);
    else runsAtY.set(runY[r]!, [r]);
  }
  return {
    width: columns * columnWidth + (columns - 1) * COLUMN_GAP,
    height: columnHeight,
    columnWidth,
    runY,
    runX,
    runsAtY,
  };
}

/** A CSS colour variable of the current theme as RGB (the theme's variables are #rrggbb). */
function cssColor(name: string, fallback: [number, number, number]): [number, number, number] {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(value);
  return match
    ? [Number.parseInt(match[1]!, 16), Number.parseInt(match[2]!, 16), Number.parseInt(match[3]!, 16)]
    : fallback;
}

function seatAt(map: SeatMapAnswer, runIndex: number, k: number): SeatInfo {
  const { runs } = map;
  const index = runs[runIndex * 5]! + k;
  const zone = map.zones[runs[runIndex * 5 + 2]!];
  return {
    id: map.first_seat_id + index,
    index,
    run: runIndex,
    k,
    row: runs[runIndex * 5 + 1]!,
    number: runs[runIndex * 5 + 3]! + k,
    zone: zone?.name ?? '?',
    price: zone?.price ?? '',
    status: STATUS_NAME[map.status[index] ?? 'F'] ?? 'FREE',
  };
}

/** The run holding seat `index` (runs are in seat order): binary search. */
function seatByIndex(map: SeatMapAnswer, index: number): SeatInfo | undefined {
  const count = map.runs.length / 5;
  let lo = 0;
  let hi = count - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const first = map.runs[mid * 5]!;
    const n = map.runs[mid * 5 + 4]!;
    if (index < first) hi = mid - 1;
    else if (index >= first + n) lo = mid + 1;
    else return seatAt(map, mid, index - first);
  }
  return undefined;
}

export function SeatMap({ map }: { map: SeatMapAnswer }) {
  const [size, setSize] = useState({ width: 600, height: 420 });
  const aspect = size.height / size.width;
  const layout = useMemo(() => layoutOf(map.runs, aspect), [map.runs, aspect]);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const wrapRef = useRef<HTMLDivElement>(null);
  const bitmapRef = useRef<HTMLCanvasElement | null>(null);
  const [view, setView] = useState<{ scale: number; x: number; y: number } | null>(null);
  const [hover, setHover] = useState<{ seat: SeatInfo; x: number; y: number; pinned: boolean } | null>(null);
  const drag = useRef<{ x: number; y: number; vx: number; vy: number; moved: boolean } | null>(null);
  const [themeTick, setThemeTick] = useState(0);

  // Follow the container's width (and the theme: the colours are CSS variables).
  useEffect(() => {
    const wrap = wrapRef.current;
    if (!wrap) return;
    const observer = new ResizeObserver(([entry]) => {
      const width = Math.max(200, Math.floor(entry!.contentRect.width));
      setSize({ width, height: width < 500 ? 320 : 460 });
    });
    observer.observe(wrap);
    const themes = new MutationObserver(() => setThemeTick((t) => t + 1));
    themes.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme', 'class'] });
    return () => {
      observer.disconnect();
      themes.disconnect();
    };
  }, []);

  const fit = useMemo(() => {
    const scale = Math.min(size.width / layout.width, size.height / layout.height);
    return {
      scale,
      x: (size.width - layout.width * scale) / 2,
      y: (size.height - layout.height * scale) / 2,
    };
  }, [size, layout]);
  const current = view ?? fit;

  // The bitmap: one pixel per seat, rebuilt when the statuses (or theme) change.
  const [bitmapVersion, setBitmapVersion] = useState(0);
  const [found, setFound] = useState<SeatInfo | null | undefined>(undefined);
  const marked = hover?.pinned ? hover.seat : (found ?? undefined);
  // biome-ignore lint/correctness/useExhaustiveDependencies: themeTick re-reads the theme's colours
  useEffect(() => {
    const bitmap = bitmapRef.current ?? document.createElement('canvas');
    bitmapRef.current = bitmap;
    bitmap.width = layout.width;
    bitmap.height = layout.height;
    const ctx = bitmap.getContext('2d');
    if (!ctx) return;
    const image = ctx.createImageData(layout.width, layout.height);
    const pixels = new Uint32Array(image.data.buffer);
    const pack = ([r, g, b]: [number, number, number]) => (255 << 24) | (b << 16) | (g << 8) | r;
    const colours = {
      F: pack(cssColor('--free', [46, 139, 87])),
      R: pack(cssColor('--reserved', [217, 142, 4])),
      S: pack(cssColor('--sold', [140, 47, 57])),
    };
    const { runs, status } = map;
    for (let r = 0; r < layout.runY.length; r++) {
      const first = runs[r * 5]!;
      const n = runs[r * 5 + 4]!;
      const base = layout.runY[r]! * layout.width + layout.runX[r]!;
      for (let k = 0; k < n; k++) {
        const c = status.charCodeAt(first + k);
        pixels[base + k] = c === 82 ? colours.R : c === 83 ? colours.S : colours.F;
      }
    }
    ctx.putImageData(image, 0, 0);
    setBitmapVersion((v) => v + 1);
  }, [map, layout, themeTick]);

  // One blit per view change or new bitmap.
  // biome-ignore lint/correctness/useExhaustiveDependencies: bitmapVersion says the offscreen bitmap changed
  useEffect(() => {
    const canvas = canvasRef.current;
    const bitmap = bitmapRef.current;
    if (!canvas || !bitmap) return;
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(size.width * dpr)) canvas.width = Math.round(size.width * dpr);
    if (canvas.height !== Math.round(size.height * dpr)) canvas.height = Math.round(size.height * dpr);
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, size.width, size.height);
    ctx.imageSmoothingEnabled = current.scale < 1;
    ctx.drawImage(bitmap, current.x, current.y, layout.width * current.scale, layout.height * current.scale);
    if (marked) {
      // A ring around the seat looked up or clicked, visible even when a seat is smaller than a pixel.
      const cx = current.x + (layout.runX[marked.run]! + marked.k + 0.5) * current.scale;
      const cy = current.y + (layout.runY[marked.run]! + 0.5) * current.scale;
      const radius = Math.max(6, current.scale * 1.5);
      ctx.lineWidth = 2;
      ctx.strokeStyle =
        getComputedStyle(document.documentElement).getPropertyValue('--text').trim() || '#000';
      ctx.beginPath();
      ctx.arc(cx, cy, radius, 0, Math.PI * 2);
      ctx.stroke();
    }
  }, [current.scale, current.x, current.y, size, layout, bitmapVersion, marked]);

  const zoomAt = (factor: number, cx = size.width / 2, cy = size.height / 2) => {
    const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, current.scale * factor));
    const ratio = scale / current.scale;
    setView({ scale, x: cx - (cx - current.x) * ratio, y: cy - (cy - current.y) * ratio });
  };
  const pan = (dx: number, dy: number) => setView({ ...current, x: current.x + dx, y: current.y + dy });
  const fitWidth = () => {
    const scale = size.width / layout.width;
    setView({ scale, x: 0, y: 0 });
  };

  // Wheel zoom needs a non-passive listener to keep the page from scrolling.
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const onWheel = (event: WheelEvent) => {
      event.preventDefault();
      const rect = canvas.getBoundingClientRect();
      zoomAt(event.deltaY < 0 ? 1.25 : 0.8, event.clientX - rect.left, event.clientY - rect.top);
    };
    canvas.addEventListener('wheel', onWheel, { passive: false });
    return () => canvas.removeEventListener('wheel', onWheel);
  });

  const hitTest = (clientX: number, clientY: number): SeatInfo | undefined => {
    const rect = canvasRef.current!.getBoundingClientRect();
    const bx = Math.floor((clientX - rect.left - current.x) / current.scale);
    const by = Math.floor((clientY - rect.top - current.y) / current.scale);
    for (const r of layout.runsAtY.get(by) ?? []) {
      const x0 = layout.runX[r]!;
      const n = map.runs[r * 5 + 4]!;
      if (bx >= x0 && bx < x0 + n) return seatAt(map, r, bx - x0);
    }
    return undefined;
  };

  const onPointerDown = (event: PointerEvent<HTMLCanvasElement>) => {
    drag.current = { x: event.clientX, y: event.clientY, vx: current.x, vy: current.y, moved: false };
    event.currentTarget.setPointerCapture(event.pointerId);
  };
  const onPointerMove = (event: PointerEvent<HTMLCanvasElement>) => {
    const d = drag.current;
    if (d) {
      const dx = event.clientX - d.x;
      const dy = event.clientY - d.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) d.moved = true;
      if (d.moved) {
        setView({ scale: current.scale, x: d.vx + dx, y: d.vy + dy });
        return;
      }
    }
    if (hover?.pinned) return;
    const seat = hitTest(event.clientX, event.clientY);
    const rect = event.currentTarget.getBoundingClientRect();
    setHover(
      seat ? { seat, x: event.clientX - rect.left, y: event.clientY - rect.top, pinned: false } : null,
    );
  };
  const onPointerUp = (event: PointerEvent<HTMLCanvasElement>) => {
    const d = drag.current;
    drag.current = null;
    if (d?.moved) return;
    const seat = hitTest(event.clientX, event.clientY);
    const rect = event.currentTarget.getBoundingClientRect();
    setHover(seat ? { seat, x: event.clientX - rect.left, y: event.clientY - rect.top, pinned: true } : null);
  };
  const onKeyDown = (event: KeyboardEvent<HTMLCanvasElement>) => {
    const step = 40;
    const keys: Record<string, () => void> = {
      ArrowLeft: () => pan(step, 0),
      ArrowRight: () => pan(-step, 0),
      ArrowUp: () => pan(0, step),
      ArrowDown: () => pan(0, -step),
      '+': () => zoomAt(1.25),
      '=': () => zoomAt(1.25),
      '-': () => zoomAt(0.8),
      '0': () => setView(null),
      Escape: () => setHover(null),
    };
    const action = keys[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  };

  // Zone × status figures from the same statuses the canvas draws.
  const summary = useMemo(() => {
    const perZone = map.zones.map(() => ({ F: 0, R: 0, S: 0 }));
    const { runs, status } = map;
    for (let r = 0; r < runs.length / 5; r++) {
      const counts = perZone[runs[r * 5 + 2]!];
      if (!counts) continue;
      const first = runs[r * 5]!;
      const n = runs[r * 5 + 4]!;
      for (let k = 0; k < n; k++) {
        const c = status[first + k] as 'F' | 'R' | 'S';
        counts[c] = (counts[c] ?? 0) + 1;
      }
    }
    return perZone;
  }, [map]);

  const [lookup, setLookup] = useState('');
  const findSeat = (event: FormEvent) => {
    event.preventDefault();
    const id = Number(lookup.trim());
    const seat = Number.isInteger(id) ? seatByIndex(map, id - map.first_seat_id) : undefined;
    setFound(seat ?? null);
  };
  // A looked-up seat follows refreshes.
  const shown = found ? (seatByIndex(map, found.index) ?? found) : found;

  return (
    <div className="seatmap">
      <div className="seatmap-toolbar">
        <ul className="seatmap-legend" aria-label="Legend">
          <li>
            <span className="swatch swatch-free" aria-hidden="true" /> Free {formatInteger(map.counts.free)}
          </li>
          <li>
            <span className="swatch swatch-reserved" aria-hidden="true" /> Reserved{' '}
            {formatInteger(map.counts.reserved)}
          </li>
          <li>
            <span className="swatch swatch-sold" aria-hidden="true" /> Sold {formatInteger(map.counts.sold)}
          </li>
        </ul>
        <div className="seatmap-zoom">
          <button type="button" onClick={() => zoomAt(1.5)} aria-label="Zoom in">
            +
          </button>
          <button type="button" onClick={() => zoomAt(1 / 1.5)} aria-label="Zoom out">
            −
          </button>
          <button type="button" onClick={() => setView(null)}>
            Fit
          </button>
          <button type="button" onClick={fitWidth}>
            Fit width
          </button>
        </div>
      </div>
      <div
        ref={wrapRef}
        className="seatmap-canvas"
        data-free={map.counts.free}
        data-reserved={map.counts.reserved}
        data-sold={map.counts.sold}
        data-testid="seat-map"
      >
        <canvas
          ref={canvasRef}
          style={{ width: `${size.width}px`, height: `${size.height}px` }}
          role="img"
          tabIndex={0}
          aria-label={`Seat map of ${formatInteger(map.capacity)} seats: ${formatInteger(map.counts.free)} free, ${formatInteger(map.counts.reserved)} reserved, ${formatInteger(map.counts.sold)} sold. Arrow keys pan, plus and minus zoom, 0 fits. The table below has the same figures per zone.`}
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={onPointerUp}
          onPointerLeave={() => setHover((h) => (h?.pinned ? h : null))}
          onKeyDown={onKeyDown}
        />
        {hover ? (
          <div
            className="seatmap-tooltip"
            role="status"
            style={{ left: Math.min(hover.x + 12, size.width - 200), top: hover.y + 12 }}
          >
            <SeatText seat={hover.seat} />
          </div>
        ) : null}
      </div>
      <form className="form-row seatmap-lookup" onSubmit={findSeat}>
        <TextField
          label="Find a seat by id"
          inputMode="numeric"
          value={lookup}
          onChange={(e) => setLookup(e.target.value)}
          hint={`Seat ids ${map.first_seat_id} to ${map.first_seat_id + map.capacity - 1}`}
        />
        <button type="submit">Find seat</button>
      </form>
      {shown === null ? (
        <p className="seatmap-found" role="status">
          No such seat in this event.
        </p>
      ) : shown ? (
        <p className="seatmap-found" role="status" data-seat-status={shown.status}>
          <SeatText seat={shown} />
        </p>
      ) : null}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard */}
      <section className="table-scroll" tabIndex={0} aria-label="Seats per zone and status">
        <table className="seatmap-summary">
          <caption>Seats per zone and status</caption>
          <thead>
            <tr>
              <th scope="col">Zone</th>
              <th scope="col" className="numeric">
                Free
              </th>
              <th scope="col" className="numeric">
                Reserved
              </th>
              <th scope="col" className="numeric">
                Sold
              </th>
            </tr>
          </thead>
          <tbody>
            {map.zones.map((zone, i) => (
              <tr key={zone.zone_id} data-zone={zone.name}>
                <th scope="row">{zone.name}</th>
                <td className="numeric" data-status="FREE">
                  {formatInteger(summary[i]?.F)}
                </td>
                <td className="numeric" data-status="RESERVED">
                  {formatInteger(summary[i]?.R)}
                </td>
                <td className="numeric" data-status="SOLD">
                  {formatInteger(summary[i]?.S)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}

function SeatText({ seat }: { seat: SeatInfo }) {
  return (
    <>
      Seat {seat.id}: {seat.zone}, row {seat.row}, seat {seat.number} — <strong>{seat.status}</strong>
    </>
  );
}
