/**
 * Accumulation of latmus records: the last interval, the run so far (best
 * and worst), and the per-interval history the plot needs. Adding a record
 * allocates nothing (the history grows by doubling).
 */
import type { LatmusSample } from "./record.ts";

/** Per-interval values, in columns: elapsed time at the interval's end (s), and ns. */
export class LatmusHistory {
  length = 0;
  t: Float64Array<ArrayBuffer> = new Float64Array(64);
  min: Float64Array<ArrayBuffer> = new Float64Array(64);
  avg: Float64Array<ArrayBuffer> = new Float64Array(64);
  max: Float64Array<ArrayBuffer> = new Float64Array(64);
  overruns: Float64Array<ArrayBuffer> = new Float64Array(64);

  push(t: number, min: number, avg: number, max: number, overruns: number): void {
    if (this.length === this.t.length) this.#grow();
    const i = this.length++;
    this.t[i] = t;
    this.min[i] = min;
    this.avg[i] = avg;
    this.max[i] = max;
    this.overruns[i] = overruns;
  }

  #grow(): void {
    const grow = (a: Float64Array) => {
      const b = new Float64Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.t = grow(this.t);
    this.min = grow(this.min);
    this.avg = grow(this.avg);
    this.max = grow(this.max);
    this.overruns = grow(this.overruns);
  }
}

export class LatmusStats {
  readonly periodNs: number;
  /** Records accounted for. */
  intervals = 0;
  /** Scheduled time the records cover: (samples + overruns) x period. */
  elapsedNs = 0;
  samples = 0;
  overruns = 0;
  /** Sum of all latencies, ns (exact below 2^53: ~100 days of 1 kHz samples at 1 ms). */
  sumNs = 0;
  /** Lowest latency seen so far, ns (NaN before the first record). */
  bestNs = NaN;
  /** Highest latency seen so far, ns. */
  worstNs = NaN;
  /** Partial intervals accounted for (the last one of a run; no RTD line). */
  partials = 0;
  /** Elapsed time (s) at the start of the interval that set the worst latency (EVL's peak). */
  peakS = 0;
  /** The last interval. */
  last = { minNs: NaN, avgNs: NaN, maxNs: NaN, sumNs: 0, overruns: 0, samples: 0 };
  readonly history = new LatmusHistory();

  constructor(periodUs: number) {
    this.periodNs = periodUs * 1000;
  }

  /** Account for one record (read its fields straight from the ring cursor). */
  add(r: LatmusSample, partial = false): void {
    const samples = r.samples;
    const overruns = r.overruns;
    const sum = r.sum_lat;
    const min = r.min_lat;
    const max = r.max_lat;
    const last = this.last;
    last.samples = samples;
    last.overruns = overruns;
    last.sumNs = sum;
    last.minNs = samples ? min : NaN;
    last.maxNs = samples ? max : NaN;
    last.avgNs = samples ? sum / samples : NaN;
    if (partial) this.partials++;
    else this.intervals++;
    const startS = this.elapsedNs / 1e9;
    this.samples += samples;
    this.overruns += overruns;
    this.sumNs += sum;
    this.elapsedNs += (samples + overruns) * this.periodNs;
    if (samples) {
      if (!(min >= this.bestNs)) this.bestNs = min;
      if (!(max <= this.worstNs)) {
        this.worstNs = max;
        this.peakS = startS;
      }
    }
    this.history.push(this.elapsedNs / 1e9, last.minNs, last.avgNs, last.maxNs, overruns);
  }

  /** Average over the whole run, ns. */
  get avgNs(): number {
    return this.samples ? this.sumNs / this.samples : NaN;
  }
}
