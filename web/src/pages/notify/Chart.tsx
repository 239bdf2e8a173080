import { useEffect, useRef, useState } from 'react';
import type uPlot from 'uplot';

/**
 * A uPlot chart, loaded with `import()` so the library is its own chunk (not in the initial bundle). Colours
 * come from the panel's CSS variables, so both themes read well. The chart is an image to assistive
 * technology (role img with `label`); each use puts the same numbers in a table beside it.
 */
let loading: Promise<typeof uPlot> | undefined;
const loadUPlot = () => {
  loading ??= Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]).then(
    ([m]) => ('default' in m ? (m as { default: typeof uPlot }).default : m) as typeof uPlot,
  );
  return loading;
};

export interface ChartSeries {
  label: string;
  /** A CSS variable name (e.g. --accent) or a colour. */
  color: string;
  values: (number | null)[];
}

export function Chart({
  label,
  x,
  series,
  kind = 'line',
  xTime = true,
  yFormat,
  xFormat,
  yRange,
  height = 220,
}: {
  label: string;
  x: number[];
  series: ChartSeries[];
  kind?: 'line' | 'bars';
  xTime?: boolean;
  yFormat?: (v: number) => string;
  xFormat?: (v: number) => string;
  /** A fixed y range, e.g. [0, 1] for rates. */
  yRange?: [number, number];
  height?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  const [ready, setReady] = useState(false);
  // Redraw when the theme changes: the colours come from its CSS variables.
  const [theme, setTheme] = useState(() => document.documentElement.dataset.theme ?? '');
  useEffect(() => {
    const watch = new MutationObserver(() => setTheme(document.documentElement.dataset.theme ?? ''));
    watch.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    return () => watch.disconnect();
  }, []);
  const data = JSON.stringify({ x, series, kind, xTime, yRange, theme });
  // biome-ignore lint/correctness/useExhaustiveDependencies: `data` stands for x, series, kind, xTime, yRange and theme, compared by value
  useEffect(() => {
    let plot: uPlot | undefined;
    let observer: ResizeObserver | undefined;
    let gone = false;
    loadUPlot()
      .then((UPlot) => {
        const el = box.current;
        if (gone || !el) return;
        const style = getComputedStyle(el);
        const color = (c: string) => (c.startsWith('--') ? style.getPropertyValue(c).trim() || '#888' : c);
        const text = color('--text');
        const grid = color('--border');
        const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
        const bars = kind === 'bars' ? UPlot.paths.bars?.({ size: [0.8, 60] }) : undefined;
        const opts: uPlot.Options = {
          width: Math.max(el.clientWidth, 200),
          height,
          scales: { x: { time: xTime }, ...(yRange ? { y: { range: yRange } } : {}) },
          legend: { show: true },
          axes: [
            {
              ...axis,
              ...(xFormat ? { values: (_u: uPlot, ticks: number[]) => ticks.map(xFormat) } : {}),
            },
            {
              ...axis,
              size: 64,
              ...(yFormat ? { values: (_u: uPlot, ticks: number[]) => ticks.map(yFormat) } : {}),
            },
          ],
          series: [
            {},
            ...series.map((s) => ({
              label: s.label,
              stroke: color(s.color),
              width: 2,
              ...(bars ? { paths: bars, fill: color(s.color), points: { show: false } } : {}),
              ...(yFormat ? { value: (_u: uPlot, v: number | null) => (v === null ? '—' : yFormat(v)) } : {}),
            })),
          ],
        };
        plot = new UPlot(opts, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
        setReady(true);
        observer = new ResizeObserver(() => plot?.setSize({ width: Math.max(el.clientWidth, 200), height }));
        observer.observe(el);
      })
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
    return () => {
      gone = true;
      observer?.disconnect();
      plot?.destroy();
    };
  }, [data, height, yFormat, xFormat]);
  return (
    <figure className="chart" aria-label={label} role="img" data-ready={ready ? 'true' : 'false'}>
      {error ? <p className="field-error">The chart could not load: {error}</p> : null}
      <div ref={box} className="chart-canvas" />
    </figure>
  );
}
