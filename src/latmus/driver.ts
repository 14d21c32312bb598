/**
 * The user-space latmus driver (csrc/latmus.c) through the FFI: a C
 * sampler thread writing records into an element's inbound ring.
 */
import { check } from "../errors.ts";
import { getNative } from "../ffi/index.ts";
import type { Bound, Native } from "../ffi/native.ts";
import { XbufLatmusInfo, XbufLatmusParams } from "../layout.ts";
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

/** xbuf/kernel.h: the sampler's context (EVL's --user, --irq, --kernel). */
export const CTX_USER = 0;
export const CTX_IRQ = 1;
export const CTX_KTHREAD = 2;
export type LatmusContext = "user" | "irq" | "kernel";
export const CONTEXT_CODE: Record<LatmusContext, number> = { user: CTX_USER, irq: CTX_IRQ, kernel: CTX_KTHREAD };

/** xbuf/kernel.h: histogram cells (1 µs each), EVL's -H. */
export const HCELLS_DEFAULT = 200;
export const HCELLS_MAX = 1000;
/** xbuf/kernel.h: the largest frame, which the ring must hold. */
export const FRAME_MAX = 8 + 8 + (HCELLS_MAX + 1) * 8;
/** xbuf/kernel.h: the longest table of the deterministic mode. */
export const FAKE_MAX = 4096;
/** setup/params flags: stream every raw sample. */
export const FLAG_SAMPLES = 0x1;

/** xbuf_latmus_run()'s parameters: a framed session. */
export interface LatmusRunOptions extends LatmusStartOptions {
  context: LatmusContext;
  /** 0: no histogram; 1..1000 cells of 1 µs. */
  hcells: number;
  /** Stream every raw sample (SAMPLES frames). */
  samples?: boolean;
  /** Stop (and finish) by itself after that many periods; 0: never. */
  periods?: number;
  /** Deterministic mode: sample i measures fake[i % fake.length] ns. */
  fake?: ArrayLike<number>;
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

  /**
   * A framed session (xbuf_latmus_run): INTERVAL, HIST, SAMPLES frames,
   * then END. The context picks the sampler: "user" needs a user-space
   * element, "irq" and "kernel" a kernel one (the module's).
   */
  static run(fd: number, options: LatmusRunOptions): UserLatmus {
    const native = getNative();
    const lib = native.bind(latmusSymbols);
    const raw = new Uint8Array(XbufLatmusParams.size);
    const dv = new DataView(raw.buffer);
    const at = XbufLatmusParams.offsets;
    const fake = options.fake ? Uint32Array.from(options.fake) : null;
    dv.setUint32(at.period_us, options.periodUs, true);
    dv.setUint32(at.interval_us, options.intervalUs, true);
    dv.setInt32(at.cpu, options.cpu ?? -1, true);
    dv.setInt32(at.priority, options.priority ?? 0, true);
    dv.setUint32(at.context, CONTEXT_CODE[options.context], true);
    dv.setUint32(at.hcells, options.hcells, true);
    dv.setUint32(at.flags, options.samples ? FLAG_SAMPLES : 0, true);
    dv.setUint32(at.fake_count, fake ? fake.length : 0, true);
    dv.setBigUint64(at.periods, BigInt(Math.max(0, Math.floor(options.periods ?? 0))), true);
    dv.setBigUint64(at.fake_ns, BigInt(fake && fake.length ? native.addressOf(fake) : 0), true);
    const slot = new BigUint64Array(1);
    // The library copies the table (user sampler) or the module does (SETUP): `fake` may go after this.
    check(lib.xbuf_latmus_run(fd, native.addressOf(raw), native.addressOf(slot)), "latmus run");
    return new UserLatmus(native, lib, Number(slot[0]));
  }

  /**
   * Stop sampling, send what is pending and END (waiting for room while
   * the reader drains), then end the sampler. Returns at once.
   */
  finish(): void {
    if (this.#last) return;
    check(this.#lib.xbuf_latmus_finish(this.#handle), "latmus finish");
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
