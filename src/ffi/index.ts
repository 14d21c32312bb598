/** Picks the runtime adapter; src/ffi/library.ts finds libxbuf.so. */
import type { Native } from "./native.ts";
import { libraryPath } from "./library.ts";

export { libraryPath };

/** This runtime's adapter, or why there is none. */
export type Runtime = "bun" | "deno";
export const runtime: Runtime | null =
  typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
    ? "bun"
    : typeof (globalThis as { Deno?: { dlopen?: unknown } }).Deno?.dlopen === "function"
      ? "deno"
      : null;

/**
 * The adapter module, imported for this runtime only: bun.ts imports
 * bun:ffi at its top, which Deno cannot even resolve, and deno.ts needs
 * the Deno global. Importing it here (not at getNative()) keeps
 * getNative() synchronous; loading the library stays lazy.
 */
const load: ((path: string) => Native) | null =
  runtime === "bun" ? (await import("./bun.ts")).loadBun : runtime === "deno" ? (await import("./deno.ts")).loadDeno : null;

let native: Native | undefined;

/** The FFI of this runtime, loaded once. */
export function getNative(): Native {
  if (native) return native;
  if (!load) throw new Error("xbuf: the binding runs under Bun or Deno (this runtime has neither bun:ffi nor Deno.dlopen)");
  native = load(libraryPath());
  return native;
}
