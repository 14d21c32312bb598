/**
 * Test helpers: the C driver side in this process (evl_* through the
 * binding's runtime adapter), processes (node:child_process, the same
 * under Bun and Deno), and the byte pattern the C tests use.
 */
import { spawn as spawnChild, spawnSync as spawnChildSync } from "node:child_process";
import { existsSync } from "node:fs";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { getNative, runtime } from "../../src/ffi/index.ts";
import type { SymbolTable } from "../../src/ffi/native.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const PEER = `${ROOT}zig-out/bin/xbuf_peer`;
export const O_NONBLOCK = 0o4000;

/** The runtime running the tests. */
export const RUNTIME = runtime;
export const IS_DENO = runtime === "deno";

/**
 * The command that runs a TypeScript file of this repository in this
 * runtime: `bun FILE` or `deno run -A FILE` (the permissions a user would
 * grant: FFI, files, environment, subprocesses).
 */
export function runTs(file: string, ...args: string[]): string[] {
  return IS_DENO ? [process.execPath, "run", "-A", file, ...args] : [process.execPath, file, ...args];
}

/** EVL's driver API, from the same libxbuf.so the binding uses (one fd table), bound by the same adapter. */
const driverSymbols = {
  // struct evl_xbuf *evl_get_xbuf(int efd, struct file **efilpp)
  evl_get_xbuf: { args: ["i32", "ptr"], returns: "ptr" },
  // void evl_put_xbuf(struct file *efilp)
  evl_put_xbuf: { args: ["ptr"], returns: "void" },
  // ssize_t evl_read_xbuf(struct evl_xbuf *xbuf, void *buf, size_t count, int f_flags)
  evl_read_xbuf: { args: ["ptr", "ptr", "u64", "i32"], returns: "i64_fast" },
  // ssize_t evl_write_xbuf(struct evl_xbuf *xbuf, const void *buf, size_t count, int f_flags)
  evl_write_xbuf: { args: ["ptr", "ptr", "u64", "i32"], returns: "i64_fast" },
  // int evl_shutdown_xbuf(struct evl_xbuf *xbuf)
  evl_shutdown_xbuf: { args: ["ptr"], returns: "i32" },
} as const satisfies SymbolTable;

/** A driver-side reference to an element, as a C driver would hold it. */
export class Driver {
  #xbuf: number;
  #slot = new BigUint64Array(1);
  #native = getNative();
  #drv = this.#native.bind(driverSymbols);

  constructor(fd: number) {
    const xbuf = this.#drv.evl_get_xbuf(fd, this.#native.addressOf(this.#slot));
    if (!xbuf) throw new Error(`evl_get_xbuf(${fd}) failed`);
    this.#xbuf = xbuf;
  }

  /** evl_write_xbuf: bytes written or -errno. */
  write(bytes: Uint8Array, flags = 0): number {
    return this.#drv.evl_write_xbuf(this.#xbuf, this.#native.addressOf(bytes), bytes.length, flags);
  }

  /** evl_read_xbuf into a new buffer of `n` bytes: the bytes read, or -errno. */
  read(n: number, flags = 0): Uint8Array | number {
    const buf = new Uint8Array(n);
    const got = this.#drv.evl_read_xbuf(this.#xbuf, this.#native.addressOf(buf), n, flags);
    return got < 0 ? got : buf.subarray(0, got);
  }

  put(): void {
    this.#drv.evl_put_xbuf(Number(this.#slot[0]));
  }

  /** evl_shutdown_xbuf: end the stream (the application drains, then EPIPE); 0 or -errno. */
  shutdown(): number {
    return this.#drv.evl_shutdown_xbuf(this.#xbuf);
  }
}

/** A child process, with the parts of Bun.spawn's Subprocess the tests use, over node:child_process. */
export interface Child {
  readonly pid: number;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  /** Its stdin, when spawned with `stdin: "pipe"`. */
  readonly stdin: { write(bytes: Uint8Array): void; end(): void };
  /** The exit code; 128 + the signal's number when a signal killed it. */
  readonly exited: Promise<number>;
  /** null while it runs. */
  readonly exitCode: number | null;
  /** The signal that killed it, null if it exited. */
  readonly signalCode: string | null;
  kill(signal?: "SIGINT" | "SIGKILL" | "SIGTERM"): void;
}

const SIGNALS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Start `cmd` with stdout and stderr piped; stdin "ignore" (default), "pipe", or bytes to feed it. */
export function spawn(cmd: string[], options: { stdin?: "ignore" | "pipe" | Uint8Array; env?: Record<string, string> } = {}): Child {
  const stdin = options.stdin ?? "ignore";
  const child = spawnChild(cmd[0]!, cmd.slice(1), {
    stdio: [stdin === "ignore" ? "ignore" : "pipe", "pipe", "pipe"],
    ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
  });
  let exitCode: number | null = null;
  let signalCode: string | null = null;
  const exited = new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      exitCode = code ?? 128 + (SIGNALS[signal ?? ""] ?? 0);
      signalCode = signal;
      resolve(exitCode);
    });
  });
  if (stdin instanceof Uint8Array) child.stdin!.end(stdin);
  const web = (s: Readable | null) => Readable.toWeb(s!) as unknown as ReadableStream<Uint8Array>;
  return {
    pid: child.pid!,
    stdout: web(child.stdout),
    stderr: web(child.stderr),
    stdin: { write: (bytes) => void child.stdin!.write(bytes), end: () => void child.stdin!.end() },
    exited,
    get exitCode() {
      return exitCode;
    },
    get signalCode() {
      return signalCode;
    },
    // process.kill, not child.kill: Deno's ChildProcess.kill() records the signal it sent as the
    // cause of death (exit event: null, "SIGINT") even when the child handled it and exited 130.
    kill: (signal = "SIGTERM") => {
      if (exitCode === null) process.kill(child.pid!, signal);
    },
  };
}

/** Run `cmd` to its end (or SIGKILL after timeoutMs: code 128): exit code, stdout and stderr as text. */
export function spawnSync(cmd: string[], options: { cwd?: string; timeoutMs?: number } = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnChildSync(cmd[0]!, cmd.slice(1), { cwd: options.cwd, encoding: "utf8", maxBuffer: 64 << 20, timeout: options.timeoutMs, killSignal: "SIGKILL" });
  if (r.error && !(options.timeoutMs && r.signal)) throw r.error;
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A full garbage collection, now: Bun.gc(true) under Bun; under Deno,
 * V8's gc() (the Deno suite runs with --v8-flags=--expose-gc).
 */
export function gc(): void {
  const bun = (globalThis as { Bun?: { gc(sync: boolean): void } }).Bun;
  if (bun) return bun.gc(true);
  const v8gc = (globalThis as { gc?: () => void }).gc;
  if (!v8gc) throw new Error("no gc(): run Deno with --v8-flags=--expose-gc");
  v8gc();
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

export function spawnPeer(args: string[]): Child {
  return spawn([PEER, ...args]);
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
  const run = spawnSync([dump]);
  if (run.code !== 0) throw new Error(`dump_layout failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as CFacts;
}
