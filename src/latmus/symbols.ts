/**
 * The latmus calls of libxbuf (xbuf/latmus.h), apart from the core table
 * (src/ffi/symbols.ts): only src/latmus/ binds them, through the same
 * runtime adapter and from the same library (Native.bind).
 */
import type { SymbolTable } from "../ffi/native.ts";

export const latmusSymbols = {
  // int xbuf_latmus_start(int efd, unsigned period_us, unsigned interval_us, int cpu, int priority,
  //                       struct xbuf_latmus **out)
  xbuf_latmus_start: { args: ["i32", "u32", "u32", "i32", "i32", "ptr"], returns: "i32" },
  // int xbuf_latmus_info(struct xbuf_latmus *lm, struct xbuf_latmus_info *info)
  xbuf_latmus_info: { args: ["ptr", "ptr"], returns: "i32" },
  // int xbuf_latmus_stop(struct xbuf_latmus *lm, struct xbuf_latmus_info *last)
  xbuf_latmus_stop: { args: ["ptr", "ptr"], returns: "i32" },
  // int xbuf_latmus_run(int efd, const struct xbuf_latmus_params *params, struct xbuf_latmus **out)
  xbuf_latmus_run: { args: ["i32", "ptr", "ptr"], returns: "i32" },
  // int xbuf_latmus_finish(struct xbuf_latmus *lm)
  xbuf_latmus_finish: { args: ["ptr"], returns: "i32" },
} as const satisfies SymbolTable;
