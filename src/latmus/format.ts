/**
 * latmus's text output, as EVL's latmus prints it (libevl
 * benchmarks/latmus.c), the JSON lines, and EVL's sanity check.
 *
 *   RTT|  00:00:01  (user, 1000 us period, priority 90, CPU1-noisol)
 *   RTH|----lat min|----lat avg|----lat max|-overrun|---msw|---lat best|--lat worst
 *   RTD|      3.012|      8.420|     41.877|       0|     -|      3.012|     41.877
 *
 * Values in microseconds, 3 decimals; averages are whole nanoseconds, as
 * EVL divides them. -overrun is the run's total so far, as in EVL. The msw
 * column (EVL's in-band mode switches) does not apply without an EVL core:
 * it shows '-'.
 */
import { policyName, POLICY_KERNEL, SCHED_OTHER, type LatmusContext } from "./driver.ts";
import type { LatmusHistogram } from "./histogram.ts";
import type { LatmusStats } from "./stats.ts";

export interface LatmusMeta {
  backend: "user" | "kernel";
  /** EVL's context: user thread, the timer's handler (irq), a kernel thread. */
  context: LatmusContext;
  periodUs: number;
  intervalUs: number;
  /** SCHED_* the sampler got (POLICY_KERNEL for the module's samplers). */
  policy: number;
  priority: number;
  /** -1: not pinned. */
  cpu: number;
  /** Whether `cpu` is in /sys/devices/system/cpu/isolated (EVL's "-noisol" otherwise). */
  isolated?: boolean;
  /** Requested duration, s; 0: until stopped. */
  durationS: number;
  /** Histogram cells (1 µs each); 0: none. */
  hcells?: number;
}

export interface LatmusEnd {
  /** Records the driver could not write (ring full). */
  dropped: number;
  /** Records the driver wrote. */
  records: number;
  /** Raw samples lost (--samples; 0 otherwise). */
  lost?: number;
  /** Raw samples written to the --samples file. */
  samplesWritten?: number;
  stoppedBy: "duration" | "signal" | "error" | "abort";
  error?: string;
}

/** EVL's latmus repeats the header every 21 data lines (-l). */
export const HEADER_EVERY = 21;

const us = (ns: number) => (Number.isFinite(ns) ? (ns / 1000).toFixed(3) : "-").padStart(11);
/** EVL: (double)(sum / samples) / 1000.0, an integer division. */
const avgOf = (sum: number, samples: number) => (samples ? Math.trunc(sum / samples) : NaN);

/** hh:mm:ss of a duration in seconds (hours grow past 99 as needed). */
export function hms(seconds: number): string {
  const s = Math.floor(seconds + 1e-9);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const p2 = (n: number) => String(n).padStart(2, "0");
  return `${p2(h)}:${p2(m)}:${p2(s % 60)}`;
}

/** EVL's "CPU%d%s" with "-noisol"; "any CPU" when not pinned (EVL always pins). */
export function cpuText(meta: Pick<LatmusMeta, "cpu" | "isolated">): string {
  return meta.cpu >= 0 ? `CPU${meta.cpu}${meta.isolated ? "" : "-noisol"}` : "any CPU";
}

function priorityText(meta: LatmusMeta): string {
  if (meta.policy === POLICY_KERNEL) return `priority ${meta.priority}`;
  return meta.policy === SCHED_OTHER ? "priority 0 (SCHED_OTHER)" : `priority ${meta.priority}`;
}

export function samplerText(meta: LatmusMeta): string {
  if (meta.context === "irq") return "the module's hrtimer handler (xbuf_latmus.ko), hard IRQ";
  if (meta.context === "kernel") return `a kernel thread of xbuf_latmus.ko woken by its timer, SCHED_FIFO priority ${meta.priority}, ${cpuText(meta)}`;
  const prio = meta.policy === SCHED_OTHER ? "" : ` priority ${meta.priority}`;
  return `user thread, ${policyName(meta.policy)}${prio}, ${cpuText(meta)}`;
}

/** The two header lines; `elapsedS` is the time the test has run so far. EVL leaves the priority out for irq. */
export function headerLines(meta: LatmusMeta, elapsedS: number): string[] {
  const prio = meta.context === "irq" ? "" : ` ${priorityText(meta)},`;
  return [
    `RTT|  ${hms(elapsedS)}  (${meta.context}, ${meta.periodUs} us period,${prio} ${cpuText(meta)})`,
    "RTH|----lat min|----lat avg|----lat max|-overrun|---msw|---lat best|--lat worst",
  ];
}

/** The data line of the last interval added to `stats` (-overrun: the run's total, as EVL). */
export function intervalLine(stats: LatmusStats): string {
  const l = stats.last;
  return `RTD|${us(l.minNs)}|${us(avgOf(l.sumNs, l.samples))}|${us(l.maxNs)}|${String(stats.overruns).padStart(8)}|${"-".padStart(6)}|${us(stats.bestNs)}|${us(stats.worstNs)}`;
}

/**
 * EVL's sanity check of a data line: min > max, min > avg, avg > max,
 * min > worst, max > worst, avg > worst, best > worst. True when weird.
 */
export function weirdLine(stats: LatmusStats): boolean {
  const l = stats.last;
  const min = l.minNs, max = l.maxNs, avg = avgOf(l.sumNs, l.samples), best = stats.bestNs, worst = stats.worstNs;
  return min > max || min > avg || avg > max || min > worst || max > worst || avg > worst || best > worst || worst < best;
}

/** EVL's summary: the separator and the RTS line (nothing without samples). */
export function summaryLines(stats: LatmusStats, meta: LatmusMeta): string[] {
  if (!stats.samples) return [];
  const elapsed = stats.elapsedNs / 1e9;
  return [
    "---|-----------|-----------|-----------|--------|------|-------------------------",
    `RTS|${us(stats.bestNs)}|${us(avgOf(stats.sumNs, stats.samples))}|${us(stats.worstNs)}|${String(stats.overruns).padStart(8)}|${"-".padStart(6)}|    ${hms(elapsed)}/${hms(meta.durationS || elapsed)}`,
  ];
}

/** What EVL does not print and xbuf adds (on stderr): counts and how the sampler ran. */
export function noteLines(stats: LatmusStats, meta: LatmusMeta, end: LatmusEnd, hist?: LatmusHistogram): string[] {
  const lines = [
    `${stats.intervals} intervals of ${meta.intervalUs / 1000} ms${stats.partials ? " and a partial one" : ""}, ${stats.samples} samples, ${stats.overruns} overruns, ${end.dropped} records dropped (ring full)` +
      (end.samplesWritten !== undefined ? `, ${end.samplesWritten} raw samples written, ${end.lost ?? 0} lost` : ""),
  ];
  if (hist && hist.total) {
    const p = hist.percentiles(stats.worstNs);
    lines.push(`histogram: ${hist.total} samples in ${hist.cells} cells of 1 us, ${hist.outliers} past the last; p50 ${us(p.p50).trim()}, p99 ${us(p.p99).trim()}, p99.9 ${us(p.p999).trim()}, max ${us(p.max).trim()} us`);
  }
  lines.push(`sampler: ${samplerText(meta)}; stopped by ${end.stoppedBy}${end.error ? `: ${end.error}` : ""}`);
  return lines;
}

const r3 = (x: number) => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null);
const int = (x: number) => (Number.isFinite(x) ? x : null);

export function startJson(meta: LatmusMeta): string {
  return JSON.stringify({
    type: "start",
    backend: meta.backend,
    context: meta.context,
    period_us: meta.periodUs,
    interval_us: meta.intervalUs,
    policy: policyName(meta.policy),
    priority: meta.priority,
    cpu: meta.cpu >= 0 ? meta.cpu : null,
    duration_s: meta.durationS,
    hcells: meta.hcells ?? 0,
  });
}

/** One JSON object for the last interval added (latencies in ns). */
export function intervalJson(stats: LatmusStats, partial = false): string {
  const l = stats.last;
  return JSON.stringify({
    type: "interval",
    seq: stats.intervals + stats.partials,
    ...(partial ? { partial: true } : {}),
    elapsed_s: r3(stats.elapsedNs / 1e9),
    samples: l.samples,
    overruns: l.overruns,
    min_ns: int(l.minNs),
    avg_ns: r3(l.avgNs),
    max_ns: int(l.maxNs),
    sum_ns: l.sumNs,
    best_ns: int(stats.bestNs),
    worst_ns: int(stats.worstNs),
  });
}

/** The histogram and its percentiles, for the JSON summary. */
export interface HistogramJson {
  histogram: { cell_us: 1; cells: number; counts: number[]; outliers: number; total: number };
  percentiles: { p50_ns: number | null; p99_ns: number | null; p99_9_ns: number | null; max_ns: number | null };
}

export function histogramJson(hist: LatmusHistogram, worstNs: number): HistogramJson {
  const p = hist.percentiles(worstNs);
  return {
    histogram: { cell_us: 1 as const, cells: hist.cells, counts: Array.from(hist.counts.subarray(0, hist.cells)), outliers: hist.outliers, total: hist.total },
    percentiles: { p50_ns: int(p.p50), p99_ns: int(p.p99), p99_9_ns: int(p.p999), max_ns: int(p.max) },
  };
}

export function summaryJson(stats: LatmusStats, meta: LatmusMeta, end: LatmusEnd, hist?: LatmusHistogram): string {
  return JSON.stringify({
    type: "summary",
    backend: meta.backend,
    context: meta.context,
    intervals: stats.intervals,
    ...(stats.partials ? { partial_intervals: stats.partials } : {}),
    elapsed_s: r3(stats.elapsedNs / 1e9),
    samples: stats.samples,
    overruns: stats.overruns,
    records: end.records,
    dropped: end.dropped,
    ...(end.samplesWritten !== undefined ? { samples_written: end.samplesWritten, samples_lost: end.lost ?? 0 } : {}),
    best_ns: int(stats.bestNs),
    avg_ns: r3(stats.avgNs),
    worst_ns: int(stats.worstNs),
    peak_s: stats.samples ? stats.peakS : null,
    policy: policyName(meta.policy),
    priority: meta.priority,
    cpu: meta.cpu >= 0 ? meta.cpu : null,
    stopped_by: end.stoppedBy,
    ...(end.error ? { error: end.error } : {}),
    ...(hist ? histogramJson(hist, stats.worstNs) : {}),
  });
}
