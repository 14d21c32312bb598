/**
 * The Bun adapter: bun:ffi for the calls, node:fs (Bun's thread pool) for
 * the one-byte notification reads.
 */
import { dlopen, ptr, read, toArrayBuffer, CString, type FFIFunction } from "bun:ffi";
import { read as fsRead, closeSync } from "node:fs";
import { symbols } from "./symbols.ts";
import type { Native, NativeLib } from "./native.ts";

export function loadBun(path: string): Native {
  // "i64_fast" (a number when it fits) is a Bun type its typings spell only as an enum.
  const { symbols: lib } = dlopen(path, symbols as unknown as Record<keyof typeof symbols, FFIFunction>);
  const byte = new Uint8Array(1);
  return {
    lib: lib as unknown as NativeLib,
    addressOf: (view) => ptr(view as Uint8Array) as unknown as number,
    readPointer: (address) => read.ptr(address as never) as number,
    // Memory stays owned by libxbuf: the binding keeps it mapped while any such buffer lives.
    foreignBuffer: (address, length) => toArrayBuffer(address as never, 0, length),
    cString: (address) => (address ? new CString(address as never).toString() : ""),
    readByte: (fd) =>
      new Promise((resolve, reject) => {
        fsRead(fd, byte, 0, 1, null, (err, n) => {
          if (err) reject(err);
          else resolve(n === 1 ? byte[0]! : -1);
        });
      }),
    closeFd: (fd) => closeSync(fd),
  };
}
