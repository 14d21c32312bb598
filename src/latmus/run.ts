/**
 * A latmus run: a sampler (the C thread of libxbuf for --user, the
 * module's hrtimer handler for --irq or its kernel thread for --kernel)
 * writes frames into a private cross-buffer; this side reads them in place
 * from the mapped ring (views, no copy), accounts for them and prints.
 *
 * The sampler ends the stream itself: after the duration (it counts the
 * periods), or on a stop request (Ctrl-C: finish()), it sends the last
 * partial interval, the pending histogram counts, every staged raw sample,
 * then END. The loop ends on END; the session is stopped and the ring
 * closed after it. On an error, -A (exit 102) or a weird line (exit 103)
 * the session is stopped at once.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { XBuf } from "../xbuf.ts";
import { XBufError } from "../errors.ts";
import { UserLatmus, HCELLS_DEFAULT, FRAME_MAX, type LatmusContext, type LatmusInfo } from "./driver.ts";
import { FrameReader, type LatmusEndInfo } from "./frames.ts";
import { LatmusHistogram } from "./histogram.ts";
import { LatmusStats } from "./stats.ts";
import type { LatmusSample } from "./record.ts";
import {
  HEADER_EVERY, headerLines, hms, intervalJson, intervalLine, noteLines, startJson, summaryJson, summaryLines, weirdLine,
  type LatmusEnd, type LatmusMeta,
} from "./format.ts";
import { isolatedCpus } from "./cpus.ts";

/**
 * Runs in this process so far: each names its element anew, since a name
 * stays taken while the element lives, and the views a run reads keep its
 * mapping (so the element) until they are garbage.
 */
let runs = 0;

export const KERNEL_DEVICE = "/dev/xbuf/latmus";

export interface LatmusOptions {
  /** Where the ring lives; "auto": what the context needs. */
  backend: "user" | "kernel" | "auto";
  /** EVL's context; default: user, or irq with --backend kernel. */
  context?: LatmusContext;
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
  /** Histogram cells of 1 µs (EVL's -H), default 200. */
  hcells?: number;
  /** EVL's -A: exit 102 once the worst latency exceeds it, µs. */
  maxAbortUs?: number;
  /** EVL's -l: header every N data lines, 0 never; default 21. */
  lines?: number;
  /** EVL's -v/-q: 0 prints no header nor data line. Default 1. */
  verbosity?: number;
  /** --samples: every raw sample (u32 ns, little-endian) to this file; CSV when it ends in .csv. */
  samplesFile?: string;
  /** Deterministic mode (tests): sample i measures fake[i % length] ns. */
  fake?: ArrayLike<number>;
}

export interface LatmusIO {
  /** One line of output (no newline). */
  out(line: string): void;
  /** One line of what EVL does not print (stderr); absent: dropped. */
  note?(line: string): void;
  /** Live status on a terminal ("" clears it); absent when not on a TTY. */
  progress?(status: string): void;
  /** Stops the run like Ctrl-C. */
  signal?: AbortSignal;
  /** Called once the run's data is in, before the summary (EVL writes its gnuplot file there). */
  beforeSummary?(r: { stats: LatmusStats; meta: LatmusMeta; hist: LatmusHistogram }): void;
}

export interface LatmusResult {
  stats: LatmusStats;
  meta: LatmusMeta;
  end: LatmusEnd;
  info: LatmusInfo;
  hist: LatmusHistogram;
  /** What the sampler said last (END); null if it never got there. */
  final: LatmusEndInfo | null;
}

/** The backend cannot run here: a one-line reason for the user. */
export class LatmusUnavailable extends Error {}

/** EVL's exit codes: 102 past -A, 103 a weird line. */
export class LatmusExit extends Error {
  constructor(readonly code: 102 | 103, message: string) {
    super(message);
  }
}

/** Inbound ring: room for ~2700 interval frames; 8 MiB with raw samples (20 s at 10 µs). */
const RING_BYTES = 65536;
const RING_SAMPLES = 8 << 20;

export function contextOf(opts: Pick<LatmusOptions, "backend" | "context">): LatmusContext {
  return opts.context ?? (opts.backend === "kernel" ? "irq" : "user");
}

/** A writer of raw samples: binary (the ring's bytes as they are) or CSV. */
class SamplesFile {
  #fd: number;
  #csv: boolean;
  #index = 0;
  written = 0;
  constructor(path: string) {
    this.#fd = openSync(path, "w");
    this.#csv = path.toLowerCase().endsWith(".csv");
    if (this.#csv) writeSync(this.#fd, "sample,latency_ns\n");
  }
  add(bytes: Uint8Array, n: number): void {
    if (!this.#csv) {
      writeSync(this.#fd, bytes); // straight from the mapped ring: little-endian u32, as the file wants them
    } else {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      let text = "";
      for (let i = 0; i < n; i++) text += `${this.#index++},${dv.getUint32(i * 4, true)}\n`;
      writeSync(this.#fd, text);
    }
    this.written += n;
  }
  close(): void {
    closeSync(this.#fd);
  }
}

/**
 * What the front-end does with each interval record, as EVL's
 * log_results(): -A (exit 102) before the line, the RTT/RTH header every
 * `lines` data lines (0: never; none at verbosity 0), the RTD line, then
 * the sanity check (exit 103, the weird line printed whatever the
 * verbosity). The last partial interval counts in the totals, no line.
 */
export class LatmusPrinter {
  #rounds = 0;
  constructor(
    readonly meta: LatmusMeta,
    readonly stats: LatmusStats,
    readonly io: Pick<LatmusIO, "out">,
    readonly opts: { json: boolean; verbosity: number; lines: number; abortNs: number },
  ) {}

  interval(r: LatmusSample, partial: boolean): void {
    const { stats, meta, io, opts } = this;
    const worst = stats.worstNs;
    stats.add(r, partial);
    if (opts.abortNs && r.samples && !(r.max_lat <= worst) && r.max_lat > opts.abortNs) {
      throw new LatmusExit(102, `latency threshold is exceeded (${opts.abortNs} >= ${(r.max_lat / 1000).toFixed(3)}), aborting.`);
    }
    if (opts.json) {
      io.out(intervalJson(stats, partial));
      return;
    }
    if (partial) return;
    const weird = r.samples > 0 && weirdLine(stats);
    if (opts.verbosity > 0 && opts.lines && this.#rounds % opts.lines === 0) {
      for (const l of headerLines(meta, stats.elapsedNs / 1e9 - ((r.samples + r.overruns) * meta.periodUs) / 1e6)) io.out(l);
    }
    this.#rounds++;
    if (opts.verbosity > 0 || weird) io.out(intervalLine(stats));
    if (weird) throw new LatmusExit(103, "results look weird, aborting.");
  }
}

export async function runLatmus(opts: LatmusOptions, io: LatmusIO): Promise<LatmusResult> {
  const context = contextOf(opts);
  const backend = context === "user" ? "user" : "kernel";
  if (opts.backend !== "auto" && opts.backend !== backend) {
    throw new LatmusUnavailable(`--${context} needs the ${backend} backend, not --backend ${opts.backend}`);
  }
  const hcells = opts.hcells ?? HCELLS_DEFAULT;
  const verbosity = opts.verbosity ?? 1;
  const every = opts.lines ?? HEADER_EVERY;
  let xb: XBuf;
  try {
    xb = XBuf.create({ inbound: Math.max(FRAME_MAX, opts.samplesFile ? RING_SAMPLES : RING_BYTES), outbound: 0, name: `latmus-${process.pid}-${++runs}`, backend });
  } catch (e) {
    if (e instanceof XBufError && e.code === "ENODEV") throw new LatmusUnavailable("kernel backend not available: module not loaded");
    throw e;
  }
  let session: UserLatmus;
  try {
    session = UserLatmus.run(xb.fd, {
      context,
      periodUs: opts.periodUs,
      intervalUs: opts.intervalUs,
      cpu: opts.cpu,
      priority: opts.priority,
      hcells,
      samples: !!opts.samplesFile,
      periods: opts.durationS ? Math.round((opts.durationS * 1e6) / opts.periodUs) : 0,
      ...(opts.fake ? { fake: opts.fake } : {}),
    });
  } catch (e) {
    xb.close();
    if (e instanceof XBufError && e.code === "ENODEV") throw new LatmusUnavailable("kernel backend not available: the companion module is not loaded");
    if (e instanceof XBufError && e.code === "EOPNOTSUPP") throw new LatmusUnavailable("the companion module is too old for framed sessions (no XBUF_LATMUS_IOC_SETUP)");
    throw e;
  }

  const started = session.info();
  const meta: LatmusMeta = {
    backend: xb.backend,
    context,
    periodUs: started.periodUs,
    intervalUs: started.intervalUs,
    policy: started.policy,
    priority: started.priority,
    cpu: started.cpu,
    isolated: started.cpu >= 0 && isolatedCpus().has(started.cpu),
    durationS: opts.durationS,
    hcells,
  };
  const stats = new LatmusStats(meta.periodUs);
  const hist = new LatmusHistogram(Math.max(1, hcells));
  const file = opts.samplesFile ? new SamplesFile(opts.samplesFile) : null;
  const abortNs = opts.maxAbortUs ? opts.maxAbortUs * 1000 : 0;
  let stoppedBy: LatmusEnd["stoppedBy"] | null = null;
  let final: LatmusEndInfo | null = null;
  let aborted = false;

  /** Ctrl-C, the signal: stop sampling; the sampler sends what is pending, then END. */
  const finish = (why: LatmusEnd["stoppedBy"]) => {
    if (session.stopped) return;
    stoppedBy ??= why;
    session.finish();
  };
  /** At once (errors, -A, 103): nothing more is read. */
  const abort = (why: LatmusEnd["stoppedBy"]) => {
    stoppedBy ??= why;
    aborted = true;
    session.stop();
    xb.close();
  };

  const onSignal = () => finish("signal");
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  io.signal?.addEventListener("abort", onSignal);

  const tick = setInterval(() => {
    if (session.stopped) return;
    const info = session.info();
    io.progress?.(
      `${hms(stats.elapsedNs / 1e9)}${opts.durationS ? "/" + hms(opts.durationS) : ""}` +
        `  intervals ${stats.intervals}  worst ${Number.isFinite(stats.worstNs) ? (stats.worstNs / 1000).toFixed(3) : "-"} us` +
        `  dropped ${info.dropped}  (Ctrl-C stops)`,
    );
  }, Math.min(250, Math.max(20, meta.intervalUs / 1000)));

  if (opts.json) io.out(startJson(meta));

  const printer = new LatmusPrinter(meta, stats, io, { json: opts.json, verbosity, lines: every, abortNs });
  const reader = new FrameReader({
    interval: (r, partial) => printer.interval(r, partial),
    hist(_cells, cell, count) {
      hist.add(cell, count);
    },
    samples(bytes, n) {
      file?.add(bytes, n);
    },
    end(e) {
      final = e;
    },
  });

  try {
    for await (const view of xb.views()) {
      if (reader.feed(view)) break;
    }
  } catch (e) {
    if (!(aborted && e instanceof XBufError && e.code === "EBADF")) {
      if (!aborted) abort(e instanceof LatmusExit ? "abort" : "error");
      file?.close();
      throw e;
    }
  } finally {
    clearInterval(tick);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    io.signal?.removeEventListener("abort", onSignal);
    io.progress?.("");
  }
  const info = session.stop();
  xb.close();
  file?.close();

  const fin = final as LatmusEndInfo | null;
  const end: LatmusEnd = {
    dropped: fin ? fin.dropped : info.dropped,
    records: fin ? fin.records : info.records,
    ...(file ? { samplesWritten: file.written, lost: fin ? fin.lost : Math.max(0, stats.samples - file.written) } : {}),
    stoppedBy: stoppedBy ?? (fin && !fin.error ? "duration" : "error"),
    ...(info.error || fin?.error ? { error: `sampler failed: errno ${-(fin?.error || info.error)}` } : {}),
  };
  io.beforeSummary?.({ stats, meta, hist });
  if (opts.json) io.out(summaryJson(stats, meta, end, hcells ? hist : undefined));
  else {
    for (const l of summaryLines(stats, meta)) io.out(l);
    if (verbosity > 0) for (const l of noteLines(stats, meta, end, hcells ? hist : undefined)) io.note?.(l);
  }
  return { stats, meta, end, info, hist, final: fin };
}
