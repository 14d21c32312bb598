/**
 * The Deno adapter: Deno.dlopen for the calls; node:net over the notify
 * pipe for the one-byte notification reads. Only src/ffi/index.ts imports
 * it, and only under Deno (Bun has no `Deno` global).
 *
 * Addresses stay numbers at the seam (native.ts), as under Bun: the
 * binding does arithmetic on them and reads them out of BigUint64Array
 * slots. Here a C pointer is declared "usize" (on LP64 Linux a pointer and
 * a size_t travel in the same register), so no Deno.PointerValue object is
 * made per call: pointer and u64 arguments go in as BigInt(n), 64-bit and
 * pointer results come back as Number(n) (addresses are below 2^53).
 * Measured with Deno 2.9 (bench/deno-wait.ts, "calls"): a u64 passed as a
 * number falls off V8's fast call path (~86 ns a call against ~20 ns as a
 * bigint); a Deno.UnsafePointer.create() per call costs ~50 ns more than a
 * "usize" bigint. PointerValue objects appear only inside this file, for
 * the zero-copy views (UnsafePointerView.getArrayBuffer) and C strings.
 *
 * Waiting: the notify pipe (xbuf_notify_fd) is read by a node:net Socket
 * over its fd, one per cross-buffer, kept for the handle's life. Deno
 * reads it on its event loop (epoll), not on its blocking thread pool:
 * eight waiting cross-buffers hold no thread (Deno.open of
 * /proc/self/fd/N and a `nonblocking: true` FFI read each hold a pool
 * thread per pending read). The socket is ref'd exactly while a read is
 * pending, so a pending wait keeps the process alive and nothing else
 * does. See bench/deno-wait.ts for the measured alternatives.
 */
import { Socket } from "node:net";
import { symbols } from "./symbols.ts";
import { bindOnce, type Bound, type CType, type Native, type Signature, type SymbolTable } from "./native.ts";

/** The part of Deno's FFI this adapter uses (Deno's own types stay out of the Bun-typed build). */
type DenoType = "i32" | "u32" | "u64" | "i64" | "usize" | "void";
type Pointer = object | null;
interface DenoFFI {
  dlopen(path: string, symbols: Record<string, { parameters: readonly (DenoType | "buffer")[]; result: DenoType; name?: string }>): {
    symbols: Record<string, (...args: unknown[]) => unknown>;
  };
  UnsafePointer: {
    create(value: bigint): Pointer;
    of(value: ArrayBufferView): Pointer;
    value(p: Pointer): bigint | number;
  };
  UnsafePointerView: {
    new (p: object): { getBigUint64(offset?: number): bigint };
    getArrayBuffer(p: object, byteLength: number, offset?: number): ArrayBuffer;
    getCString(p: object, offset?: number): string;
  };
}

/** Deno's type for each C type of a table: a pointer is a "usize" (see above). */
const DENO_TYPE: Record<CType, DenoType> = { i32: "i32", u32: "u32", u64: "u64", i64_fast: "i64", ptr: "usize", void: "void" };
/** Arguments Deno wants as bigints, results it gives as bigints. */
const BIG = new Set<CType>(["u64", "i64_fast", "ptr"]);

/**
 * A wrapper with the binding's number conventions around one Deno symbol,
 * generated per signature: a straight call with fixed arity (a generic
 * wrapper with rest arguments and a map ran ~3x slower than this).
 */
function wrap(name: string, fn: (...args: unknown[]) => unknown, sig: Signature): (...args: number[]) => unknown {
  const params = sig.args.map((_, i) => `a${i}`);
  const args = sig.args.map((t, i) => (BIG.has(t) ? `BigInt(a${i})` : `a${i}`));
  const call = `fn(${args.join(", ")})`;
  const body = BIG.has(sig.returns) ? `return Number(${call});` : `return ${call};`;
  return new Function("fn", `return function ${name}(${params.join(", ")}) { ${body} };`)(fn) as (...args: number[]) => unknown;
}

/** libc calls, found through libxbuf.so's handle (dlsym searches its dependencies: no libc file name to guess). */
const LIBC = {
  close: { parameters: ["i32"], result: "i32" },
  dlopen: { parameters: ["buffer", "i32"], result: "usize" },
} as const;
/** <dlfcn.h>, the same in glibc and musl. */
const RTLD_NOW = 2;
const RTLD_NODELETE = 0x1000;

/** The notify pipe of one cross-buffer, read on Deno's event loop. */
class NotifyReader {
  #socket: Socket;
  #bytes: number[] = [];
  #waiting: { resolve(byte: number): void; reject(e: unknown): void }[] = [];
  #ended = false;
  #error: unknown = null;

  constructor(fd: number) {
    // allowHalfOpen: the socket never closes the fd by itself; closeFd() does, once.
    this.#socket = new Socket({ fd, readable: true, writable: false, allowHalfOpen: true });
    this.#socket.unref();
    this.#socket.on("data", (chunk: Uint8Array) => {
      for (const byte of chunk) {
        const w = this.#waiting.shift();
        if (w) w.resolve(byte);
        else this.#bytes.push(byte);
      }
      this.#idle();
    });
    this.#socket.on("end", () => this.#finish(null));
    this.#socket.on("error", (e: unknown) => this.#finish(e));
  }

  read(): Promise<number> {
    const byte = this.#bytes.shift();
    if (byte !== undefined) return Promise.resolve(byte);
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(-1);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#socket.ref(); // a pending wait keeps the process alive
    });
  }

  close(): void {
    this.#finish(null);
    this.#socket.destroy();
  }

  #finish(error: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    for (const w of this.#waiting.splice(0)) (error ? w.reject(error) : w.resolve(-1));
    this.#idle();
  }

  #idle(): void {
    if (!this.#waiting.length) this.#socket.unref();
  }
}

export function loadDeno(path: string): Native {
  const D = (globalThis as unknown as { Deno: DenoFFI }).Deno;
  const open = <T extends SymbolTable>(table: T): Bound<T> => {
    const defs: Record<string, { parameters: DenoType[]; result: DenoType }> = {};
    for (const [name, sig] of Object.entries(table)) {
      defs[name] = { parameters: sig.args.map((t) => DENO_TYPE[t]), result: DENO_TYPE[sig.returns] };
    }
    const raw = D.dlopen(path, defs).symbols;
    const lib: Record<string, unknown> = {};
    for (const [name, sig] of Object.entries(table)) lib[name] = wrap(name, raw[name]!, sig);
    return lib as Bound<T>;
  };
  const libc = D.dlopen(path, LIBC).symbols as { close(fd: number): number; dlopen(path: Uint8Array, flags: number): bigint };
  // Never unmap libxbuf: Deno closes a library when it tears down (and when
  // its object is collected), but libxbuf's own threads (the peer watcher,
  // notifiers, a latmus sampler) may still run its code then (measured: a
  // SIGSEGV at exit in about one run out of three). RTLD_NODELETE pins it
  // for the life of the process, as Bun does with every library.
  if (!libc.dlopen(new TextEncoder().encode(path + "\0"), RTLD_NOW | RTLD_NODELETE)) {
    throw new Error(`xbuf: dlopen(${path}, RTLD_NODELETE) failed`);
  }
  const pointer = (address: number): object => {
    const p = D.UnsafePointer.create(BigInt(address));
    if (!p) throw new Error("xbuf: NULL pointer");
    return p;
  };
  const readers = new Map<number, NotifyReader>();
  return {
    lib: open(symbols),
    bind: bindOnce(open),
    addressOf: (view) => Number(D.UnsafePointer.value(D.UnsafePointer.of(view))),
    readPointer: (address) => Number(new D.UnsafePointerView(pointer(address)).getBigUint64()),
    // No copy, no deleter: the memory stays libxbuf's, and the binding keeps it
    // mapped while any such buffer lives (xbuf_map_hold, xbuf.ts `mappings`).
    foreignBuffer: (address, length) => D.UnsafePointerView.getArrayBuffer(pointer(address), length),
    cString: (address) => (address ? D.UnsafePointerView.getCString(pointer(address)) : ""),
    readByte: (fd) => {
      let reader = readers.get(fd);
      if (!reader) readers.set(fd, (reader = new NotifyReader(fd)));
      return reader.read();
    },
    closeFd: (fd) => {
      const reader = readers.get(fd);
      if (reader) {
        readers.delete(fd);
        reader.close(); // closes the fd
      } else {
        libc.close(fd);
      }
    },
  };
}
