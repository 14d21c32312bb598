/** Picks the runtime adapter; src/ffi/library.ts finds libxbuf.so. */
import type { Native } from "./native.ts";
import { loadBun } from "./bun.ts";
import { libraryPath } from "./library.ts";

export { libraryPath };

let native: Native | undefined;

/** The FFI of this runtime, loaded once. */
export function getNative(): Native {
  if (native) return native;
  if (typeof (globalThis as { Bun?: unknown }).Bun === "undefined") {
    throw new Error("xbuf: this build of the binding runs under Bun (a Deno adapter can sit beside src/ffi/bun.ts)");
  }
  native = loadBun(libraryPath());
  return native;
}
