/**
 * The user-space latmus driver (csrc/latmus.c) through the FFI: a C
 * sampler thread writing records into an element's inbound ring.
 */
import { check } from "../errors.ts";
import { getNative } from "../ffi/index.ts";
import type { Bound, Native } from "../ffi/native.ts";
import { XbufLatmusInfo } from "../layout.ts";
import { latmusSymbols } from "./symbols.ts";

type LatmusLib = Bound<typeof latmusSymbols>;

/** xbuf_latmus.h: the longest period, µs. */
export const XBUF_LATMUS_MAX_PERIOD_US = 1_000_000;

/** Linux scheduling policies (sched.h). */
export const SCHED_OTHER = 0;
export const SCHED_FIFO = 1;
export const SCHED_RR = 2;
/** xbuf_latmus.h: the sampler is the kernel companion's hrtimer (hard IRQ). */
export const POLICY_KERNEL = -1;

export interface LatmusInfo {
  /** Records written into the ring. */
  records: number;
  /** Records that did not fit (the reader was behind): not written. */
  dropped: number;
  /** Wake-ups measured. */
  samples: number;
  /** Periods missed. */
  overruns: number;
  periodUs: number;
  /** As applied: a whole number of periods. */
  intervalUs: number;
  /** What the sampler thread got: SCHED_FIFO or SCHED_OTHER. */
  policy: number;
  /** Its SCHED_FIFO priority; 0 under SCHED_OTHER. */
  priority: number;
  /** -1: not pinned. */
  cpu: number;
  /** 0, or the errno that ended the sampler early. */
  error: number;
  running: boolean;
}

export interface LatmusStartOptions {
  periodUs: number;
  intervalUs: number;
  /** -1 (default): not pinned. */
  cpu?: number;
  /** 1..99: SCHED_FIFO if allowed; 0: SCHED_OTHER. */
  priority?: number;
}

export function policyName(policy: number): string {
  if (policy === POLICY_KERNEL) return "kernel hrtimer";
  return policy === SCHED_FIFO ? "SCHED_FIFO" : policy === SCHED_RR ? "SCHED_RR" : policy === SCHED_OTHER ? "SCHED_OTHER" : `policy ${policy}`;
}

/** One sampling session; stop() it exactly once. */
export class UserLatmus {
  #native: Native;
  #lib: LatmusLib;
  #handle: number;
  /** struct xbuf_latmus_info, filled by the C calls, read through one cursor. */
  #raw = new Uint8Array(XbufLatmusInfo.size);
  #info = XbufLatmusInfo.cursor(new DataView(this.#raw.buffer));
  #last: LatmusInfo | null = null;

  private constructor(native: Native, lib: LatmusLib, handle: number) {
    this.#native = native;
    this.#lib = lib;
    this.#handle = handle;
  }

  /** Start sampling into the element `fd` (XBuf.fd) of this process. */
  static start(fd: number, options: LatmusStartOptions): UserLatmus {
    const native = getNative();
    const lib = native.bind(latmusSymbols);
    const slot = new BigUint64Array(1); // struct xbuf_latmus *
    check(
      lib.xbuf_latmus_start(fd, options.periodUs, options.intervalUs, options.cpu ?? -1, options.priority ?? 0, native.addressOf(slot)),
      "latmus start",
    );
    return new UserLatmus(native, lib, Number(slot[0]));
  }

  get stopped(): boolean {
    return this.#last !== null;
  }

  /** Current counters (the final ones once stopped). */
  info(): LatmusInfo {
    if (this.#last) return this.#last;
    check(this.#lib.xbuf_latmus_info(this.#handle, this.#native.addressOf(this.#raw)), "latmus info");
    return this.#decode();
  }

  /**
   * Stop the sampler thread (waits for its current sleep: at most one
   * period), release the driver reference. No record is written after
   * this returns. Idempotent; returns the final counters.
   */
  stop(): LatmusInfo {
    if (this.#last) return this.#last;
    check(this.#lib.xbuf_latmus_stop(this.#handle, this.#native.addressOf(this.#raw)), "latmus stop");
    this.#last = this.#decode();
    return this.#last;
  }

  #decode(): LatmusInfo {
    const i = this.#info;
    return {
      records: i.records,
      dropped: i.dropped,
      samples: i.samples,
      overruns: i.overruns,
      periodUs: i.period_us,
      intervalUs: i.interval_us,
      policy: i.policy,
      priority: i.priority,
      cpu: i.cpu,
      error: i.error,
      running: i.running !== 0,
    };
  }
}
