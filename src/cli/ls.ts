/** xbuf ls: the public elements whose creator is alive, with their ring fill levels. */
import { readdirSync } from "node:fs";
import { XBuf } from "../xbuf.ts";
import { XBufError } from "../errors.ts";
import { parse } from "./args.ts";

const SHM_DIR = "/dev/shm";
const PREFIX = "xbuf.";

export interface Listed {
  name: string;
  inbound: { fill: number; size: number };
  outbound: { fill: number; size: number };
}

/** Open each /dev/shm/xbuf.* in turn; an element whose creator died does not open (ENOENT). */
export function listElements(warn: (line: string) => void = () => {}): Listed[] {
  let files: string[];
  try {
    files = readdirSync(SHM_DIR);
  } catch {
    return [];
  }
  const out: Listed[] = [];
  for (const f of files.sort()) {
    if (!f.startsWith(PREFIX) || f.length === PREFIX.length) continue;
    const name = f.slice(PREFIX.length);
    let xb: XBuf | undefined;
    try {
      xb = XBuf.open(name);
      out.push({ name, ...xb.rings() });
    } catch (e) {
      // Gone meanwhile, or its creator died: not a live element.
      if (!(e instanceof XBufError && e.code === "ENOENT")) warn(`xbuf ls: ${name}: ${(e as Error).message}`);
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
  const rows = [["NAME", "INBOUND", "OUTBOUND"], ...list.map((e) => [e.name, level(e.inbound), level(e.outbound)])];
  const w = [0, 1].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) process.stdout.write(`${r[0]!.padEnd(w[0]!)}  ${r[1]!.padEnd(w[1]!)}  ${r[2]}\n`);
  return 0;
}
