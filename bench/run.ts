/**
 * Runs every scenario, several times, interleaved (so the machine's noise
 * hits every contender alike), and writes bench/results.json,
 * BENCHMARKS.md and bench/chart.svg.
 *
 *   bun run bench            full sizes (a few minutes)
 *   bun run bench --quick    small sizes, one repetition, same code paths (CI runs it
 *                            before the tests: it must stay under 2 minutes on a busy
 *                            2-core machine; each phase prints its seconds); writes
 *                            bench/*-quick.* instead, and prints the same tables
 *
 * Targets are reported, not asserted: the exit status is non-zero only
 * when a scenario crashes or reports wrong data.
 */
import { writeFileSync } from "node:fs";
import { CONSUMERS } from "./bulk.ts";
import { ROOT, median } from "./lib.ts";
import { renderChart, renderMarkdown, machine, loadAverage, type Summary } from "./report.ts";

const quick = process.argv.includes("--quick");
const GiB = 2 ** 30;
const plan = quick
  ? { reps: 1, bulk: GiB / 32, records: GiB / 32, trips: 300, b2b: GiB / 32, memory: GiB / 16, msgs: 1e5, allocSteps: 2e4 }
  : { reps: 5, bulk: 2 * GiB, records: 2 * GiB, trips: 20000, b2b: 2 * GiB, memory: 8 * GiB, msgs: 1e7, allocSteps: 1e6 };

const failures: string[] = [];

/** Run one scenario program; its last stdout line is its JSON result. */
async function runOne(script: string, args: string[]): Promise<Record<string, any> | null> {
  const proc = Bun.spawn([process.execPath, `${ROOT}bench/${script}`, ...args], { stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill(), 300_000);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  const line = out.trim().split("\n").pop() ?? "";
  let result: Record<string, any> | null = null;
  try {
    result = JSON.parse(line);
  } catch {}
  if (code !== 0 || !result?.ok) {
    failures.push(`${script} ${args.join(" ")}: exit ${code}${result && !result.ok ? " (wrong data)" : ""}\n${err.trim()}`);
    console.error(`  FAILED ${script} ${args[0]} (exit ${code})\n${err.trim()}`);
    return null;
  }
  return result;
}

/** reps x variants, interleaved; returns the results of each variant. */
async function series(script: string, variants: readonly string[], args: string[], reps = plan.reps) {
  const runs: Record<string, Record<string, any>[]> = Object.fromEntries(variants.map((v) => [v, []]));
  for (let r = 0; r < reps; r++) {
    for (const v of variants) {
      const res = await runOne(script, [v, ...args]);
      if (res) runs[v]!.push(res);
      process.stderr.write(`  ${script} ${v} #${r + 1}: ${res ? summaryOf(res) : "failed"}\n`);
    }
  }
  return runs;
}

const summaryOf = (r: Record<string, any>) =>
  r.gbps !== undefined ? `${r.gbps.toFixed(2)} GB/s` : r.p50 !== undefined ? `p50 ${r.p50} us, p99 ${r.p99} us` : "ok";

/** Median and spread (min..max) of one metric over the runs. */
function stat(runs: Record<string, any>[], key: string) {
  const xs = runs.map((r) => r[key] as number).filter((x) => Number.isFinite(x));
  if (!xs.length) return { median: NaN, min: NaN, max: NaN, n: 0 };
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

const loadStart = loadAverage();
const t0 = performance.now();
let tPhase = t0;
/** Seconds of the phase that just ended (stderr): where the time goes. */
function phase(name: string): void {
  const now = performance.now();
  console.error(`  [${name}: ${((now - tPhase) / 1000).toFixed(1)} s]`);
  tPhase = now;
}
console.error(`xbuf benchmarks (${quick ? "quick" : "full"}), load average ${loadAverage()}`);
const bulk = await series("bulk.ts", CONSUMERS.filter((c) => c !== "js-typed" && c !== "xbuf-cursor"), ["--bytes", String(plan.bulk)]);
phase("bulk");
const records = await series("records.ts", CONSUMERS, ["--bytes", String(plan.records)]);
phase("records");
const roundtrip = await series(
  "roundtrip.ts",
  ["xbuf-await", "xbuf-sync", "xbuf-spin", "c-spin", "pipe-sync", "pipe-async", "waitasync"],
  ["--count", String(plan.trips)],
);

phase("roundtrip");
/** Message rate (bench/msgrate.ts): every mode of both runtimes, interleaved, this process's runtime pinned to CPU 0. */
const MSG_VARIANTS = ["bun:c2ts", "bun:ts2c", "bun:ts2ts", "bun:c2c", "bun:c2c-fast", "bun:bare", "bun:pipe", "bun:socket", "deno:c2ts", "deno:ts2c", "deno:ts2ts"];
const denoPath = `${ROOT}node_modules/.bin/deno`;
async function runRuntime(runtime: string, script: string, args: string[], extra: string[] = []): Promise<Record<string, any> | null> {
  const cmd = runtime === "deno" ? [denoPath, "run", "-A", ...extra, `${ROOT}bench/${script}`, ...args] : [process.execPath, `${ROOT}bench/${script}`, ...args];
  const proc = Bun.spawn(["taskset", "-c", "0", ...cmd], { stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill(), 60_000);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  try {
    const r = JSON.parse(out.trim().split("\n").pop() ?? "");
    if (code === 0 && r.ok) return r;
  } catch {}
  failures.push(`${runtime} ${script} ${args.join(" ")}: exit ${code}\n${err.trim()}`);
  return null;
}
const msgRuns: Record<string, Record<string, any>[]> = Object.fromEntries(MSG_VARIANTS.map((v) => [v, []]));
for (let r = 0; r < plan.reps; r++) {
  for (const v of MSG_VARIANTS) {
    const [runtime, mode] = v.split(":") as [string, string];
    const n = mode === "pipe" || mode === "socket" ? plan.msgs / 10 : plan.msgs;
    const res = await runRuntime(runtime, "msgrate.ts", [mode, "--count", String(n)]);
    if (res) msgRuns[v]!.push(res);
    process.stderr.write(`  msgrate ${v} #${r + 1}: ${res ? `${(res.mps / 1e6).toFixed(2)} M msgs/s` : "failed"}\n`);
  }
}
phase("msgrate");
const ALLOC_APIS = ["tryReadInto", "tryWrite", "drain", "drainRecords", "views", "recordBatches", "tryRead"];
const alloc: Record<string, number> = {};
for (const runtime of ["bun", "deno"]) {
  for (const a of ALLOC_APIS) {
    const res = await runRuntime(runtime, "alloc.ts", [a, "--steps", String(plan.allocSteps)], ["--v8-flags=--expose-gc"]);
    alloc[`${runtime}:${a}`] = res ? res.bytesPerStep : NaN;
    process.stderr.write(`  alloc ${runtime} ${a}: ${res ? `${res.bytesPerStep.toFixed(2)} B/step` : "failed"}\n`);
  }
}
phase("alloc");
const b2b = await series("bun2bun.ts", ["xbuf", "ringbuf"], ["--bytes", String(plan.b2b)]);
const memRuns = await runOne("memory.ts", ["--bytes", String(plan.memory)]);
console.error(`  memory: ${memRuns ? `RSS ${memRuns.rssWarm} -> ${memRuns.rssEnd} MiB` : "failed"}`);
phase("bun2bun, memory");

const throughput = (runs: typeof bulk) =>
  Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, stat(v, "gbps")]));
const latency = Object.fromEntries(
  Object.entries(roundtrip).map(([k, v]) => [k, { p50: stat(v, "p50"), p99: stat(v, "p99"), p999: stat(v, "p999"), max: stat(v, "max") }]),
);

const summary: Summary = {
  quick,
  date: new Date().toISOString(),
  seconds: Math.round((performance.now() - t0) / 1000),
  machine: { ...(await machine()), loadStart },
  plan,
  bulk: throughput(bulk),
  records: throughput(records),
  roundtrip: latency,
  bun2bun: throughput(b2b),
  memory: memRuns,
  msgrate: Object.fromEntries(Object.entries(msgRuns).map(([k, v]) => [k, stat(v, "mps")])),
  alloc,
};

// A quick run leaves the full run's report alone (its files are git-ignored).
const out = quick ? { json: "bench/results-quick.json", svg: "bench/chart-quick.svg", md: "bench/BENCHMARKS-quick.md" }
  : { json: "bench/results.json", svg: "bench/chart.svg", md: "BENCHMARKS.md" };
writeFileSync(`${ROOT}${out.json}`, JSON.stringify({ summary, runs: { bulk, records, roundtrip, bun2bun: b2b, msgrate: msgRuns } }, null, 1) + "\n");
writeFileSync(`${ROOT}${out.svg}`, renderChart(summary));
const md = renderMarkdown(summary);
writeFileSync(`${ROOT}${out.md}`, md);
console.log(md.slice(md.indexOf("## Results")));
if (failures.length) {
  console.error(`\n${failures.length} scenario run(s) failed:\n${failures.join("\n\n")}`);
  process.exit(1);
}
