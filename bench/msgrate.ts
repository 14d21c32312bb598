/**
 * Scenario 6, message rate: 32-byte messages, one per call, no batching by
 * the caller, each side pinned to its own CPU (taskset: this process on
 * $BENCH_CPU, default 0, its peer on $BENCH_CPU2, default 1). Runs under
 * Bun and under Deno (node:child_process, performance.now()).
 *
 *   bun bench/msgrate.ts MODE [--count N]      (or: deno run -A bench/msgrate.ts MODE ...)
 *
 * Modes:
 *   c2ts     C driver evl_write_xbuf() per message -> this runtime, xb.tryReadInto(buf) per message
 *   ts2c     this runtime, xb.tryWrite(msg) per message -> C driver evl_read_xbuf() per message
 *   ts2ts    another process of this runtime writes per message (driver side: evl_write_xbuf through
 *            FFI, the only driver-side API of the binding) -> this runtime, tryReadInto per message
 *   c2c      C driver evl_write_xbuf() -> C application xbuf_read(), on the same ring (the fd API)
 *   c2c-fast C driver evl_write_xbuf() -> C application xbuf_fast_read() (xbuf/fast.h, the limit)
 *   bare     a bare SPSC ring in C between two processes (bench_msg bare)
 *   pipe     C, write(2)/read(2) per message over a pipe
 *   socket   C, the same over a unix stream socket
 *
 * Both sides of the xbuf modes busy-poll when the ring is empty or full
 * (TypeScript) or spin 50 us before sleeping (C, XBUF_SPIN_US). The ring
 * holds 256 KiB. Prints one JSON line: { mode, msgs, seconds, mps, ok }.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { XBuf } from "../src/index.ts";
import { getNative } from "../src/ffi/index.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MODES = ["c2ts", "ts2c", "ts2ts", "c2c", "c2c-fast", "bare", "pipe", "socket", "ts-writer"] as const;
const SIZE = 32;
const RING = 256 << 10;
const argv = process.argv.slice(2);
const mode = argv[0] as (typeof MODES)[number];
if (!MODES.includes(mode)) {
  console.error(`usage: msgrate.ts ${MODES.join("|")} [--count N]`);
  process.exit(2);
}
const opt = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i > 0 ? Number(argv[i + 1]) : fallback;
};
const count = opt("count", 10_000_000);
const cpu2 = process.env.BENCH_CPU2 ?? "1";
const bin = `${ROOT}zig-out/bin/bench_msg`;
// deno-lint-ignore no-explicit-any
const isDeno = !!(globalThis as any).Deno;

/** Run a program pinned to the peer CPU; its stdout. */
function run(cmd: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn("taskset", ["-c", cpu2, ...cmd], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...env } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
}

const lastJson = (out: string) => JSON.parse(out.trim().split("\n").pop() ?? "{}");
const uniq = () => `bench-msg-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

function emit(msgs: number, seconds: number, ok: boolean): never {
  console.log(JSON.stringify({ mode, runtime: isDeno ? "deno" : "bun", msgs, seconds, mps: msgs / seconds, ok }));
  process.exit(ok ? 0 : 1);
}

/** Read `count` messages one per call with tryReadInto, checking sequence numbers. */
function readLoop(xb: XBuf): { seconds: number; ok: boolean } {
  const buf = new Uint8Array(SIZE);
  const words = new Uint32Array(buf.buffer);
  let ok = true;
  let t0 = 0;
  for (let i = 0; i < count; i++) {
    while (xb.tryReadInto(buf) === 0);
    if (i === 0) t0 = performance.now();
    if (words[0] !== i % 4294967296) ok = false;
  }
  return { seconds: (performance.now() - t0) / 1e3, ok };
}

if (mode === "ts-writer") {
  // The driver side of ts2ts, in its own process: evl_write_xbuf per message through FFI.
  const native = getNative();
  const drv = native.bind({
    evl_get_xbuf: { args: ["i32", "ptr"], returns: "ptr" },
    evl_write_xbuf: { args: ["ptr", "ptr", "u64", "i32"], returns: "i64_fast" },
    xbuf_open: { args: ["ptr", "i32"], returns: "i32" },
  } as const);
  const name = new TextEncoder().encode(argv[1] + "\0");
  const fd = drv.xbuf_open(native.addressOf(name), 0);
  const slot = new BigUint64Array(1);
  const xbuf = drv.evl_get_xbuf(fd, native.addressOf(slot));
  const msg = new Uint8Array(SIZE);
  const words = new Uint32Array(msg.buffer);
  const at = native.addressOf(msg);
  for (let i = 0; i < count; i++) {
    words[0] = i;
    if (drv.evl_write_xbuf(xbuf, at, SIZE, 0) !== SIZE) process.exit(1);
  }
  process.exit(0);
}

if (mode === "bare" || mode === "pipe" || mode === "socket") {
  // Both ends are C here: the parent of bench_msg on our CPU... pinned by taskset to the peer CPU,
  // its child to ours (BENCH_CPU2 for the child names this process's CPU).
  const args = mode === "bare" ? ["bare", String(count), String(SIZE), String(RING)] : [mode, String(count), String(SIZE)];
  const me = process.env.BENCH_CPU ?? "0";
  const { code, out } = await run([bin, ...args], { BENCH_CPU2: me });
  const r = lastJson(out);
  emit(r.msgs, r.seconds, code === 0 && r.ok);
}

const name = uniq();
if (mode === "c2ts" || mode === "ts2ts") {
  using xb = XBuf.create({ inbound: RING, outbound: 0, name: `/${name}` });
  const writer = mode === "c2ts"
    ? run([bin, "drv-write", name, String(count), String(SIZE)])
    : run(isDeno ? [process.execPath, "run", "-A", `${ROOT}bench/msgrate.ts`, "ts-writer", name, "--count", String(count)]
      : [process.execPath, `${ROOT}bench/msgrate.ts`, "ts-writer", name, "--count", String(count)]);
  const { seconds, ok } = readLoop(xb);
  const { code } = await writer;
  emit(count - 1, seconds, ok && code === 0);
}

if (mode === "ts2c") {
  using xb = XBuf.create({ inbound: 0, outbound: RING, name: `/${name}` });
  const reader = run([bin, "drv-read", name, String(count), String(SIZE)]);
  const msg = new Uint8Array(SIZE);
  const words = new Uint32Array(msg.buffer);
  for (let i = 0; i < count; i++) {
    words[0] = i;
    while (!xb.tryWrite(msg));
  }
  const { code, out } = await reader;
  const r = lastJson(out);
  emit(r.msgs, r.seconds, code === 0 && r.ok);
}

if (mode === "c2c" || mode === "c2c-fast") {
  // The element is ours (a public name); both of its ends are C processes pinned to the two CPUs.
  using xb = XBuf.create({ inbound: RING, outbound: 0, name: `/${name}` });
  const me = process.env.BENCH_CPU ?? "0";
  const reader = new Promise<{ code: number; out: string }>((resolve) => {
    const child = spawn("taskset", ["-c", me, bin, mode === "c2c" ? "app-read" : "app-fast-read", name, String(count), String(SIZE)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
  await new Promise((r) => setTimeout(r, 50)); // the reader claims its end before the writer starts
  const writer = run([bin, "drv-write", name, String(count), String(SIZE)]);
  const [{ code, out }, w] = await Promise.all([reader, writer]);
  const r = lastJson(out);
  void xb;
  emit(r.msgs, r.seconds, code === 0 && w.code === 0 && r.ok);
}
