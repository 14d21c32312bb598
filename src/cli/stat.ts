/** xbuf stat NAME: both rings' counters (xb.stat()). */
import { XBuf, type RingStat } from "../xbuf.ts";
import { elementName, parse } from "./args.ts";

const ROWS: [keyof RingStat, string][] = [
  ["capacity", "capacity (bytes)"],
  ["fill", "fill (bytes)"],
  ["produced", "produced (bytes)"],
  ["consumed", "consumed (bytes)"],
  ["writes", "writes"],
  ["reads", "reads"],
  ["writeEagain", "write EAGAIN"],
  ["readEagain", "read EAGAIN"],
  ["producerWakeups", "producer wakeups"],
  ["consumerWakeups", "consumer wakeups"],
  ["producerWaiters", "producer waiters"],
  ["consumerWaiters", "consumer waiters"],
  ["producerPid", "producer pid"],
  ["consumerPid", "consumer pid"],
];

export function statText(name: string, st: { inbound: RingStat; outbound: RingStat }): string {
  const lines = [`${name}: inbound = driver -> application, outbound = application -> driver`];
  lines.push(`${"".padEnd(18)}${"inbound".padStart(16)}${"outbound".padStart(16)}`);
  for (const [k, label] of ROWS) {
    lines.push(`${label.padEnd(18)}${String(st.inbound[k]).padStart(16)}${String(st.outbound[k]).padStart(16)}`);
  }
  return lines.join("\n") + "\n";
}

export async function stat(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: "boolean", short: "j" } }, { min: 1, max: 1, names: "NAME" });
  const name = elementName(positionals[0]!);
  using xb = XBuf.open(name);
  const st = xb.stat();
  process.stdout.write(values.json ? JSON.stringify({ name, ...st }) + "\n" : statText(name, st));
  return 0;
}
