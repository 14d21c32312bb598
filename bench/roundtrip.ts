/**
 * Scenario 3, round trip: a 64-byte message goes from Bun to a C echo
 * (bench/c/bench_echo.c) and back, one at a time; each round trip is
 * timed with Bun.nanoseconds() and checked (a sequence number rides in it).
 *
 *   bun bench/roundtrip.ts MODE [--count N]
 *
 * Modes:
 *   xbuf-await      await xb.write(msg); await xb.read(64)     (echo blocks in futex waits)
 *   xbuf-sync       xb.tryWrite(msg); xb.readSync(64)          (blocks the JS thread in a futex)
 *   xbuf-spin       xb.tryWrite(msg); loop on xb.tryRead(64) until it is not null
 *                   (the echo spins on O_NONBLOCK calls too)
 *   c-spin          the same busy-poll trip from C (bench_msg rt-client: xbuf_write, then
 *                   xbuf_read_begin(XBUF_NONBLOCK) until it succeeds) to the same C echo: the bound
 *   pipe-sync       two FIFOs, node:fs writeSync/readSync      (the fastest pipe ping-pong)
 *   pipe-async      Bun.spawn stdin.write()+flush() / stdout reader.read()
 *   waitasync       no C echo: a Bun Worker echoes through a SharedArrayBuffer, each side
 *                   awaiting Atomics.waitAsync() on the other's sequence word and waking it with
 *                   Atomics.notify() (the in-process baseline for an await round trip).
 *                   Both are threads of this process: the scheduler places them, not taskset.
 *
 * Prints one JSON line: { mode, count, p50, p99, p999, max (microseconds), ok }.
 */
import { openSync, readSync, writeSync, closeSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { XBuf } from "../src/index.ts";
import { arg, bin, emit, quantile, uniqueName, variant } from "./lib.ts";

const MODES = ["xbuf-await", "xbuf-sync", "xbuf-spin", "c-spin", "pipe-sync", "pipe-async", "waitasync"] as const;
const SIZE = 64;

const mode = variant(MODES);
const count = arg("count", 20000);
const warmup = Math.min(1000, count);
const msg = new Uint8Array(SIZE).fill(0xa5);
const seq = new DataView(msg.buffer);
const lat = new Float64Array(count);
let ok = true;

/** Time `count` round trips after a warm-up; `trip` sends msg and returns the echo. */
async function measure(trip: () => Uint8Array | Promise<Uint8Array>): Promise<void> {
  for (let i = -warmup; i < count; i++) {
    seq.setUint32(0, i >>> 0, true);
    const t0 = Bun.nanoseconds();
    const back = await trip();
    const t1 = Bun.nanoseconds();
    if (back.length !== SIZE || new DataView(back.buffer, back.byteOffset).getUint32(0, true) !== i >>> 0) ok = false;
    if (i >= 0) lat[i] = (t1 - t0) / 1e3;
  }
}

async function xbuf(how: "await" | "sync" | "spin"): Promise<void> {
  const name = uniqueName("rt");
  const xb = XBuf.create({ inbound: 4096, outbound: 4096, name: `/${name}` });
  const args = [bin("bench_echo"), "xbuf", name, String(SIZE)];
  const echo = Bun.spawn(how.startsWith("spin") ? [...args, "spin"] : args, { stderr: "inherit" });
  const spin = (): Uint8Array => {
    for (;;) {
      const back = xb.tryRead(SIZE);
      if (back) return back;
    }
  };
  const send = (): void => {
    if (!xb.tryWrite(msg)) throw new Error("outbound ring full");
  };
  if (how === "await") await measure(async () => (await xb.write(msg), xb.read(SIZE)));
  if (how === "sync") await measure(() => (send(), xb.readSync(SIZE)));
  if (how === "spin") await measure(() => (send(), spin()));
  xb.close(); // the application leaves: the echo's next call, blocking or not, gets EIDRM
  ok &&= (await echo.exited) === 0;
}

async function pipeSync(): Promise<void> {
  const ping = `${tmpdir()}/${uniqueName("ping")}`;
  const pong = `${tmpdir()}/${uniqueName("pong")}`;
  for (const f of [ping, pong]) if (Bun.spawnSync(["mkfifo", f]).exitCode !== 0) throw new Error("mkfifo failed");
  const echo = Bun.spawn([bin("bench_echo"), "fifo", ping, pong, String(SIZE)], { stderr: "inherit" });
  const out = openSync(ping, "w");
  const inp = openSync(pong, "r");
  const back = new Uint8Array(SIZE);
  await measure(() => {
    writeSync(out, msg);
    for (let got = 0; got < SIZE; ) got += readSync(inp, back, got, SIZE - got, null);
    return back;
  });
  closeSync(out);
  closeSync(inp);
  ok &&= (await echo.exited) === 0;
  rmSync(ping);
  rmSync(pong);
}

async function pipeAsync(): Promise<void> {
  const echo = Bun.spawn([bin("bench_echo"), "fifo", "-", "-", String(SIZE)], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = echo.stdout.getReader();
  let pending = new Uint8Array(0);
  await measure(async () => {
    echo.stdin.write(msg);
    await echo.stdin.flush();
    while (pending.length < SIZE) {
      const { value, done } = await reader.read();
      if (done) throw new Error("echo closed its stdout");
      pending = pending.length ? Buffer.concat([pending, value]) : value;
    }
    const back = pending.subarray(0, SIZE);
    pending = pending.subarray(SIZE);
    return back;
  });
  await echo.stdin.end();
  ok &&= (await echo.exited) === 0;
}

async function cSpin(): Promise<never> {
  const name = uniqueName("rtc");
  const xb = XBuf.create({ inbound: 4096, outbound: 4096, name: `/${name}` });
  const echo = Bun.spawn([bin("bench_echo"), "xbuf", name, String(SIZE), "spin"], { stderr: "inherit" });
  const client = Bun.spawn([bin("bench_msg"), "rt-client", name, String(count), String(SIZE)], { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(client.stdout).text();
  const code = await client.exited;
  xb.close();
  echo.kill();
  const r = JSON.parse(out.trim().split("\n").pop() ?? "{}");
  emit({ mode, count, p50: r.p50, p99: r.p99, p999: r.p999, max: r.max, ok: code === 0 && r.ok });
}

/**
 * The echo worker's source (a Blob URL): waits on word 0 (the ping's
 * sequence), copies the 64 bytes of the ping into the pong, publishes word 1
 * and notifies. Every wait is bounded (1 s): a lost wake-up fails the run.
 */
const ECHO_WORKER = `
onmessage = async ({ data: sab }) => {
  const seq = new Int32Array(sab, 0, 2);
  const ping = new Uint8Array(sab, 64, ${SIZE});
  const pong = new Uint8Array(sab, 128, ${SIZE});
  for (let last = 0; ; ) {
    const w = Atomics.waitAsync(seq, 0, last, 1000);
    if (w.async && (await w.value) === "timed-out") { postMessage("timed-out"); return; }
    const now = Atomics.load(seq, 0);
    if (now === last) continue;
    if (now === -1) { postMessage("done"); return; }
    last = now;
    pong.set(ping);
    Atomics.store(seq, 1, now);
    Atomics.notify(seq, 1);
  }
};`;

/** Atomics.waitAsync (ES2024: not in this project's lib). */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, i: number, v: number, ms: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

async function waitAsyncWorkers(): Promise<void> {
  const sab = new SharedArrayBuffer(192);
  const seq = new Int32Array(sab, 0, 2);
  const ping = new Uint8Array(sab, 64, SIZE);
  const pong = new Uint8Array(sab, 128, SIZE);
  const url = URL.createObjectURL(new Blob([ECHO_WORKER], { type: "application/javascript" }));
  const worker = new Worker(url);
  const finished = new Promise<string>((resolve) => (worker.onmessage = (e) => resolve(String(e.data))));
  worker.postMessage(sab);
  let n = 0;
  await measure(async () => {
    ping.set(msg);
    n = (n + 1) & 0x3fffffff || 1;
    Atomics.store(seq, 0, n);
    Atomics.notify(seq, 0);
    for (let seen; (seen = Atomics.load(seq, 1)) !== n; ) {
      const w = waitAsync(seq, 1, seen, 1000); // sleeps only while word 1 still holds what we saw
      if (w.async && (await w.value) === "timed-out" && Atomics.load(seq, 1) !== n) throw new Error("waitasync: no echo within 1 s");
    }
    return pong;
  });
  Atomics.store(seq, 0, -1);
  Atomics.notify(seq, 0);
  ok &&= (await finished) === "done";
  worker.terminate();
  URL.revokeObjectURL(url);
}

if (mode === "c-spin") await cSpin();
if (mode === "waitasync") await waitAsyncWorkers();
if (mode === "pipe-sync") await pipeSync();
else if (mode === "pipe-async") await pipeAsync();
else if (mode !== "waitasync") await xbuf(mode.slice(5) as "await" | "sync" | "spin");

const sorted = lat.slice().sort();
const us = (q: number) => Math.round(quantile(sorted, q) * 100) / 100;
emit({ mode, count, p50: us(0.5), p99: us(0.99), p999: us(0.999), max: us(1), ok });
