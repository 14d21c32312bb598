/**
 * A latmus run: the C sampler thread writes records into a private
 * cross-buffer; this side reads them in place (recordBatches, one cursor,
 * no allocation per record), accounts for them and prints.
 *
 * Shutdown order, whatever stops the run (duration, signal, sampler
 * error): stop the C thread (no record is written after that), drain the
 * records still in the ring (the iterator ends on EPIPE once it is empty:
 * the sampler's end is released), then close the element.
 */
import { existsSync } from "node:fs";
import { XBuf } from "../xbuf.ts";
import { XBufError } from "../errors.ts";
import { UserLatmus, type LatmusInfo } from "./driver.ts";
import { LatmusRecord } from "./record.ts";
import { LatmusStats } from "./stats.ts";
import {
  HEADER_EVERY, headerLines, hms, intervalJson, intervalLine, startJson, summaryJson, summaryLines,
  type LatmusEnd, type LatmusMeta,
} from "./format.ts";

export const KERNEL_DEVICE = "/dev/xbuf/latmus";

export interface LatmusOptions {
  /** "auto": the kernel companion when xbuf.ko is loaded, else the user-space thread. */
  backend: "user" | "kernel" | "auto";
  /** Sampling period, µs (1..1000000). */
  periodUs: number;
  /** Reporting interval, µs (>= period; rounded down to a whole number of periods). */
  intervalUs: number;
  /** Seconds of measured time; 0: until stopped (signal). */
  durationS: number;
  /** -1: not pinned. */
  cpu: number;
  /** 1..99: SCHED_FIFO when allowed, else SCHED_OTHER; 0: SCHED_OTHER. */
  priority: number;
  json: boolean;
}

export interface LatmusIO {
  /** One line of output (no newline). */
  out(line: string): void;
  /** Live status on a terminal ("" clears it); absent when not on a TTY. */
  progress?(status: string): void;
  /** Stops the run like Ctrl-C. */
  signal?: AbortSignal;
}

export interface LatmusResult {
  stats: LatmusStats;
  meta: LatmusMeta;
  end: LatmusEnd;
  info: LatmusInfo;
}

/** The backend cannot run here: a one-line reason for the user. */
export class LatmusUnavailable extends Error {}

/** Inbound ring: room for ~2700 records, so a busy event loop loses none. */
const RING_BYTES = 65536;

export async function runLatmus(opts: LatmusOptions, io: LatmusIO): Promise<LatmusResult> {
  // The sampler writes where the ring lives: a user-space element gets the
  // C thread, a kernel element the companion module's hrtimer.
  let xb: XBuf;
  try {
    xb = XBuf.create({ inbound: RING_BYTES, outbound: 0, name: `latmus-${process.pid}`, backend: opts.backend });
  } catch (e) {
    if (e instanceof XBufError && e.code === "ENODEV") throw new LatmusUnavailable("kernel backend not available: module not loaded");
    throw e;
  }
  let session: UserLatmus;
  try {
    session = UserLatmus.start(xb.fd, {
      periodUs: opts.periodUs,
      intervalUs: opts.intervalUs,
      cpu: opts.cpu,
      priority: opts.priority,
    });
  } catch (e) {
    xb.close();
    if (e instanceof XBufError && e.code === "ENODEV") throw new LatmusUnavailable("kernel backend not available: the companion module is not loaded");
    throw e;
  }

  const started = session.info();
  const meta: LatmusMeta = {
    backend: xb.backend,
    periodUs: started.periodUs,
    intervalUs: started.intervalUs,
    policy: started.policy,
    priority: started.priority,
    cpu: started.cpu,
    durationS: opts.durationS,
  };
  const stats = new LatmusStats(meta.periodUs);
  const durationNs = opts.durationS * 1e9;
  let stoppedBy: LatmusEnd["stoppedBy"] | null = null;
  let closedEmpty = false;
  let ignored = 0;

  /** Stop the sampler; the reading loop then drains the ring and ends. */
  const stop = (why: LatmusEnd["stoppedBy"]) => {
    if (session.stopped) return;
    stoppedBy ??= why;
    session.stop();
    // The user-space sampler ends the stream when it stops
    // (evl_shutdown_xbuf()): the loop drains and ends on EPIPE. The kernel
    // companion does not yet (issue 9's kernel part): close once the ring
    // is drained (the loop checks after each batch).
    if (xb.backend === "kernel" && xb.rings().inbound.fill === 0) {
      closedEmpty = true;
      xb.close();
    }
  };

  const onSignal = () => stop("signal");
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  io.signal?.addEventListener("abort", onSignal);

  const t0 = performance.now();
  const tick = setInterval(() => {
    if (session.stopped) return;
    const info = session.info();
    if (!info.running) return stop("error");
    // Records lost to a full ring would never reach the duration.
    const slack = 1000 + (2 * meta.intervalUs) / 1000;
    if (durationNs && performance.now() - t0 > opts.durationS * 1000 + slack) return stop("duration");
    io.progress?.(
      `${hms(stats.elapsedNs / 1e9)}${opts.durationS ? "/" + hms(opts.durationS) : ""}` +
        `  intervals ${stats.intervals}  worst ${Number.isFinite(stats.worstNs) ? (stats.worstNs / 1000).toFixed(3) : "-"} us` +
        `  dropped ${info.dropped}  (Ctrl-C stops)`,
    );
  }, Math.min(250, Math.max(20, meta.intervalUs / 1000)));

  if (opts.json) io.out(startJson(meta));
  else for (const l of headerLines(meta, 0)) io.out(l);

  try {
    for await (const batch of xb.recordBatches(LatmusRecord)) {
      for (let i = 0; i < batch.length; i++) {
        if (stoppedBy === "duration") {
          ignored++; // measured past the requested duration
          continue;
        }
        stats.add(batch.at(i));
        if (opts.json) {
          io.out(intervalJson(stats));
        } else {
          if (stats.intervals > 1 && (stats.intervals - 1) % HEADER_EVERY === 0) {
            for (const l of headerLines(meta, stats.elapsedNs / 1e9 - meta.intervalUs / 1e6)) io.out(l);
          }
          io.out(intervalLine(stats));
        }
        if (durationNs && stats.elapsedNs >= durationNs) stop("duration");
      }
      // Kernel elements: after the stop, this batch was the last if it is all the ring holds.
      if (session.stopped && xb.backend === "kernel" && (xb.closed || xb.rings().inbound.fill <= batch.length * LatmusRecord.size)) break;
    }
  } catch (e) {
    if (!(closedEmpty && e instanceof XBufError && e.code === "EBADF")) {
      stop("error");
      throw e;
    }
  } finally {
    clearInterval(tick);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    io.signal?.removeEventListener("abort", onSignal);
    io.progress?.("");
    stop("error"); // no-op unless the loop ended on its own
    xb.close();
  }

  const info = session.info();
  const end: LatmusEnd = {
    dropped: info.dropped,
    records: info.records,
    stoppedBy: stoppedBy ?? "error",
    ...(info.error ? { error: `sampler failed: errno ${-info.error}` } : {}),
  };
  void ignored;
  if (opts.json) io.out(summaryJson(stats, meta, end));
  else for (const l of summaryLines(stats, meta, end)) io.out(l);
  return { stats, meta, end, info };
}
