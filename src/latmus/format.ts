/**
 * latmus's text output, as EVL's latmus prints it, and the JSON lines.
 *
 *   RTT|  00:00:01  (user, 1000 us period, priority 90, CPU1)
 *   RTH|----lat min|----lat avg|----lat max|-overrun|---msw|---lat best|--lat worst
 *   RTD|      3.012|      8.420|     41.877|       0|     -|      3.012|     41.877
 *
 * Values in microseconds, 3 decimals. The msw column (EVL's in-band mode
 * switches) does not apply without an EVL core: it shows '-'.
 */
import { policyName, POLICY_KERNEL, SCHED_OTHER } from "./driver.ts";
import type { LatmusStats } from "./stats.ts";

export interface LatmusMeta {
  backend: "user" | "kernel";
  periodUs: number;
  intervalUs: number;
  /** SCHED_* the sampler got. */
  policy: number;
  priority: number;
  /** -1: not pinned. */
  cpu: number;
  /** Requested duration, s; 0: until stopped. */
  durationS: number;
}

export interface LatmusEnd {
  /** Records the driver could not write (ring full). */
  dropped: number;
  /** Records the driver wrote (some may be past the duration: not accounted). */
  records: number;
  stoppedBy: "duration" | "signal" | "error";
  error?: string;
}

/** EVL's latmus repeats the header every 21 data lines. */
export const HEADER_EVERY = 21;

const us = (ns: number) => (Number.isFinite(ns) ? (ns / 1000).toFixed(3) : "-").padStart(11);

/** hh:mm:ss of a duration in seconds (hours grow past 99 as needed). */
export function hms(seconds: number): string {
  const s = Math.floor(seconds + 1e-9);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const p2 = (n: number) => String(n).padStart(2, "0");
  return `${p2(h)}:${p2(m)}:${p2(s % 60)}`;
}

function priorityText(meta: LatmusMeta): string {
  if (meta.policy === POLICY_KERNEL) return "hrtimer";
  return meta.policy === SCHED_OTHER ? "priority 0 (SCHED_OTHER)" : `priority ${meta.priority}`;
}

function samplerText(meta: LatmusMeta): string {
  if (meta.policy === POLICY_KERNEL) return "kernel companion (xbuf_latmus.ko), hrtimer in hard IRQ";
  const prio = meta.policy === SCHED_OTHER ? "" : ` priority ${meta.priority}`;
  return `${meta.backend} thread, ${policyName(meta.policy)}${prio}, ${cpuText(meta.cpu)}`;
}

function cpuText(cpu: number): string {
  return cpu >= 0 ? `CPU${cpu}` : "any CPU";
}

/** The two header lines; `elapsedS` is the time the test has run so far. */
export function headerLines(meta: LatmusMeta, elapsedS: number): string[] {
  return [
    `RTT|  ${hms(elapsedS)}  (${meta.backend}, ${meta.periodUs} us period, ${priorityText(meta)}, ${cpuText(meta.cpu)})`,
    "RTH|----lat min|----lat avg|----lat max|-overrun|---msw|---lat best|--lat worst",
  ];
}

/** The data line of the last interval added to `stats`. */
export function intervalLine(stats: LatmusStats): string {
  const l = stats.last;
  return `RTD|${us(l.minNs)}|${us(l.avgNs)}|${us(l.maxNs)}|${String(l.overruns).padStart(8)}|${"-".padStart(6)}|${us(stats.bestNs)}|${us(stats.worstNs)}`;
}

/** The summary: latmus's RTS line, then what it does not say. */
export function summaryLines(stats: LatmusStats, meta: LatmusMeta, end: LatmusEnd): string[] {
  const elapsed = stats.elapsedNs / 1e9;
  const lines = [
    "---|-----------|-----------|-----------|--------|------|-------------------------",
    `RTS|${us(stats.bestNs)}|${us(stats.avgNs)}|${us(stats.worstNs)}|${String(stats.overruns).padStart(8)}|${"-".padStart(6)}|    ${hms(elapsed)}/${hms(meta.durationS || elapsed)}`,
    `RTS| ${stats.intervals} intervals of ${meta.intervalUs / 1000} ms, ${stats.samples} samples, ${stats.overruns} overruns, ${end.dropped} records dropped (ring full)`,
    `RTS| sampler: ${samplerText(meta)}; stopped by ${end.stoppedBy}${end.error ? `: ${end.error}` : ""}`,
  ];
  return lines;
}

const r3 = (x: number) => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null);
const int = (x: number) => (Number.isFinite(x) ? x : null);

export function startJson(meta: LatmusMeta): string {
  return JSON.stringify({
    type: "start",
    backend: meta.backend,
    period_us: meta.periodUs,
    interval_us: meta.intervalUs,
    policy: policyName(meta.policy),
    priority: meta.priority,
    cpu: meta.cpu >= 0 ? meta.cpu : null,
    duration_s: meta.durationS,
  });
}

/** One JSON object for the last interval added (latencies in ns). */
export function intervalJson(stats: LatmusStats): string {
  const l = stats.last;
  return JSON.stringify({
    type: "interval",
    seq: stats.intervals,
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

export function summaryJson(stats: LatmusStats, meta: LatmusMeta, end: LatmusEnd): string {
  return JSON.stringify({
    type: "summary",
    backend: meta.backend,
    intervals: stats.intervals,
    elapsed_s: r3(stats.elapsedNs / 1e9),
    samples: stats.samples,
    overruns: stats.overruns,
    records: end.records,
    dropped: end.dropped,
    best_ns: int(stats.bestNs),
    avg_ns: r3(stats.avgNs),
    worst_ns: int(stats.worstNs),
    policy: policyName(meta.policy),
    priority: meta.priority,
    cpu: meta.cpu >= 0 ? meta.cpu : null,
    stopped_by: end.stoppedBy,
    ...(end.error ? { error: end.error } : {}),
  });
}
