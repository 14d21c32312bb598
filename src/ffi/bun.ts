/**
 * The Bun adapter: bun:ffi for the calls; Bun's own pipe reader for the
 * one-byte notification reads.
 *
 * Why not node:fs read(): Bun runs it on its thread pool, and a read that
 * waits on a pipe holds a pool thread; eight waiting cross-buffers starved
 * every other fs call of the process (measured: readFile never returned).
 * Bun.file(fd).stream() reads pipes from the event loop itself; a stream
 * per wait, cancelled once its byte is in, keeps the loop alive exactly
 * while a wait is pending (a live stream would keep it alive for ever).
 */
import { dlopen, ptr, read, toArrayBuffer, CString, type FFIFunction } from "bun:ffi";
import { closeSync } from "node:fs";
import { symbols } from "./symbols.ts";
import { bindOnce, type Bound, type Native, type SymbolTable } from "./native.ts";

export function loadBun(path: string): Native {
  // The types come from native.ts's mapping of the table; "i64_fast" (a
  // number when it fits) is a Bun type its typings spell only as an enum.
  const open = <T extends SymbolTable>(table: T): Bound<T> =>
    dlopen(path, table as unknown as Record<keyof T, FFIFunction>).symbols as unknown as Bound<T>;
  return {
    lib: open(symbols),
    bind: bindOnce(open),
    addressOf: (view) => ptr(view as Uint8Array) as unknown as number,
    readPointer: (address) => read.ptr(address as never) as number,
    // Memory stays owned by libxbuf: the binding keeps it mapped while any such buffer lives.
    foreignBuffer: (address, length) => toArrayBuffer(address as never, 0, length),
    cString: (address) => (address ? new CString(address as never).toString() : ""),
    readByte: async (fd) => {
      const reader = Bun.file(fd).stream().getReader();
      try {
        const { value, done } = await reader.read();
        return done || !value?.length ? -1 : value[0]!;
      } finally {
        await reader.cancel(); // leaves the fd open
      }
    },
    closeFd: (fd) => closeSync(fd),
  };
}
