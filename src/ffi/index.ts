/** Picks the runtime adapter and finds libxbuf.so. */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Native } from "./native.ts";

/**
 * Where libxbuf.so is: $XBUF_LIBRARY, else the package's zig-out/lib, seen
 * from src/ffi/ (running the sources) or from dist/ (the tsup bundle).
 */
export function libraryPath(): string {
  const env = typeof process !== "undefined" ? process.env.XBUF_LIBRARY : undefined;
  if (env) return env;
  const candidates = ["../../zig-out/lib/libxbuf.so", "../zig-out/lib/libxbuf.so"].map((rel) =>
    fileURLToPath(new URL(rel, import.meta.url)),
  );
  return candidates.find((path) => existsSync(path)) ?? candidates[0]!;
}

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
