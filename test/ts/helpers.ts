/**
 * Test helpers: the C driver side in this process (evl_* through bun:ffi),
 * the peer process, and the byte pattern the C tests use.
 */
import { dlopen, ptr, FFIType } from "bun:ffi";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { libraryPath } from "../../src/index.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const PEER = `${ROOT}zig-out/bin/xbuf_peer`;
export const O_NONBLOCK = 0o4000;

/** EVL's driver API from the same libxbuf.so the binding uses (one fd table). */
const { symbols: drv } = dlopen(libraryPath(), {
  evl_get_xbuf: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.ptr },
  evl_put_xbuf: { args: [FFIType.ptr], returns: FFIType.void },
  evl_read_xbuf: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64_fast },
  evl_write_xbuf: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64_fast },
});

/** A driver-side reference to an element, as a C driver would hold it. */
export class Driver {
  #xbuf: number;
  #slot = new BigUint64Array(1);

  constructor(fd: number) {
    const xbuf = drv.evl_get_xbuf(fd, ptr(this.#slot));
    if (!xbuf) throw new Error(`evl_get_xbuf(${fd}) failed`);
    this.#xbuf = xbuf as number;
  }

  /** evl_write_xbuf: bytes written or -errno. */
  write(bytes: Uint8Array, flags = 0): number {
    return drv.evl_write_xbuf(this.#xbuf as never, ptr(bytes), bytes.length, flags) as number;
  }

  /** evl_read_xbuf into a new buffer of `n` bytes: the bytes read, or -errno. */
  read(n: number, flags = 0): Uint8Array | number {
    const buf = new Uint8Array(n);
    const got = drv.evl_read_xbuf(this.#xbuf as never, ptr(buf), n, flags) as number;
    return got < 0 ? got : buf.subarray(0, got);
  }

  put(): void {
    drv.evl_put_xbuf(Number(this.#slot[0]) as never);
  }
}

/**
 * The test pattern (test/c/test.h, tools/c/xbuf_peer.c): the byte at stream
 * offset i is the top byte of i * 0x9E3779B97F4A7C15 mod 2^64. A cursor
 * walks it sequentially with 32-bit halves, no BigInt per byte.
 */
export class Pattern {
  static readonly K = 0x9e3779b97f4a7c15n;
  #lo: number;
  #hi: number;
  offset: number;

  constructor(offset = 0) {
    const acc = (BigInt(offset) * Pattern.K) & 0xffffffffffffffffn;
    this.#lo = Number(acc & 0xffffffffn);
    this.#hi = Number(acc >> 32n);
    this.offset = offset;
  }

  /** Index of the first byte of `view` that breaks the pattern, or -1; advances past `view`. */
  check(view: Uint8Array): number {
    let lo = this.#lo;
    let hi = this.#hi;
    for (let k = 0; k < view.length; k++) {
      if (view[k] !== hi >>> 24) return k;
      lo += 0x7f4a7c15;
      hi = (hi + 0x9e3779b9 + (lo >= 4294967296 ? 1 : 0)) >>> 0;
      lo >>>= 0;
    }
    this.#lo = lo;
    this.#hi = hi;
    this.offset += view.length;
    return -1;
  }

  /** The next n bytes of the pattern; advances. */
  take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let lo = this.#lo;
    let hi = this.#hi;
    for (let k = 0; k < n; k++) {
      out[k] = hi >>> 24;
      lo += 0x7f4a7c15;
      hi = (hi + 0x9e3779b9 + (lo >= 4294967296 ? 1 : 0)) >>> 0;
      lo >>>= 0;
    }
    this.#lo = lo;
    this.#hi = hi;
    this.offset += n;
    return out;
  }
}

export function uniqueName(what: string): string {
  return `ts-${what}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

export function spawnPeer(args: string[]): ReturnType<typeof Bun.spawn> {
  return Bun.spawn([PEER, ...args], { stdout: "pipe", stderr: "pipe" });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What test/c/dump_layout.c prints: sizeof/offsetof of the structs the binding reads, the reserved names. */
export interface CFacts {
  structs: Record<string, { size: number; offsets: Record<string, number> }>;
  reserved_names: string[];
}

/** The C compiler's facts (zig-out/bin/dump_layout, built by `zig build` with the tests). */
export function cFacts(): CFacts {
  const dump = `${ROOT}zig-out/bin/dump_layout`;
  if (!existsSync(dump)) throw new Error(`${dump} is missing: run tools/zig build`);
  const run = Bun.spawnSync([dump], { stdout: "pipe", stderr: "pipe" });
  if (run.exitCode !== 0) throw new Error(`dump_layout failed: ${run.stderr.toString()}`);
  return JSON.parse(run.stdout.toString()) as CFacts;
}
