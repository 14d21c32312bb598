/**
 * The per-sample histogram of a latmus run, as both samplers keep it
 * (include/xbuf/kernel.h): `cells` cells of 1 µs (cell i counts latencies
 * in [i, i + 1) µs), then one cell of outliers (>= cells µs). Filled from
 * the HIST frames; percentiles come from it.
 */
export class LatmusHistogram {
  readonly cells: number;
  /** cells + 1 counts: the last one is the outliers. */
  readonly counts: Float64Array;
  total = 0;

  constructor(cells: number) {
    this.cells = cells;
    this.counts = new Float64Array(cells + 1);
  }

  add(cell: number, count: number): void {
    if (cell > this.cells) cell = this.cells;
    this.counts[cell]! += count;
    this.total += count;
  }

  get outliers(): number {
    return this.counts[this.cells]!;
  }

  /**
   * The latency, ns, that a fraction `p` (0..1) of the samples does not
   * exceed, to the histogram's resolution: the upper edge of the cell where
   * the cumulative count reaches p x total, capped by the worst latency
   * (which bounds the outliers too). NaN when empty.
   */
  percentileNs(p: number, worstNs: number): number {
    if (!this.total) return NaN;
    const want = Math.max(1, Math.ceil(p * this.total - 1e-9));
    let sum = 0;
    for (let c = 0; c <= this.cells; c++) {
      sum += this.counts[c]!;
      if (sum >= want) {
        if (c === this.cells) return worstNs;
        const edge = (c + 1) * 1000;
        return Number.isFinite(worstNs) ? Math.min(edge, worstNs) : edge;
      }
    }
    return worstNs;
  }

  percentiles(worstNs: number): { p50: number; p99: number; p999: number; max: number } {
    return {
      p50: this.percentileNs(0.5, worstNs),
      p99: this.percentileNs(0.99, worstNs),
      p999: this.percentileNs(0.999, worstNs),
      max: worstNs,
    };
  }

  /**
   * EVL's view of the histogram: `cells` cells, the outliers counted in the
   * last one (EVL's driver clamps them there).
   */
  evlCells(): Float64Array {
    const a = this.counts.slice(0, this.cells);
    a[this.cells - 1]! += this.outliers;
    return a;
  }
}
