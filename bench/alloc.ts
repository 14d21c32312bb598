/**
 * Scenario 7, allocation per step: 10^6 steps of one API over a stream of
 * 32-byte messages from a C driver (bench_msg drv-write), the JS heap
 * sampled every EVERY steps; the growth between samples is summed, the
 * drops (collections) left out, and divided by the steps. 0 means no
 * step allocated anything the heap counter can see (it moves in blocks:
 * a sample shows growth once allocations fill one). Not after every step:
 * a sample allocates itself (memoryUsage() returns a new object: ~10 B/step
 * under Deno when taken at every step, whatever the API), and a
 * collection inside an interval hides at most that interval's growth.
 *
 *   bun bench/alloc.ts API [--steps N]     (or deno run -A --v8-flags=--expose-gc bench/alloc.ts ...)
 *
 * APIs: tryReadInto, tryWrite (to a C reader), drain, drainRecords, views (for await),
 * recordBatches (for await), tryRead (returns a copy: allocates by design).
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { XBuf, defineRecord } from "../src/index.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const APIS = ["tryReadInto", "tryWrite", "drain", "drainRecords", "views", "recordBatches", "tryRead"] as const;
const argv = process.argv.slice(2);
const api = argv[0] as (typeof APIS)[number];
if (!APIS.includes(api)) {
  console.error(`usage: alloc.ts ${APIS.join("|")} [--steps N]`);
  process.exit(2);
}
const si = argv.indexOf("--steps");
const steps = si > 0 ? Number(argv[si + 1]) : 1_000_000;
// deno-lint-ignore no-explicit-any
const D = (globalThis as any).Deno;
const jsc = D ? null : await import("bun:jsc");
const heap = (): number => (D ? D.memoryUsage().heapUsed : process.memoryUsage().heapUsed);
const fullGc = () => (D ? (globalThis as { gc?: () => void }).gc?.() : Bun.gc(true));

const Msg = defineRecord({ seq: "u32", a: "u32", b: "u64", c: "f64", d: "u64" }); // 32 bytes
const name = `bench-alloc-${process.pid}`;
const xb = XBuf.create({ inbound: 256 << 10, outbound: 256 << 10, name: `/${name}` });
const total = 1e12; // messages: the writer is killed at the end
// The peer on its own CPU, as msgrate.ts does: spawned plainly it inherits this
// process's pinning (bench/run.ts: taskset -c 0), and a step that empties the ring
// (drainRecords, a whole batch) then waits for a time slice of the writer, every step.
const cpu2 = process.env.BENCH_CPU2 ?? "1";
const peerArgs = api === "tryWrite" ? ["drv-read", name, String(steps + Math.min(20_000, steps / 10)), "32"] : ["drv-write", name, String(total), "32"];
const peer = spawn("taskset", ["-c", cpu2, `${ROOT}zig-out/bin/bench_msg`, ...peerArgs], {
  stdio: ["ignore", "ignore", "ignore"],
});

let grown = 0;
let last = 0;
/**
 * What the steps read goes here: a typed-array element, not a `let`. A number
 * variable that leaves the small-integer range (V8: 2^30) is a heap number, and
 * each store of a new value into a module variable allocates one (16 bytes
 * under Deno per store: it was most of drain's and drainRecords' figures).
 */
const SINK = new Float64Array(1);
const EVERY = 1024;
const sample = () => {
  const h = heap();
  if (h > last) grown += h - last;
  last = h;
};
const buf = new Uint8Array(32);
const ONE = { max: 32 };
const onSpan = (b: Uint8Array, s: number, e: number) => {
  SINK[0] = SINK[0]! + b[s]! + e;
  return false; // one message per step
};
const onBatch = (batch: { length: number; at(i: number): { seq: number } }) => {
  for (let i = 0; i < batch.length; i++) SINK[0] = SINK[0]! + batch.at(i).seq;
};

async function measure(): Promise<void> {
  // Warm-up (JIT, first claims), then the measured steps.
  for (let phase = 0; phase < 2; phase++) {
    const n = phase === 0 ? Math.min(20_000, steps / 10) : steps;
    if (phase === 1) {
      fullGc();
      last = heap();
      grown = 0;
    }
    if (api === "views" || api === "recordBatches") {
      let i = 0;
      const it = api === "views" ? xb.views() : xb.recordBatches(Msg);
      for await (const v of it as AsyncIterable<Uint8Array | { length: number }>) {
        SINK[0] = SINK[0]! + v.length;
        if (phase === 1 && (i & (EVERY - 1)) === 0) sample();
        if (++i >= n) break;
      }
      continue;
    }
    for (let i = 0; i < n; i++) {
      if (api === "tryReadInto") while (xb.tryReadInto(buf) === 0);
      else if (api === "tryRead") {
        let m: Uint8Array | null;
        while (!(m = xb.tryRead(32)));
        SINK[0] = SINK[0]! + m.length;
      } else if (api === "tryWrite") while (!xb.tryWrite(buf));
      else if (api === "drain") while (xb.drain(onSpan, ONE) === 0);
      else while (xb.drainRecords(Msg, onBatch) === 0);
      if (phase === 1 && (i & (EVERY - 1)) === 0) sample();
    }
  }
}

await measure();
sample();
xb.close();
peer.kill();
console.log(JSON.stringify({ api, runtime: D ? "deno" : "bun", steps, bytesPerStep: grown / steps, sink: SINK[0]! > -1, ok: true }));
process.exit(0);
