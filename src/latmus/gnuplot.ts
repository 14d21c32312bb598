/**
 * EVL's gnuplot histogram file (latmus -g), line for line as libevl's
 * dump_gnuplot() writes it: a '#' header, then "cell count" from the first
 * to the last non-empty cell of 1 µs, the last one marked '+' when the
 * worst latency is past the histogram (EVL counts the outliers in the
 * last cell: so does this file). Nothing at all without samples.
 *
 * libevl's version line names what there is instead: no EVL core, this
 * package. EVL's clock gravity line is left out (no EVL clock), as EVL
 * itself leaves out a file it cannot read.
 */
import { existsSync, readFileSync } from "node:fs";
import { cpuText, hms, type LatmusMeta } from "./format.ts";
import type { LatmusHistogram } from "./histogram.ts";
import type { LatmusStats } from "./stats.ts";

export interface GnuplotEnv {
  /** When the test started. */
  start: Date;
  /** Files pasted in, as EVL does: path -> contents (absent: the line is left out). */
  files: { version?: string; cmdline?: string; clocksource?: string; vdso?: string };
  /** The "libevl version" line's value. */
  version: string;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** ctime(3): "Wed Jun 30 21:49:08 1993\n", local time. */
export function ctime(d: Date): string {
  const p2 = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}\n`;
}

function read(path: string): string | undefined {
  try {
    return existsSync(path) ? readFileSync(path, "utf8") : undefined;
  } catch {
    return undefined;
  }
}

/** What this machine says, for the header. */
export function gnuplotEnv(start: Date, version: string): GnuplotEnv {
  const cs = "/sys/devices/system/clocksource/clocksource0/";
  return {
    start,
    version,
    files: {
      version: read("/proc/version"),
      cmdline: read("/proc/cmdline"),
      clocksource: read(cs + "current_clocksource"),
      vdso: read(cs + "vdso_clocksource"),
    },
  };
}

/** The whole file ("" without samples, as EVL writes nothing then). */
export function gnuplotText(stats: LatmusStats, meta: LatmusMeta, hist: LatmusHistogram, env: GnuplotEnv): string {
  if (!stats.samples) return "";
  const out: string[] = [];
  const paste = (content: string | undefined, header = "") => {
    if (content !== undefined) out.push(`# ${header}${content}`);
  };
  const f3 = (ns: number) => (ns / 1000).toFixed(3);
  out.push(`# test started on: ${ctime(env.start)}`);
  paste(env.files.version);
  paste(env.files.cmdline);
  out.push(`# libevl version: ${env.version}\n`);
  out.push(`# sampling period: ${meta.periodUs} microseconds\n`);
  paste(env.files.clocksource, "clocksource: ");
  paste(env.files.vdso, "vDSO access: ");
  out.push(`# context: ${meta.context}\n`);
  if (meta.context !== "irq") {
    out.push(`# thread priority: ${meta.priority}\n`);
    out.push(`# thread affinity: ${cpuText(meta)}\n`);
  }
  out.push(`# duration (hhmmss): ${hms(stats.elapsedNs / 1e9)}\n`);
  out.push(`# peak (hhmmss): ${hms(stats.peakS)}\n`);
  if (stats.overruns > 0) out.push(`# OVERRUNS: ${stats.overruns}\n`);
  out.push(`# min latency: ${f3(stats.bestNs)}\n`);
  out.push(`# avg latency: ${f3(Math.trunc(stats.sumNs / stats.samples))}\n`);
  out.push(`# max latency: ${f3(stats.worstNs)}\n`);
  out.push(`# sample count: ${stats.samples}\n`);
  const cells = hist.evlCells();
  const n = cells.length;
  let first = 0;
  while (first < n && cells[first] === 0) first++;
  let last = n - 1;
  while (last >= 0 && cells[last] === 0) last--;
  for (let c = first; c < last; c++) out.push(`${c} ${cells[c]}\n`);
  if (last >= 0) out.push(`${last}${Math.trunc(stats.worstNs / 1000) >= hist.cells ? "+" : ""} ${cells[last]}\n`);
  return out.join("");
}
