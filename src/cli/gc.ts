/**
 * Stale names (issue 9): public elements whose holders all died (kill -9)
 * leave their files in /dev/shm; every xbuf command takes them off first
 * (xbuf_gc()), `xbuf ls` shows what it took off as stale, `xbuf gc` says
 * how many it removed.
 */
import { check } from "../errors.ts";
import { getNative } from "../ffi/index.ts";
import type { SymbolTable } from "../ffi/native.ts";
import { parse } from "./args.ts";

const gcSymbols = {
  // int xbuf_gc(void)
  xbuf_gc: { args: [], returns: "i32" },
  // int xbuf_reclaim(const char *name)
  xbuf_reclaim: { args: ["ptr"], returns: "i32" },
} as const satisfies SymbolTable;

function lib() {
  return getNative().bind(gcSymbols);
}

/** Take off every stale xbuf name in /dev/shm; how many. */
export function collect(): number {
  return check(lib().xbuf_gc(), "gc");
}

/** Take off the name if nobody holds it: true if it was stale. */
export function reclaim(name: string): boolean {
  const native = getNative();
  const cname = new TextEncoder().encode(name + "\0");
  return check(lib().xbuf_reclaim(native.addressOf(cname)), `reclaim ${JSON.stringify(name)}`) === 1;
}

export async function gc(args: string[]): Promise<number> {
  parse(args, {}, { min: 0, max: 0, names: "" });
  process.stdout.write(`${collect()} stale name(s) removed\n`);
  return 0;
}
