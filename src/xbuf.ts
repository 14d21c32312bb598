/**
 * class XBuf: one cross-buffer, seen from the application (in-band) side.
 *
 * The rings are mapped once per process; each ring is one long-lived
 * Uint8Array over its double mapping, and every view handed out is a
 * subarray of it: no copy, and a range up to the ring's size never splits
 * at the wrap. Positions move in TypeScript over the mapping (src/fast.ts:
 * fill, room, borrow, commit, readiness, with Atomics and the protocol of
 * docs/ABI.md); C is called only to sleep and to wake a sleeping peer.
 *
 * Waiting never blocks the event loop: an armed wait runs on a helper
 * thread of libxbuf, which writes one byte into a pipe that the runtime
 * reads asynchronously. A pending read of that pipe is what keeps the
 * process alive while a read or write waits, and only then.
 */
import { check, XBufError } from "./errors.ts";
import { C } from "./ffi/symbols.ts";
import { getNative } from "./ffi/index.ts";
import type { Native, NativeLib } from "./ffi/native.ts";
import { FastEnd } from "./fast.ts";
import { SHM_INFO_RING, XbufRings, XbufRingStat, XbufShmEndpoint, XbufShmInfo, XbufShmRingInfo, XbufStat } from "./layout.ts";
import { RecordBatch, type FieldType, type RecordLayout } from "./records.ts";
import { Steps, WAIT, type StepSource } from "./steps.ts";
import { turn } from "./turn.ts";

/**
 * Before an async wait sleeps, it polls the ring for this long: a sleep and
 * its wake-up cost about 60 µs here (helper thread, pipe, event loop), so a
 * peer that answers sooner is caught without either.
 */
const DEFAULT_SPIN_US = 50;

/**
 * The 32-bit words of a caller's buffer, for copying small aligned messages a
 * word at a time: made only for the buffer the last call had too (a loop reuses
 * its buffer), so a buffer used once allocates nothing.
 */
class LastWords {
  #buf: Uint8Array | null = null;
  #words: Uint32Array | null = null;

  /** buf's words if the last call had buf too; else null, and buf is remembered. */
  of(buf: Uint8Array): Uint32Array | null {
    if (this.#buf !== buf) {
      this.#buf = buf;
      this.#words = null;
      return null;
    }
    return (this.#words ??= new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2));
  }
}

/** One ring as this process maps it. */
interface Ring {
  /** Address of the first copy of the data area. */
  readonly base: number;
  readonly capacity: number;
  /** Power of two >= capacity: positions wrap at it. */
  readonly dataSize: number;
  /** Both copies of the data area. */
  readonly bytes: Uint8Array;
  /** The same memory as 32-bit words: small aligned messages are copied a word at a time. */
  readonly words: Uint32Array;
  readonly view: DataView;
}

export interface CreateOptions {
  /** Capacity of the inbound ring (driver to application), bytes; 0 for none. */
  inbound: number;
  /** Capacity of the outbound ring (application to driver), bytes; 0 for none. */
  outbound: number;
  /** Element name; a leading '/' makes it public. */
  name?: string;
  /** Reachable by name from other processes (needs a name). */
  public?: boolean;
  /** O_NONBLOCK on the fd: readSync()/writeSync() without options do not block. */
  nonblock?: boolean;
  /** See XBuf.spinUs. */
  spinUs?: number;
  /** Who serves the element: "kernel" (xbuf.ko), "user" (shared memory), "auto" ($XBUF_BACKEND, default: the kernel when loaded). */
  backend?: Backend;
}

/** Backend of a cross-buffer: see CreateOptions.backend. */
export type Backend = "user" | "kernel" | "auto";

/** Creation/open flags for a backend choice. */
function backendFlags(backend: unknown): number {
  if (backend === undefined || backend === "auto") return 0;
  if (backend === "user") return C.XBUF_CLONE_USER;
  if (backend === "kernel") return C.XBUF_CLONE_KERNEL;
  throw new XBufError("EINVAL", `backend must be "user", "kernel" or "auto", got ${describe(backend)}`);
}

export interface RingLevels {
  inbound: { fill: number; size: number };
  outbound: { fill: number; size: number };
}

export interface RingStat {
  capacity: number;
  fill: number;
  produced: number;
  consumed: number;
  writes: number;
  reads: number;
  writeEagain: number;
  readEagain: number;
  producerWakeups: number;
  consumerWakeups: number;
  producerWaiters: number;
  consumerWaiters: number;
  producerPid: number;
  consumerPid: number;
}

interface Waiter {
  events: number;
  count: number;
  resolve(): void;
  reject(e: unknown): void;
}

/**
 * Unmaps a ring mapping once the XBuf and every view of it are garbage.
 * Views can outlive close(): they then read stale bytes, never unmapped memory.
 */
const mappings = new FinalizationRegistry<{ native: Native; hold: number }>(({ native, hold }) =>
  native.lib.xbuf_map_release(hold),
);

/** Each ring's ArrayBuffer to the object whose collection releases its mapping (`mappings`): an ephemeron, so the hold lives exactly as long as some buffer does. */
const keepers = new WeakMap<ArrayBufferLike, object>();

/**
 * Closes the fds of an XBuf that became garbage without close(): its end
 * of each ring is let go (the peer then sees EPIPE) and no fd leaks. A
 * pending read or write keeps its XBuf reachable, so none is cut short.
 */
const unclosed = new FinalizationRegistry<{ native: Native; files: { fd: number; notify: number } }>(
  ({ native, files }) => {
    native.lib.xbuf_close(files.fd);
    if (files.notify >= 0) native.closeFd(files.notify);
  },
);

function checkSize(what: string, v: unknown, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
    throw new XBufError("EINVAL", `${what} must be an integer from 0 to ${max}, got ${describe(v)}`);
  }
  return v;
}

function checkBytes(what: string, v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) {
    throw new XBufError("EINVAL", `${what} must be a Uint8Array, got ${describe(v)}`);
  }
  return v;
}

function describe(v: unknown): string {
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  return Object.prototype.toString.call(v);
}

/** Map page indices of the side pages (include/xbuf/abi.h). */
const XBUF_DRIVER_PAGE = 1;
const XBUF_APP_PAGE = 2;

function busy(what: string): XBufError {
  return new XBufError("EBUSY", `${what}: a zero-copy span of this end is still out (a view, batch or callback not done)`);
}

/**
 * The end of a record stream that stops inside a record: the producer let
 * go (or died) with `left` bytes, fewer than one record, in the ring. They
 * stay there, unconsumed (read(), tryRead() or drain() still get them).
 */
function partialRecord(what: string, left: number, size: number): XBufError {
  return new XBufError(
    "EPIPE",
    `${what}: the producer is gone and left ${left} bytes of a partial ${size}-byte record in the ring (not consumed)`,
  );
}

function tooBig(what: string, n: number, capacity: number): XBufError {
  return new XBufError("EINVAL", `${what}: ${n} bytes is more than the ring's capacity (${capacity})`);
}

/** libxbuf's process-local wake word (xbuf_wake_word()), one view per native library. */
const wakeWords = new WeakMap<Native, Uint32Array>();
function wakeWord(native: Native): Uint32Array {
  let w = wakeWords.get(native);
  if (!w) wakeWords.set(native, (w = new Uint32Array(native.foreignBuffer(native.lib.xbuf_wake_word(), 4))));
  return w;
}

function cString(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}

/**
 * A cross-buffer between this application and a driver (a C thread or
 * process using EVL's evl_read_xbuf()/evl_write_xbuf(), or the kernel).
 *
 * @example
 * ```ts
 * import { XBuf } from "xbuf";
 *
 * using xb = XBuf.create({ inbound: 1 << 20, outbound: 4096, name: "/sensors" });
 * // a driver process: xbuf_open("sensors"), evl_get_xbuf(), evl_write_xbuf()
 * for await (const view of xb) {
 *   consume(view); // zero-copy, valid until the next step
 * }
 * ```
 */
export class XBuf {
  #native: Native;
  #lib: NativeLib;
  #fd: number;
  #name: string;
  #backend: "user" | "kernel";
  #closed = false;
  #in: Ring | null;
  #out: Ring | null;
  /** The fast paths of the inbound consumer and outbound producer ends, made on first use. */
  #inFast: FastEnd | null = null;
  /** The words of tryReadInto()'s and of the small writes' (#putCopy()) last buffer. */
  #intoWords = new LastWords();
  #fromWords = new LastWords();
  #outFast: FastEnd | null = null;
  /** Map offsets of the side pages: the fast path's endpoint words. */
  #pages: { app: number; driver: number };
  /** The fd was made O_NONBLOCK (CreateOptions.nonblock). */
  #fdNonblock = false;
  #batches = new Map<RecordLayout<Record<string, FieldType>>, RecordBatch<Record<string, FieldType>>>();
  /** The fds this object owns; shared with `unclosed`, so it must not point back at us. */
  #files = { fd: -1, notify: -1 };
  #armed = false;
  #spinUs = DEFAULT_SPIN_US;
  #waiters: Waiter[] = [];
  /**
   * The mapping's hold and what keeps it (the ring buffers point at
   * `keeper`), and whether memory of the mapping was handed out (a view,
   * a batch, a produce callback's view): if not, close() unmaps at once,
   * so the element (and its name: held while any fd or mapping lives)
   * goes with the fd, not at the next garbage collection.
   */
  #hold: { keeper: object; hold: number };
  #exposed = false;

  private constructor(native: Native, fd: number) {
    this.#native = native;
    this.#lib = native.lib;
    this.#fd = fd;
    const base = this.#lib.xbuf_map_base(fd);
    const hold = this.#lib.xbuf_map_hold(fd);
    if (!base || !hold) throw new XBufError("EBADF", `fd ${fd} is not a cross-buffer`);
    const infoView = new DataView(native.foreignBuffer(base, XbufShmInfo.size));
    const page = XbufShmInfo.cursor(infoView).page_size;
    this.#pages = { app: base + XBUF_APP_PAGE * page, driver: base + XBUF_DRIVER_PAGE * page };
    const info = XbufShmRingInfo.cursor(infoView);
    this.#in = this.#mapRing(base, info, 0);
    this.#out = this.#mapRing(base, info, 1);
    this.#name = native.cString(this.#lib.xbuf_name(fd));
    this.#backend = this.#lib.xbuf_backend(fd) === C.XBUF_BACKEND_KERNEL ? "kernel" : "user";
    // The ring buffers keep the hold alive: see `mappings`. Through a WeakMap, not a
    // property of the buffers: an ArrayBuffer given a property of its own makes
    // JSC's typed-array loads over it ~2.5x slower (measured: records decode).
    const keeper = {};
    for (const ring of [this.#in, this.#out]) if (ring) keepers.set(ring.bytes.buffer, keeper);
    mappings.register(keeper, { native, hold }, keeper);
    this.#hold = { keeper, hold };
    this.#files.fd = fd;
    unclosed.register(this, { native, files: this.#files }, this);
  }

  /** Ring `index` (XBUF_INBOUND, XBUF_OUTBOUND) as the info page describes it; null if it has none. */
  #mapRing(base: number, info: ReturnType<typeof XbufShmRingInfo.cursor>, index: 0 | 1): Ring | null {
    info.offset = SHM_INFO_RING[index];
    const { capacity, data_size: dataSize, data_map_off: mapOff } = info;
    if (!dataSize) return null;
    const buffer = this.#native.foreignBuffer(base + mapOff, 2 * dataSize);
    return { base: base + mapOff, capacity, dataSize, bytes: new Uint8Array(buffer), words: new Uint32Array(buffer), view: new DataView(buffer) };
  }

  /**
   * Create a cross-buffer (libevl's evl_create_xbuf()).
   *
   * @example
   * ```ts
   * const xb = XBuf.create({ inbound: 65536, outbound: 0, name: "/telemetry" });
   * ```
   */
  static create(options: CreateOptions): XBuf {
    if (typeof options !== "object" || options === null) {
      throw new XBufError("EINVAL", `options must be an object, got ${describe(options)}`);
    }
    const inbound = checkSize("inbound", options.inbound, C.XBUF_MAX_RING_SIZE);
    const outbound = checkSize("outbound", options.outbound, C.XBUF_MAX_RING_SIZE);
    if (!inbound && !outbound) throw new XBufError("EINVAL", "inbound and outbound cannot both be 0");
    const name = options.name ?? "";
    if (typeof name !== "string") throw new XBufError("EINVAL", `name must be a string, got ${describe(name)}`);
    if (options.public && !name.replace(/^\//, "")) throw new XBufError("EINVAL", "a public cross-buffer needs a name");
    const native = getNative();
    const flags =
      (options.public ? C.XBUF_CLONE_PUBLIC : 0) | (options.nonblock ? C.XBUF_CLONE_NONBLOCK : 0) | backendFlags(options.backend);
    const fmt = cString(name.replaceAll("%", "%%"));
    const fd = check(native.lib.xbuf_create(inbound, outbound, flags, native.addressOf(fmt)), `create ${JSON.stringify(name)}`);
    const xb = new XBuf(native, fd);
    xb.#fdNonblock = !!options.nonblock;
    if (options.spinUs !== undefined) xb.spinUs = options.spinUs;
    return xb;
  }

  /**
   * Open a public cross-buffer by name ("name" or "/name").
   *
   * @example
   * ```ts
   * const xb = XBuf.open("telemetry");
   * ```
   */
  static open(name: string, options: { nonblock?: boolean; backend?: Backend; spinUs?: number } = {}): XBuf {
    if (typeof name !== "string" || !name) throw new XBufError("EINVAL", `name must be a non-empty string, got ${describe(name)}`);
    const flags = (options.nonblock ? C.XBUF_CLONE_NONBLOCK : 0) | backendFlags(options.backend);
    const native = getNative();
    const cname = cString(name);
    const fd = check(native.lib.xbuf_open(native.addressOf(cname), flags), `open ${JSON.stringify(name)}`);
    const xb = new XBuf(native, fd);
    xb.#fdNonblock = !!options.nonblock;
    if (options.spinUs !== undefined) xb.spinUs = options.spinUs;
    return xb;
  }

  /** The element's file descriptor (pass it to a driver, as EVL applications do). */
  get fd(): number {
    return this.#fd;
  }

  /** The element's name without '/', "" if unnamed. */
  get name(): string {
    return this.#name;
  }

  /** Who serves the element: "kernel" (xbuf.ko) or "user" (shared memory). */
  get backend(): "user" | "kernel" {
    return this.#backend;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * How long an async wait polls the ring before it sleeps, in µs (default
   * 50; 0: sleep at once). It holds the event loop at most that long per
   * wait, and an idle ring costs that much CPU once, not continuously.
   */
  get spinUs(): number {
    return this.#spinUs;
  }

  set spinUs(us: number) {
    this.#spinUs = checkSize("spinUs", us, 1_000_000);
  }

  #check(): void {
    if (this.#closed) throw new XBufError("EBADF", "the cross-buffer is closed");
  }

  #ring(which: "inbound" | "outbound"): Ring {
    this.#check();
    const ring = which === "inbound" ? this.#in : this.#out;
    if (!ring) throw new XBufError("ENOBUFS", `no ${which} ring (created with size 0)`);
    return ring;
  }

  /**
   * The fast path of one application end (src/fast.ts), made on first
   * use: xbuf_fast_claim() takes the end for this fd (EBUSY if another fd
   * of the process, a C thread's borrow or another process holds it), and
   * from then on C's borrowing calls on it answer EBUSY.
   */
  #fast(which: "inbound" | "outbound"): FastEnd {
    const inbound = which === "inbound";
    const have = inbound ? this.#inFast : this.#outFast;
    if (have) {
      if (this.#closed) this.#check();
      return have;
    }
    const ring = this.#ring(which);
    const events = inbound ? C.XBUF_POLLIN : C.XBUF_POLLOUT;
    check(this.#lib.xbuf_fast_claim(this.#fd, events), inbound ? "read" : "write");
    const lib = this.#lib;
    const fd = this.#fd;
    // App page: prod (outbound) at 0, cons (inbound) at one endpoint; the driver page likewise.
    const ep = XbufShmEndpoint.size;
    const selfAt = this.#pages.app + (inbound ? ep : 0);
    const peerAt = this.#pages.driver + (inbound ? 0 : ep);
    const words = (at: number) => new Uint32Array(this.#native.foreignBuffer(at, ep));
    const end = new FastEnd(words(selfAt), words(peerAt), wakeWord(this.#native), ring.capacity, ring.dataSize, inbound, {
      wake: () => void lib.xbuf_wake(fd, events),
      peerGone: () => lib.xbuf_peer_gone(fd, events),
    });
    if (inbound) this.#inFast = end;
    else this.#outFast = end;
    return end;
  }

  /**
   * Read exactly n bytes (fewer only while a driver writer is blocked for
   * room, as in EVL, or when the producer went: the bytes it left, then
   * EPIPE on the next read), waiting without blocking the event loop.
   * Returns a copy: use the async iterator for zero-copy views.
   *
   * @example
   * ```ts
   * const header = await xb.read(16);
   * ```
   */
  async read(n: number): Promise<Uint8Array> {
    const due = turn(); // a loop of calls that never wait still lets the event loop turn (src/turn.ts)
    if (due) await due;
    const ring = this.#ring("inbound");
    const count = checkSize("n", n, C.XBUF_MAX_RING_SIZE);
    if (!count) return new Uint8Array(0);
    if (count > ring.capacity) throw tooBig("read", count, ring.capacity);
    const end = this.#fast("inbound");
    for (;;) {
      if (end.borrowed) throw busy("read");
      const got = end.settle(count, false);
      if (got > 0) return this.#takeCopy(ring, end, got);
      if (got < 0) throw XBufError.fromErrno(got, "read");
      await this.#wait(C.XBUF_POLLIN, count);
      this.#check(); // closed meanwhile: the mapping may be gone (close() unmaps when nothing was handed out)
    }
  }

  /**
   * Read synchronously. With `nonblock`, returns what is there (up to n)
   * or throws EAGAIN; without, follows the fd's O_NONBLOCK and may block
   * the thread until n bytes arrive.
   *
   * @example
   * ```ts
   * try { process(xb.readSync(4096, { nonblock: true })); } catch (e) { if (e.code !== "EAGAIN") throw e; }
   * ```
   */
  readSync(n: number, options: { nonblock?: boolean } = {}): Uint8Array {
    const ring = this.#ring("inbound");
    const count = checkSize("n", n, Number.MAX_SAFE_INTEGER);
    if (!count) return new Uint8Array(0);
    const nonblock = options.nonblock || this.#fdNonblock;
    if (!nonblock && count > ring.capacity) throw tooBig("readSync", count, ring.capacity);
    const end = this.#fast("inbound");
    for (;;) {
      if (end.borrowed) throw busy("readSync");
      const got = end.settle(count, nonblock);
      if (got > 0) return this.#takeCopy(ring, end, got);
      if (got < 0) throw XBufError.fromErrno(got, "readSync");
      if (nonblock) {
        end.countEagain();
        throw XBufError.fromErrno(-C.EAGAIN, "readSync");
      }
      // Sleep in C until a blocking read would complete (the short-read rule included), then look again.
      const r = this.#lib.xbuf_poll(this.#fd, C.XBUF_POLLIN, count, -1);
      if (r < 0 && r !== -C.EPIPE) check(r, "readSync");
    }
  }

  /**
   * Read up to n bytes if there are any, without waiting or throwing:
   * null when the ring is empty (the non-blocking read's EAGAIN). For
   * busy-polling loops, where an exception per empty poll would cost more
   * than the poll. No FFI call: see tryReadInto() to copy into a buffer
   * of yours without allocating.
   *
   * @example
   * ```ts
   * let msg;
   * while (!(msg = xb.tryRead(64)));
   * ```
   */
  tryRead(n: number): Uint8Array | null {
    const end = this.#inFast ?? this.#fast("inbound");
    if (this.#closed) this.#check();
    const count = checkSize("n", n, Number.MAX_SAFE_INTEGER);
    if (!count) return new Uint8Array(0);
    if (end.borrowed) throw busy("tryRead");
    const got = end.settle(count, true);
    if (got === 0) {
      end.countEagain();
      return null;
    }
    if (got < 0) throw XBufError.fromErrno(got, "tryRead");
    return this.#takeCopy(this.#in!, end, got);
  }

  /**
   * Copy up to buf.length bytes that are there into buf, without waiting:
   * the count copied, 0 when the ring is empty. Allocates nothing.
   *
   * @example
   * ```ts
   * const msg = new Uint8Array(32);
   * while (xb.tryReadInto(msg) === 0);
   * ```
   */
  tryReadInto(buf: Uint8Array): number {
    const end = this.#inFast ?? this.#fast("inbound");
    if (this.#closed) this.#check();
    if (!(buf instanceof Uint8Array)) checkBytes("buf", buf);
    const count = buf.length;
    if (!count) return 0;
    if (end.borrowed) throw busy("tryReadInto");
    const got = end.settle(count, true);
    if (got === 0) {
      end.countEagain();
      return 0;
    }
    if (got < 0) throw XBufError.fromErrno(got, "tryReadInto");
    const off = end.offset();
    const ring = this.#in!;
    const words = got <= 64 && ((off | got | buf.byteOffset) & 3) === 0 ? this.#intoWords.of(buf) : null;
    if (got > 64) buf.set(ring.bytes.subarray(off, off + got));
    else if (words) {
      const from = ring.words, at = off >>> 2, n = got >>> 2; // aligned: a word at a time
      for (let i = 0; i < n; i++) words[i] = from[at + i]!;
    } else {
      const bytes = ring.bytes;
      for (let i = 0; i < got; i++) buf[i] = bytes[off + i]!; // no subarray object for a small message
    }
    end.commit(got);
    return got;
  }

  #takeCopy(ring: Ring, end: FastEnd, got: number): Uint8Array {
    const off = end.offset();
    const copy = ring.bytes.slice(off, off + got);
    end.commit(got); // C2: the bytes are copied
    return copy;
  }

  /**
   * Write all of `bytes` (atomically: a reader never sees part of it
   * before the rest), waiting for room without blocking the event loop.
   *
   * @example
   * ```ts
   * await xb.write(new TextEncoder().encode("start"));
   * ```
   */
  async write(bytes: Uint8Array): Promise<number> {
    const due = turn(); // a loop of calls that never wait still lets the event loop turn (src/turn.ts)
    if (due) await due;
    const ring = this.#ring("outbound");
    checkBytes("bytes", bytes);
    const n = bytes.length;
    if (!n) return 0;
    if (n > ring.capacity) throw tooBig("write", n, ring.capacity);
    const end = this.#fast("outbound");
    for (;;) {
      if (end.borrowed) throw busy("write");
      const got = end.settle(n, false);
      if (got > 0) return this.#putCopy(ring, end, bytes);
      if (got < 0) throw XBufError.fromErrno(got, "write");
      await this.#wait(C.XBUF_POLLOUT, n);
      this.#check(); // closed meanwhile: the mapping may be gone (close() unmaps when nothing was handed out)
    }
  }

  /**
   * Write all of `bytes` now, or nothing: returns false when the ring has
   * no room for all of it (EAGAIN). No FFI call unless the reader sleeps.
   *
   * @example
   * ```ts
   * if (!xb.tryWrite(msg)) queue.push(msg);
   * ```
   */
  tryWrite(bytes: Uint8Array): boolean {
    const end = this.#outFast ?? this.#fast("outbound");
    if (this.#closed) this.#check();
    if (!(bytes instanceof Uint8Array)) checkBytes("bytes", bytes);
    const n = bytes.length;
    if (!n) return true;
    if (n > end.capacity) throw tooBig("tryWrite", n, end.capacity);
    if (end.borrowed) throw busy("tryWrite");
    const got = end.settle(n, true);
    if (got === 0) {
      end.countEagain();
      return false;
    }
    if (got < 0) throw XBufError.fromErrno(got, "tryWrite");
    this.#putCopy(this.#out!, end, bytes);
    return true;
  }

  #putCopy(ring: Ring, end: FastEnd, bytes: Uint8Array): number {
    const off = end.offset(), n = bytes.length; // P2 happened in settle(): the room is ours
    const words = n <= 64 && ((off | n | bytes.byteOffset) & 3) === 0 ? this.#fromWords.of(bytes) : null;
    if (words) {
      const to = ring.words, at = off >>> 2, w = n >>> 2; // a small aligned message a word at a time
      for (let i = 0; i < w; i++) to[at + i] = words[i]!;
    } else ring.bytes.set(bytes, off);
    end.commit(n); // P1: the bytes are in
    return n;
  }

  /**
   * Fill n bytes in place in the outbound ring and publish them: `fill`
   * gets a zero-copy view to write into (valid only during the call).
   *
   * @example
   * ```ts
   * await xb.produce(8, (v) => new DataView(v.buffer, v.byteOffset).setFloat64(0, Math.PI, true));
   * ```
   */
  async produce(n: number, fill: (view: Uint8Array) => void): Promise<void> {
    const due = turn(); // a loop of calls that never wait still lets the event loop turn (src/turn.ts)
    if (due) await due;
    const ring = this.#ring("outbound");
    this.#exposed = true;
    const count = checkSize("n", n, ring.capacity);
    if (!count) return;
    const end = this.#fast("outbound");
    for (;;) {
      if (end.borrowed) throw busy("produce");
      const got = end.settle(count, false);
      if (got < 0) throw XBufError.fromErrno(got, "produce");
      if (got === 0) {
        await this.#wait(C.XBUF_POLLOUT, count);
        continue;
      }
      const off = end.offset();
      end.borrowed = true;
      try {
        fill(ring.bytes.subarray(off, off + count)); // a throw publishes nothing
      } finally {
        end.borrowed = false;
      }
      if (this.#closed) return;
      end.commit(count);
      return;
    }
  }

  /** Zero-copy views over the inbound bytes, as they arrive; see `views()`. */
  [Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    return this.views();
  }

  /**
   * Zero-copy views over whatever inbound bytes are there, at most `max`
   * per step (default: the ring's capacity). A view is consumed, and its
   * bytes may be overwritten, when the loop takes its next step or ends.
   * All views are subarrays of one long-lived mapping: no copy, no
   * allocation beyond the view object (and the async iteration's own: see
   * drain() for none at all). The iteration ends when the producer has let
   * go of the ring (or died: EPIPE) and its bytes are read.
   *
   * @example
   * ```ts
   * let total = 0;
   * for await (const view of xb.views()) {
   *   total += view.length;
   *   if (total >= 1 << 30) break;
   * }
   * ```
   */
  views(options: { max?: number } = {}): AsyncGenerator<Uint8Array, void, undefined> {
    return new Steps<Uint8Array>(() => {
      const ring = this.#ring("inbound");
      this.#exposed = true;
      const max = checkSize("max", options.max ?? ring.capacity, Number.MAX_SAFE_INTEGER) || 1;
      const end = this.#fast("inbound");
      return this.#stepSource(end, 1, () => {
        if (end.borrowed) throw busy("views");
        for (;;) {
          const got = end.settle(max, true);
          if (got < 0) return null; // the producer is gone and everything it wrote was read
          if (got > 0) {
            const off = end.offset();
            end.borrowed = true;
            return { held: got, value: ring.bytes.subarray(off, off + got) };
          }
          end.countEagain();
          if (!this.#spin(C.XBUF_POLLIN, 1)) return WAIT;
        }
      });
    });
  }

  /**
   * The StepSource of an iterator over the inbound end: `take()` borrows the
   * next span (end.borrowed set, `held` bytes) and gives its value, or null
   * (the end) or WAIT (nothing there after the spin: sleep for `count`).
   * The span is consumed at the next step, or at the end of the loop;
   * once the XBuf is closed, nothing more is consumed and the iteration ends.
   */
  #stepSource<T>(end: FastEnd, count: number, take: () => { held: number; value: T } | null | typeof WAIT): StepSource<T> {
    let held = 0;
    let stop = false;
    return {
      release: () => {
        if (!held) return;
        const n = held;
        held = 0;
        end.borrowed = false;
        if (this.#closed) stop = true;
        else end.commit(n);
      },
      poll: () => {
        if (stop) return null;
        const got = take();
        if (got === null || got === WAIT) return got;
        held = got.held;
        return got.value;
      },
      wait: () => this.#waitUnlessGone(C.XBUF_POLLIN, count, false),
    };
  }

  /**
   * Synchronous, allocation-free consumption of what is there now: calls
   * `fn(bytes, start, end)` over the ring's one long-lived Uint8Array for
   * each contiguous span (at most `max` bytes each, default the capacity),
   * consumes each span when fn returns, and returns the bytes consumed (0:
   * the ring was empty). fn may return false to stop after that span.
   * Throws EPIPE once the producer is gone and nothing is left.
   *
   * @example
   * ```ts
   * let sum = 0;
   * xb.drain((b, start, end) => { for (let i = start; i < end; i++) sum += b[i]; });
   * ```
   */
  drain(fn: (bytes: Uint8Array, start: number, end: number) => unknown, options?: { max?: number }): number {
    const end = this.#inFast ?? this.#fast("inbound");
    if (this.#closed) this.#check();
    this.#exposed = true;
    const max = options?.max ?? end.capacity;
    const bytes = this.#in!.bytes;
    if (end.borrowed) throw busy("drain");
    let total = 0;
    for (;;) {
      const got = end.settle(max, true);
      if (got <= 0) {
        if (got < 0 && total === 0) throw XBufError.fromErrno(got, "drain");
        if (total === 0) end.countEagain();
        return total;
      }
      const off = end.offset();
      let more: unknown;
      end.borrowed = true;
      try {
        more = fn(bytes, off, off + got);
      } finally {
        end.borrowed = false;
      }
      if (this.#closed) return total + got;
      end.commit(got);
      total += got;
      if (more === false) return total;
    }
  }

  /**
   * drain() for whole fixed-size records: `fn(batch)` gets the one
   * RecordBatch of this layout over the complete records there now;
   * they are consumed when fn returns. Returns the records consumed.
   * Once the producer is gone and no whole record is left, throws EPIPE
   * (its message names the bytes of a partial record left, if any).
   *
   * @example
   * ```ts
   * xb.drainRecords(Sample, (batch) => { for (let i = 0; i < batch.length; i++) sum += batch.at(i).value; });
   * ```
   */
  drainRecords<S extends Record<string, FieldType>>(layout: RecordLayout<S>, fn: (batch: RecordBatch<S>) => unknown): number {
    const end = this.#inFast ?? this.#fast("inbound");
    if (this.#closed) this.#check();
    this.#exposed = true;
    const size = layout.size;
    const batch = this.#batchOf(layout);
    const most = Math.floor(end.capacity / size) * size;
    if (!most) throw new XBufError("EINVAL", `a ${size}-byte record does not fit a ${end.capacity}-byte ring`);
    if (end.borrowed) throw busy("drainRecords");
    let records = 0;
    for (;;) {
      const got = end.settle(most, true);
      if (got < 0) {
        if (records === 0) throw XBufError.fromErrno(got, "drainRecords");
        return records;
      }
      const n = Math.floor(got / size);
      if (n === 0) {
        if (records !== 0) return records;
        // got > 0: a part of a record. It stays a part if the producer is gone.
        if (end.peerGone() && end.fill() < size) throw partialRecord("drainRecords", end.fill(), size);
        end.countEagain();
        return 0;
      }
      let more: unknown;
      end.borrowed = true;
      try {
        more = fn(batch.reset(end.offset(), n));
      } finally {
        end.borrowed = false;
      }
      if (this.#closed) return records + n;
      end.commit(n * size);
      records += n;
      if (more === false) return records;
    }
  }

  /** The one RecordBatch per layout over the inbound ring. */
  #batchOf<S extends Record<string, FieldType>>(layout: RecordLayout<S>): RecordBatch<S> {
    let batch = this.#batches.get(layout) as RecordBatch<S> | undefined;
    if (!batch) {
      batch = new RecordBatch(layout, this.#in!.view);
      this.#batches.set(layout, batch as never);
    }
    return batch;
  }

  /**
   * Batches of whole fixed-size records, read in place from the ring.
   * Each step yields the same RecordBatch object, over every complete
   * record available; records are consumed when the loop steps on.
   * Fields are read through accessors generated for the layout (typed
   * arrays at computed indices when the records are aligned).
   *
   * The iteration ends when the producer has let go (or died) and every
   * whole record it published was yielded. If it went in the middle of a
   * record, the next step throws XBufError EPIPE instead, saying how many
   * bytes of the partial record are left; they stay in the ring.
   *
   * @example
   * ```ts
   * const Sample = defineRecord({ t: "u64", value: "f64" });
   * for await (const batch of xb.recordBatches(Sample)) {
   *   for (let i = 0; i < batch.length; i++) sum += batch.at(i).value;
   * }
   * ```
   */
  recordBatches<S extends Record<string, FieldType>>(
    layout: RecordLayout<S>,
    options: { max?: number } = {},
  ): AsyncGenerator<RecordBatch<S>, void, undefined> {
    return new Steps<RecordBatch<S>>(() => {
      const ring = this.#ring("inbound");
      this.#exposed = true;
      const size = layout.size;
      if (size > ring.capacity) throw new XBufError("EINVAL", `a ${size}-byte record does not fit a ${ring.capacity}-byte ring`);
      const most = Math.max(1, Math.min(options.max ?? Infinity, Math.floor(ring.capacity / size))) * size;
      const end = this.#fast("inbound");
      const batch = this.#batchOf(layout);
      return this.#stepSource(end, size, () => {
        if (end.borrowed) throw busy("recordBatches");
        for (;;) {
          const got = end.settle(most, true);
          if (got < 0) return null;
          const records = (got / size) | 0;
          if (records) {
            end.borrowed = true;
            return { held: records * size, value: batch.reset(end.offset(), records) };
          }
          if (got === 0) end.countEagain();
          // A part of a record, and a producer gone: it never completes, and
          // readiness would answer "ready" for it forever (a busy loop).
          else if (end.peerGone()) {
            const left = end.fill();
            if (left < size) throw partialRecord("recordBatches", left, size);
            continue; // the rest came before it let go
          }
          // Empty, or a record still being written: wait for the rest of it.
          if (!this.#spin(C.XBUF_POLLIN, size)) return WAIT;
        }
      });
    });
  }

  /**
   * Fill levels and capacities (EVL's `rings` attribute).
   *
   * @example
   * ```ts
   * const { inbound } = xb.rings();
   * console.log(`${inbound.fill}/${inbound.size} bytes waiting`);
   * ```
   */
  rings(): RingLevels {
    this.#check();
    const out = new Uint8Array(XbufRings.size);
    check(this.#lib.xbuf_rings(this.#fd, this.#native.addressOf(out)), "rings");
    const r = XbufRings.cursor(new DataView(out.buffer));
    return { inbound: { fill: r.ifill, size: r.isize }, outbound: { fill: r.ofill, size: r.osize } };
  }

  /**
   * Counters of both directions, as both ends keep them in shared memory.
   *
   * @example
   * ```ts
   * const { inbound } = xb.stat();
   * console.log(inbound.produced, inbound.readEagain, inbound.producerWakeups);
   * ```
   */
  stat(): { inbound: RingStat; outbound: RingStat } {
    this.#check();
    const raw = new Uint8Array(XbufStat.size);
    check(this.#lib.xbuf_stat(this.#fd, this.#native.addressOf(raw)), "stat");
    const c = XbufRingStat.cursor(new DataView(raw.buffer));
    const ring = (at: number): RingStat => {
      c.offset = at;
      return {
        capacity: c.capacity,
        fill: c.fill,
        produced: c.produced,
        consumed: c.consumed,
        writes: c.writes,
        reads: c.reads,
        writeEagain: c.write_eagain,
        readEagain: c.read_eagain,
        producerWakeups: c.producer_wakeups,
        consumerWakeups: c.consumer_wakeups,
        producerWaiters: c.producer_waiters,
        consumerWaiters: c.consumer_waiters,
        producerPid: c.producer_pid,
        consumerPid: c.consumer_pid,
      };
    };
    return { inbound: ring(XbufStat.offsets["inbound.capacity"]), outbound: ring(XbufStat.offsets["outbound.capacity"]) };
  }

  /**
   * Close the fd. Pending reads and writes reject with EBADF. Views handed
   * out earlier stay readable memory (the mapping lives until they are
   * garbage) but no longer belong to the ring. Closing twice is a no-op.
   */
  close(): void {
    if (this.#closed) return;
    // A view still held is not consumed: the fast path's ends go back to C with the fd.
    this.#closed = true;
    unclosed.unregister(this);
    this.#lib.xbuf_close(this.#fd);
    if (!this.#exposed) {
      // Nothing outside holds memory of the mapping, and nothing inside touches it once closed.
      mappings.unregister(this.#hold.keeper);
      this.#lib.xbuf_map_release(this.#hold.hold);
    }
    // The helper thread answers an armed wait with EBADF, then end-of-file;
    // the notify fd is closed by #pump once that read settles.
    if (this.#files.notify >= 0 && !this.#armed) {
      this.#native.closeFd(this.#files.notify);
      this.#files.notify = -1;
    }
    const waiters = this.#waiters.splice(0);
    for (const w of waiters) w.reject(new XBufError("EBADF", "the cross-buffer was closed"));
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** #wait(), but false instead of EPIPE: the end of a stream, for iterators. */
  async #waitUnlessGone(events: number, count: number, spin = true): Promise<boolean> {
    try {
      await this.#wait(events, count, spin);
      return true;
    } catch (e) {
      if (e instanceof XBufError && e.code === "EPIPE") return false;
      throw e;
    }
  }

  /** Resolve when a blocking read (POLLIN) or write (POLLOUT) of count bytes would complete. */
  #wait(events: number, count: number, spin = true): Promise<void> {
    if (spin && this.#spin(events, count)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ events, count, resolve, reject });
      this.#pump();
    });
  }

  /** Poll readiness for up to spinUs µs, in TypeScript over the mapping (no FFI call, no counters). */
  #spin(events: number, count: number): boolean {
    if (!this.#spinUs || this.#waiters.length) return false;
    const end = events === C.XBUF_POLLIN ? this.#inFast : events === C.XBUF_POLLOUT ? this.#outFast : null;
    if (!end) return false;
    const deadline = performance.now() + this.#spinUs / 1000;
    do {
      for (let i = 0; i < 64; i++) if (end.settle(count, false) !== 0) return true;
    } while (performance.now() < deadline);
    return false;
  }

  /** Arm one wait for all waiters, and settle them when the helper thread answers. */
  #pump(): void {
    if (this.#armed || this.#closed || !this.#waiters.length) return;
    let events = 0;
    let count = Infinity;
    for (const w of this.#waiters) {
      events |= w.events;
      count = Math.min(count, w.count);
    }
    if (events === (C.XBUF_POLLIN | C.XBUF_POLLOUT)) count = 1; // any progress: each waiter re-checks its own
    let ready: number;
    try {
      if (this.#files.notify < 0) this.#files.notify = check(this.#lib.xbuf_notify_fd(this.#fd), "notify");
      ready = check(this.#lib.xbuf_arm(this.#fd, events, count), "wait");
    } catch (e) {
      return this.#settle(e as XBufError);
    }
    if (ready === 1) return this.#settle(null);
    this.#armed = true;
    this.#native.readByte(this.#files.notify).then(
      (byte) => {
        this.#armed = false;
        if (this.#closed) {
          this.#native.closeFd(this.#files.notify);
          this.#files.notify = -1;
          return;
        }
        this.#settle(byte === 0 ? null : XBufError.fromErrno(byte < 0 ? -9 : -byte, "wait"));
        this.#pump();
      },
      (err) => {
        this.#armed = false;
        this.#settle(new XBufError("EIO", `notification read failed: ${String(err)}`));
      },
    );
  }

  #settle(error: XBufError | null): void {
    const waiters = this.#waiters.splice(0);
    for (const w of waiters) (error ? w.reject(error) : w.resolve());
  }
}
