/**
 * The user-space latmus driver (csrc/latmus.c) through the FFI: a C
 * sampler thread writing records into an element's inbound ring.
 */
import { XBufError } from "../errors.ts";
import { getNative } from "../ffi/index.ts";
import type { Native } from "../ffi/native.ts";

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
  #handle: number;
  /** struct xbuf_latmus_info: 4 x u64, then 8 x int (64 bytes). */
  #raw = new BigUint64Array(8);
  #i32 = new Int32Array(this.#raw.buffer);
  #u32 = new Uint32Array(this.#raw.buffer);
  #last: LatmusInfo | null = null;

  private constructor(native: Native, handle: number) {
    this.#native = native;
    this.#handle = handle;
  }

  /** Start sampling into the element `fd` (XBuf.fd) of this process. */
  static start(fd: number, options: LatmusStartOptions): UserLatmus {
    const native = getNative();
    const slot = new BigUint64Array(1);
    const ret = native.lib.xbuf_latmus_start(
      fd,
      options.periodUs,
      options.intervalUs,
      options.cpu ?? -1,
      options.priority ?? 0,
      native.addressOf(slot),
    );
    if (ret < 0) throw XBufError.fromErrno(ret, "latmus start");
    return new UserLatmus(native, Number(slot[0]));
  }

  get stopped(): boolean {
    return this.#last !== null;
  }

  /** Current counters (the final ones once stopped). */
  info(): LatmusInfo {
    if (this.#last) return this.#last;
    const ret = this.#native.lib.xbuf_latmus_info(this.#handle, this.#native.addressOf(this.#raw));
    if (ret < 0) throw XBufError.fromErrno(ret, "latmus info");
    return this.#decode();
  }

  /**
   * Stop the sampler thread (waits for its current sleep: at most one
   * period), release the driver reference. No record is written after
   * this returns. Idempotent; returns the final counters.
   */
  stop(): LatmusInfo {
    if (this.#last) return this.#last;
    const ret = this.#native.lib.xbuf_latmus_stop(this.#handle, this.#native.addressOf(this.#raw));
    if (ret < 0) throw XBufError.fromErrno(ret, "latmus stop");
    this.#last = this.#decode();
    return this.#last;
  }

  #decode(): LatmusInfo {
    const r = this.#raw;
    const i = this.#i32;
    return {
      records: Number(r[0]),
      dropped: Number(r[1]),
      samples: Number(r[2]),
      overruns: Number(r[3]),
      periodUs: this.#u32[8]!,
      intervalUs: this.#u32[9]!,
      policy: i[10]!,
      priority: i[11]!,
      cpu: i[12]!,
      error: i[13]!,
      running: i[14] !== 0,
    };
  }
}
