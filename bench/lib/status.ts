/**
 * Reading a server's own figures for a scenario's `summarize` (and its baseline in `setup`): JSON
 * endpoints and Prometheus samples. A figure the server does not serve there is null, not an error: the
 * same scenario runs against ports that serve less (the drops contest port has no /metrics).
 */

export async function readJson<T>(url: string, headers: Record<string, string> = {}): Promise<T | null> {
  try {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
    if (response.ok) return (await response.json()) as T;
    await response.arrayBuffer();
  } catch {
    // not served there
  }
  return null;
}

/** One sample of a Prometheus text exposition: its labels and value. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** The samples of `/metrics` at `baseUrl`, by metric name; null when it does not serve them. */
export async function readMetrics(baseUrl: string): Promise<Map<string, Sample[]> | null> {
  let text: string;
  try {
    const response = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
    text = await response.text();
    if (!response.ok) return null;
  } catch {
    return null;
  }
  const samples = new Map<string, Sample[]>();
  for (const [, name, rawLabels = '', value] of text.matchAll(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/gm)) {
    const labels: Record<string, string> = {};
    for (const [, key, labelValue] of rawLabels.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[key!] = labelValue!;
    const list = samples.get(name!) ?? [];
    list.push({ labels, value: Number(value) });
    samples.set(name!, list);
  }
  return samples;
}

/** The sum of `name`'s samples whose labels include `match`. */
export function sum(
  samples: Map<string, Sample[]>,
  name: string,
  match: Record<string, string> = {},
): number {
  let total = 0;
  for (const sample of samples.get(name) ?? []) {
    if (Object.entries(match).every(([key, value]) => sample.labels[key] === value)) total += sample.value;
  }
  return total;
}
