/** xbuf ls: the public elements whose creator is alive, with their ring fill levels. */
import { readdirSync } from "node:fs";
import { XBuf } from "../xbuf.ts";
import { XBufError } from "../errors.ts";
import { parse } from "./args.ts";
import { reclaim } from "./gc.ts";

const SHM_DIR = "/dev/shm";
const PREFIX = "xbuf.";
/**
 * Public elements of xbuf.ko, beside its own device nodes (clone, latmus,
 * ...: XBUF_RESERVED_NAMES of include/xbuf/abi.h, the one list): the
 * library refuses to open those as elements (ENOENT), so they are skipped
 * like an element gone meanwhile, with no list of them here.
 */
const KERNEL_DIR = "/dev/xbuf";

export interface Listed {
  name: string;
  backend: "user" | "kernel";
  /** A name whose holders all died: removed by this listing. */
  stale?: true;
  inbound: { fill: number; size: number };
  outbound: { fill: number; size: number };
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/**
 * Open each public element in turn: /dev/shm/xbuf.* (user space; one whose
 * creator died does not open: ENOENT) and /dev/xbuf/<name> (the kernel's;
 * the module's own device nodes do not open as elements: ENOENT).
 */
export function listElements(warn: (line: string) => void = () => {}): Listed[] {
  const candidates: [string, "user" | "kernel"][] = [
    ...entries(SHM_DIR)
      .filter((f) => f.startsWith(PREFIX) && f.length > PREFIX.length)
      .map((f): [string, "user"] => [f.slice(PREFIX.length), "user"]),
    ...entries(KERNEL_DIR).map((f): [string, "kernel"] => [f, "kernel"]),
  ];
  const out: Listed[] = [];
  for (const [name, backend] of candidates) {
    let xb: XBuf | undefined;
    try {
      xb = XBuf.open(name, { backend });
      out.push({ name, backend, ...xb.rings() });
    } catch (e) {
      // Gone meanwhile, all its holders died (stale: removed now), or a device node of the module.
      if (!(e instanceof XBufError && e.code === "ENOENT")) warn(`xbuf ls: ${name}: ${(e as Error).message}`);
      else if (backend === "user" && reclaim(name)) out.push({ name, backend, stale: true, inbound: { fill: 0, size: 0 }, outbound: { fill: 0, size: 0 } });
    } finally {
      xb?.close();
    }
  }
  return out;
}

const level = (r: { fill: number; size: number }) =>
  r.size ? `${r.fill}/${r.size} (${Math.round((100 * r.fill) / r.size)}%)` : "-";

export async function ls(args: string[]): Promise<number> {
  const { values } = parse(args, { json: { type: "boolean", short: "j" } }, { min: 0, max: 0, names: "" });
  const list = listElements((l) => process.stderr.write(l + "\n"));
  if (values.json) {
    process.stdout.write(JSON.stringify(list) + "\n");
    return 0;
  }
  const rows = [
    ["NAME", "BACKEND", "INBOUND", "OUTBOUND"],
    ...list.map((e) => (e.stale ? [e.name, e.backend, "stale (removed)", "-"] : [e.name, e.backend, level(e.inbound), level(e.outbound)])),
  ];
  const w = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) process.stdout.write(`${r[0]!.padEnd(w[0]!)}  ${r[1]!.padEnd(w[1]!)}  ${r[2]!.padEnd(w[2]!)}  ${r[3]}\n`);
  return 0;
}
