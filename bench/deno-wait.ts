/**
 * How the Deno adapter calls C and waits (src/ffi/deno.ts), measured:
 *
 *   deno run -A bench/deno-wait.ts [--rounds N]
 *
 * calls  ns per FFI call: a u64 as a bigint or a number, a pointer as a
 *        "usize" bigint or a Deno.PointerValue (cached, or made per call),
 *        and the adapter's generated wrapper as XBuf calls it.
 * wait   each way of reading the notify pipe, plugged in as Native.readByte:
 *          socket       node:net Socket over the fd (the adapter's choice)
 *          fsfile       Deno.open("/proc/self/fd/N"), FsFile.read()
 *          nonblocking  read(2) as a `nonblocking: true` FFI call
 *        Each in its own process. For each: µs per round trip of a 64-byte ping-pong with the C echo
 *        peer (spinUs 0, echo 20 µs late: every read sleeps and is woken
 *        through the pipe), the threads the process has while eight reads
 *        wait (by name: "deno" counts libxbuf's eight notifier threads too,
 *        "tokio-runtime-w" is Deno's blocking pool), and how long a
 *        readTextFile takes then.
 */
import { spawn } from "node:child_process";
import { XBuf, libraryPath } from "../src/index.ts";
import { getNative } from "../src/ffi/index.ts";
import type { Native } from "../src/ffi/native.ts";

// deno-lint-ignore no-explicit-any
const D = (globalThis as any).Deno;
if (!D) throw new Error("run this under Deno: deno run -A bench/deno-wait.ts");
const ROOT = new URL("..", import.meta.url).pathname;
const argRounds = process.argv.indexOf("--rounds");
const ROUNDS = argRounds > 0 ? Number(process.argv[argRounds + 1]) : 5000;

function perCall(f: () => unknown, n: number): number {
  for (let i = 0; i < 100_000; i++) f();
  const t = performance.now();
  for (let i = 0; i < n; i++) f();
  return ((performance.now() - t) * 1e6) / n;
}

function calls(): Record<string, number> {
  const raw = D.dlopen(libraryPath(), {
    poll_u64: { name: "xbuf_poll", parameters: ["i32", "i32", "u64", "i32"], result: "i32" },
    rb_usize: { name: "xbuf_read_begin", parameters: ["i32", "u64", "i32", "usize"], result: "i64" },
    rb_ptr: { name: "xbuf_read_begin", parameters: ["i32", "u64", "i32", "pointer"], result: "i64" },
  }).symbols;
  const xb = XBuf.create({ inbound: 4096, outbound: 4096 });
  const lib = getNative().lib;
  const slot = new BigUint64Array(1);
  const p = D.UnsafePointer.of(slot);
  const addr = Number(D.UnsafePointer.value(p));
  const fd = xb.fd;
  const k = 7;
  const r = {
    "u64 as bigint": perCall(() => raw.poll_u64(fd, 1, BigInt(k), 0), 2_000_000),
    "u64 as number": perCall(() => raw.poll_u64(fd, 1, k, 0), 200_000),
    "pointer as usize bigint": perCall(() => raw.rb_usize(fd, BigInt(k), 1, BigInt(addr)), 2_000_000),
    "pointer as cached PointerValue": perCall(() => raw.rb_ptr(fd, BigInt(k), 1, p), 2_000_000),
    "pointer as PointerValue per call": perCall(() => raw.rb_ptr(fd, BigInt(k), 1, D.UnsafePointer.create(BigInt(addr))), 2_000_000),
    "adapter xbuf_read_begin (numbers in, number out)": perCall(() => lib.xbuf_read_begin(fd, k, 1, addr), 2_000_000),
    "adapter xbuf_poll": perCall(() => lib.xbuf_poll(fd, 1, k, 0), 2_000_000),
  };
  xb.close();
  return Object.fromEntries(Object.entries(r).map(([key, v]) => [key, Math.round(v * 10) / 10]));
}

type Scheme = Pick<Native, "readByte" | "closeFd">;

function schemes(native: Native): Record<string, Scheme> {
  const libc = D.dlopen(libraryPath(), {
    read: { parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
    close: { parameters: ["i32"], result: "i32" },
  }).symbols;
  const files = new Map<number, { read(b: Uint8Array): Promise<number | null>; close(): void }>();
  return {
    socket: { readByte: native.readByte, closeFd: native.closeFd },
    fsfile: {
      readByte: async (fd) => {
        let f = files.get(fd);
        if (!f) files.set(fd, (f = await D.open(`/proc/self/fd/${fd}`, { read: true })));
        const b = new Uint8Array(1);
        return (await f!.read(b)) ? b[0]! : -1;
      },
      closeFd: (fd) => {
        files.get(fd)?.close();
        files.delete(fd);
        libc.close(fd);
      },
    },
    nonblocking: {
      readByte: async (fd) => {
        const b = new Uint8Array(1);
        const n = Number(await libc.read(fd, b, 1n));
        return n === 1 ? b[0]! : -1;
      },
      closeFd: (fd) => libc.close(fd),
    },
  };
}

/** Threads of this process by name (libxbuf's notifier threads are "xbuf-*" or the runtime's name). */
function threads(): Record<string, number> {
  const names: Record<string, number> = {};
  for (const t of D.readDirSync("/proc/self/task")) {
    const comm = D.readTextFileSync(`/proc/self/task/${t.name}/comm`).trim();
    names[comm] = (names[comm] ?? 0) + 1;
  }
  return names;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pingPong(): Promise<number> {
  const name = `bench-dw-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const xb = XBuf.create({ inbound: 4096, outbound: 4096, name: `/${name}`, spinUs: 0 });
  const peer = spawn(`${ROOT}zig-out/bin/xbuf_peer`, ["echo", name, "--size", "64", "--delay-us", "20"], { stdio: "ignore" });
  const exited = new Promise((r) => peer.on("exit", r));
  const msg = new Uint8Array(64);
  for (let i = 0; i < 200; i++) (await xb.write(msg), await xb.read(64)); // warm-up
  const t = performance.now();
  for (let i = 0; i < ROUNDS; i++) {
    await xb.write(msg);
    await xb.read(64);
  }
  const us = ((performance.now() - t) * 1000) / ROUNDS;
  xb.close();
  await exited;
  return Math.round(us * 10) / 10;
}

async function eightWaits(): Promise<Record<string, unknown>> {
  await sleep(100);
  const threadsIdle = threads();
  const xbs = Array.from({ length: 8 }, () => XBuf.create({ inbound: 4096, outbound: 4096, spinUs: 0 }));
  const pending = xbs.map((x) => x.read(1).catch((e) => e.code));
  await sleep(200);
  const threadsWaiting = threads();
  const t = performance.now();
  await D.readTextFile(new URL(import.meta.url));
  const readTextFileMs = Math.round((performance.now() - t) * 100) / 100;
  for (const x of xbs) x.close();
  await Promise.all(pending);
  return { threadsIdle, threadsWaiting, readTextFileMs };
}

const argScheme = process.argv.indexOf("--scheme");
if (argScheme > 0) {
  // One scheme in a fresh process: the thread counts are its own.
  const native = getNative() as { -readonly [K in keyof Native]: Native[K] };
  const scheme = schemes(native)[process.argv[argScheme + 1]!]!;
  native.readByte = scheme.readByte;
  native.closeFd = scheme.closeFd;
  console.log(JSON.stringify({ roundTripUs: await pingPong(), ...(await eightWaits()) }));
} else {
  const result: Record<string, unknown> = { deno: D.version.deno, rounds: ROUNDS, calls_ns: calls() };
  for (const name of ["socket", "fsfile", "nonblocking"]) {
    const run = new D.Command(D.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname, "--scheme", name, "--rounds", String(ROUNDS)],
      stderr: "inherit",
    }).outputSync();
    result[name] = JSON.parse(new TextDecoder().decode(run.stdout));
  }
  console.log(JSON.stringify(result, null, 1));
}
