/**
 * A mergeable latency histogram in microseconds, for autocannon: its own histogram has 1 ms
 * resolution and no p95, and each load thread keeps its own, so the runner needs one it can merge.
 * Log-linear buckets: exact below 2048 µs, then 1024 buckets per power of two (< 0.1 % error).
 */
const SUB_BITS = 10;
const SUB = 1 << SUB_BITS;
const LINEAR = 2 * SUB;
const MAX_EXPONENT = 32; // values are capped at 2^32 µs (71 min), far beyond any timeout
const SIZE = LINEAR + (MAX_EXPONENT - SUB_BITS - 1) * SUB;

export class Histogram {
  readonly counts: Float64Array;
  total = 0;

  constructor(counts?: Float64Array) {
    this.counts = counts ?? new Float64Array(SIZE);
    for (const count of this.counts) this.total += count;
  }

  record(micros: number): void {
    this.counts[bucketIndex(micros)]! += 1;
    this.total += 1;
  }

  merge(other: Histogram): void {
    for (let i = 0; i < SIZE; i++) this.counts[i]! += other.counts[i]!;
    this.total += other.total;
  }

  /** The value (µs) at or below which `percent` % of the recorded values fall; null when empty. */
  percentile(percent: number): number | null {
    if (this.total === 0) return null;
    const rank = Math.max(1, Math.ceil((percent / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < SIZE; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return bucketValue(i);
    }
    return bucketValue(SIZE - 1);
  }
}

function bucketIndex(micros: number): number {
  const value = Math.min(Math.max(0, Math.round(micros)), 2 ** MAX_EXPONENT - 1);
  if (value < LINEAR) return value;
  const exponent = Math.floor(Math.log2(value));
  const shift = exponent - SUB_BITS;
  const top = Math.floor(value / 2 ** shift); // in [SUB, 2 * SUB)
  return LINEAR + (exponent - SUB_BITS - 1) * SUB + (top - SUB);
}

/** Middle of the bucket's range. */
function bucketValue(index: number): number {
  if (index < LINEAR) return index;
  const exponent = Math.floor((index - LINEAR) / SUB) + SUB_BITS + 1;
  const shift = exponent - SUB_BITS;
  const top = ((index - LINEAR) % SUB) + SUB;
  return top * 2 ** shift + 2 ** shift / 2;
}
