/** Picks the runtime adapter and finds libxbuf.so. */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Native } from "./native.ts";
import { loadBun } from "./bun.ts";

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
