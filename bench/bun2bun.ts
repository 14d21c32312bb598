/**
 * Scenario 4, Bun to Bun: one Bun writer, one Bun reader, 64 KiB writes,
 * the reader sums every u32 word (as in bulk.ts) and checks the writer's sum.
 *
 *   bun bench/bun2bun.ts xbuf|ringbuf [--bytes N] [--ring R]
 *
 *   xbuf     two processes through a public element: this process creates
 *            it and reads zero-copy with xb.views(); a second Bun process
 *            opens it by name and writes as its driver side (evl_write_xbuf
 *            through bun:ffi, blocking when full)
 *   ringbuf  ringbuf.js 0.4.0 (a SharedArrayBuffer SPSC ring) between two
 *            Bun workers: push() copies in, pop() copies out, both spin
 *            when the ring is full or empty (it has no blocking wait)
 *
 * Prints one JSON line: { mode, bytes, seconds, gbps, ok }.
 */
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { ptr } from "bun:ffi";
import { RingBuffer } from "ringbuf.js";
import { XBuf } from "../src/index.ts";
import { arg, driverApi, emit, now, Reassembler, uniqueName, WordSum } from "./lib.ts";

const CHUNK = 65536;

/** The writer's data: 17 random chunks, cycled. */
function chunks(): Uint8Array[] {
  return Array.from({ length: 17 }, () => crypto.getRandomValues(new Uint8Array(CHUNK)));
}

/** The sum the reader must find after `n` chunks of the cycle. */
function expectedSum(data: Uint8Array[], n: number): number {
  const sum = new WordSum();
  for (let j = 0; j < n; j++) sum.add(data[j % data.length]!);
  return sum.sum;
}

/** Second process of the xbuf mode: the writer. */
function xbufWriter(name: string, n: number): void {
  const drv = driverApi();
  const xb = XBuf.open(name);
  const slot = new BigUint64Array(1);
  const handle = drv.evl_get_xbuf(xb.fd, ptr(slot));
  if (!handle) throw new Error("evl_get_xbuf failed");
  const data = chunks();
  const addresses = data.map((c) => ptr(c));
  for (let j = 0; j < n; j++) {
    const ret = drv.evl_write_xbuf(handle, addresses[j % data.length]!, CHUNK, 0) as number;
    if (ret !== CHUNK) throw new Error(`evl_write_xbuf: ${ret}`);
  }
  console.log(JSON.stringify({ sum: expectedSum(data, n) }));
  drv.evl_put_xbuf(Number(slot[0]) as never);
  xb.close();
}

async function xbufReader(n: number, ring: number) {
  const name = uniqueName("b2b");
  const xb = XBuf.create({ inbound: ring, outbound: 0, name: `/${name}` });
  const writer = Bun.spawn([process.execPath, import.meta.path, "writer", "--name", name, "--chunks", String(n)], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const sum = new WordSum();
  let t0 = 0;
  for await (const view of xb.views()) {
    t0 ||= now();
    sum.add(view);
    if (sum.bytes >= n * CHUNK) break;
  }
  const seconds = now() - t0;
  xb.close();
  const out = await new Response(writer.stdout).text();
  const ok = (await writer.exited) === 0 && JSON.parse(out).sum === sum.sum;
  return { bytes: sum.bytes, seconds, ok };
}

/** ringbuf.js: the main thread starts both workers and collects their reports. */
async function ringbufPair(n: number, ring: number) {
  const sab = RingBuffer.getStorageForCapacity(ring, Uint8Array);
  const start = (role: string) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { role, sab, n } });
    return new Promise<any>((resolve, reject) => {
      w.on("message", resolve);
      w.on("error", reject);
    });
  };
  const [reader, writer] = await Promise.all([start("reader"), start("writer")]);
  return { bytes: reader.bytes, seconds: reader.seconds, ok: reader.sum === writer.sum && reader.bytes === n * CHUNK };
}

function ringbufWorker({ role, sab, n }: { role: string; sab: SharedArrayBuffer; n: number }) {
  const rb = new RingBuffer(sab, Uint8Array as never);
  if (role === "writer") {
    const data = chunks();
    for (let j = 0; j < n; j++) {
      const c = data[j % data.length]!;
      for (let off = 0; off < CHUNK; ) off += rb.push(c, CHUNK - off, off);
    }
    parentPort!.postMessage({ sum: expectedSum(data, n) });
    return;
  }
  const sum = new WordSum();
  const stream = new Reassembler(4, (v) => sum.add(v));
  const buf = new Uint8Array(CHUNK);
  let t0 = 0;
  while (sum.bytes < n * CHUNK) {
    const got = rb.pop(buf, CHUNK);
    if (!got) continue;
    t0 ||= now();
    stream.push(buf.subarray(0, got));
  }
  parentPort!.postMessage({ sum: sum.sum, bytes: sum.bytes, seconds: now() - t0 });
}

if (!isMainThread) {
  ringbufWorker(workerData);
} else if (process.argv[2] === "writer") {
  xbufWriter(arg("name", ""), arg("chunks", 0));
} else {
  const mode = process.argv[2];
  const n = Math.ceil(arg("bytes", 2 ** 30) / CHUNK);
  const ring = arg("ring", 4 << 20);
  if (mode !== "xbuf" && mode !== "ringbuf") {
    console.error("usage: bun bench/bun2bun.ts xbuf|ringbuf [--bytes N] [--ring R]");
    process.exit(2);
  }
  const m = mode === "xbuf" ? await xbufReader(n, ring) : await ringbufPair(n, ring);
  emit({ mode, ...m, gbps: m.bytes / m.seconds / 1e9 });
}
