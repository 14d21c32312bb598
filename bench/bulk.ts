/**
 * Scenario 1, bulk: a C driver-side producer (bench/c/bench_source.c)
 * streams 64 KiB writes; the consumer touches every byte (sums the stream
 * as u32 words) and checks the sum against the producer's.
 *
 *   bun bench/bulk.ts CONSUMER [--bytes N] [--ring R]
 *
 * Consumers (the same set serves scenario 2, bench/records.ts):
 *   xbuf-views     Bun, zero-copy: for await (const view of xb.views()); records: xb.recordBatches()
 *                  decoded by typedDecode() over batch.arrays (the same function as js-typed)
 *   xbuf-cursor    records only: xb.recordBatches(), decoded through batch.at(i) (RecordSum, as js-resident)
 *   xbuf-read      Bun, copying: await xb.read(65536)
 *   c-ring         C, zero-copy xbuf_read_begin/end on the same ring (bench_sink)
 *   js-resident    the same JavaScript loop over a ring-sized buffer already in memory (records: batch.at(i))
 *   js-typed       records only: typedDecode() over typed arrays of a resident buffer
 *   c-resident     the same C loop over resident memory: the machine's bound
 *   pipe-stream    Bun: the producer's stdout, Bun.spawn(...).stdout (a ReadableStream)
 *   pipe-readsync  Bun: a FIFO read with node:fs readSync() into one reused buffer
 *   socket         Bun: a unix stream socket, Bun.listen({ unix }) data callback
 *
 * Prints one JSON line: { consumer, bytes, seconds, ok }.
 */
import { openSync, readSync, closeSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { XBuf, RecordBatch } from "../src/index.ts";
import {
  arg, bin, chunkConsumer, emit, Latmus, now, RecordSum, Reassembler, source, sourceChecksum,
  uniqueName, variant, WordSum, type Checksum,
} from "./lib.ts";

export const CONSUMERS = [
  "xbuf-views", "xbuf-cursor", "xbuf-read", "c-ring", "js-resident", "js-typed", "c-resident", "pipe-stream", "pipe-readsync", "socket",
] as const;

type Kind = "bulk" | "records";

/** Bytes per producer write: 64 KiB, or the whole records that fit in it. */
const chunkOf = (kind: Kind) => (kind === "bulk" ? 65536 : 2730 * Latmus.size);
const unitOf = (kind: Kind) => (kind === "bulk" ? 4 : Latmus.size);

interface Measured {
  bytes: number;
  seconds: number;
  ok: boolean;
  /** xbuf-views: how often the ring was found empty (each one an armed wait). */
  waits?: number;
}

/** Run one consumer of a `kind` stream and print its result line. */
export async function streamScenario(kind: Kind): Promise<never> {
  const consumer = variant(CONSUMERS);
  const bytes = arg("bytes", 2 ** 31);
  const ring = arg("ring", 4 << 20);
  const total = Math.ceil(bytes / chunkOf(kind)) * chunkOf(kind);
  const run: Record<(typeof CONSUMERS)[number], () => Promise<Measured>> = {
    "xbuf-views": () => (kind === "bulk" ? xbufViews(total, ring) : xbufRecords(total, ring, true)),
    "xbuf-cursor": () => xbufRecords(total, ring, false),
    "xbuf-read": () => xbufRead(kind, total, ring),
    "c-ring": () => cSink(["ring", kind, "--bytes", String(total), "--ring", String(ring), "--source", bin("bench_source")]),
    "js-resident": () => jsResident(kind, total, ring),
    "js-typed": () => jsResident(kind, total, ring, true),
    "c-resident": () => cSink(["resident", kind, "--bytes", String(total), "--size", String(ring)]),
    "pipe-stream": () => pipeStream(kind, total),
    "pipe-readsync": () => pipeReadSync(kind, total),
    socket: () => unixSocket(kind, total),
  };
  const m = await run[consumer as (typeof CONSUMERS)[number]]();
  emit({ consumer, ...m, gbps: m.bytes / m.seconds / 1e9 });
}

/** A cross-buffer with a C producer attached. */
function xbufWithSource(kind: Kind, total: number, ring: number) {
  const name = uniqueName(kind);
  const xb = XBuf.create({ inbound: ring, outbound: 0, name: `/${name}` });
  return { xb, proc: source(kind, `xbuf:${name}`, total) };
}

function verdict(seconds: number, check: { bytes: number; matches(c: Checksum): boolean }, c: Checksum): Measured {
  if (!check.matches(c)) console.error(`checksum mismatch: got ${JSON.stringify(check)}, producer ${JSON.stringify(c)}`);
  return { bytes: check.bytes, seconds, ok: check.matches(c) };
}

async function xbufViews(total: number, ring: number): Promise<Measured> {
  const { xb, proc } = xbufWithSource("bulk", total, ring);
  const sum = new WordSum();
  let t0 = 0;
  for await (const view of xb.views()) {
    t0 ||= now();
    sum.add(view);
    if (sum.bytes >= total) break;
  }
  const seconds = now() - t0;
  const waits = xb.stat().inbound.readEagain;
  xb.close();
  return { ...verdict(seconds, sum, await sourceChecksum(proc)), waits };
}

/**
 * recordBatches(): typed (xbuf-views) decodes each batch with typedDecode() over
 * batch.arrays, the very function js-typed runs over resident memory; otherwise
 * (xbuf-cursor) through batch.at(i), the loop js-resident runs.
 */
async function xbufRecords(total: number, ring: number, typed: boolean): Promise<Measured> {
  const { xb, proc } = xbufWithSource("records", total, ring);
  const sum = new RecordSum();
  let t0 = 0;
  for await (const batch of xb.recordBatches(Latmus)) {
    t0 ||= now();
    if (typed) {
      const { u32, i32 } = batch.arrays;
      typedDecode(u32, i32, batch.start, batch.length, sum);
    } else sum.add(batch);
    if (sum.bytes >= total) break;
  }
  const seconds = now() - t0;
  xb.close();
  return verdict(seconds, sum, await sourceChecksum(proc));
}

async function xbufRead(kind: Kind, total: number, ring: number): Promise<Measured> {
  const { xb, proc } = xbufWithSource(kind, total, ring);
  const consumer = chunkConsumer(kind);
  const chunk = chunkOf(kind);
  let t0 = 0;
  while (consumer.sum.bytes < total) {
    const copy = await xb.read(chunk);
    t0 ||= now();
    consumer.push(copy);
  }
  const seconds = now() - t0;
  xb.close();
  return verdict(seconds, consumer.sum, await sourceChecksum(proc));
}

/** The JavaScript loop alone: views over a resident, ring-sized buffer. */
/**
 * The best hand-written decode of the records over resident memory: typed
 * arrays indexed at computed offsets, no cursor (the records target's bound).
 */
function typedDecode(u32: Uint32Array, i32: Int32Array, from: number, records: number, sum: RecordSum): void {
  let acc = sum.acc;
  let lat = sum.lat;
  for (let r = 0, w = from >> 2; r < records; r++, w += 6) {
    lat += u32[w]! + u32[w + 1]! * 4294967296;
    acc = (acc + i32[w + 2]! + i32[w + 3]! + u32[w + 4]! + u32[w + 5]!) | 0;
  }
  sum.acc = acc;
  sum.lat = lat;
  sum.bytes += records * 24;
}

async function jsResident(kind: Kind, total: number, ring: number, typed = false): Promise<Measured> {
  const chunk = chunkOf(kind);
  const chunks = Math.max(1, Math.floor(ring / chunk));
  const buf = new Uint8Array(chunks * chunk);
  crypto.getRandomValues(buf.subarray(0, 65536));
  for (let i = 65536; i < buf.length; i += 65536) buf.copyWithin(i, i - 65536 + 4, i + 4); // varied, cheap
  if (kind === "records") {
    // Keep sum_lat below 2^53 (a u64 read as a number) and exercise its high word.
    const dv = new DataView(buf.buffer);
    for (let o = 0; o < buf.length; o += Latmus.size) dv.setUint32(o + 4, dv.getUint32(o + 4, true) & 0xff, true);
  }
  const expect = reference(kind, buf);
  const passes = Math.ceil(total / buf.length);
  const words = new WordSum();
  const records = new RecordSum();
  const batch = new RecordBatch(Latmus, new DataView(buf.buffer));
  const u32 = new Uint32Array(buf.buffer);
  const i32 = new Int32Array(buf.buffer);
  let seconds = 0;
  let ok = true;
  for (let p = 0; p < passes; p++) {
    const before = kind === "bulk" ? words.sum : records.acc;
    const t0 = now();
    if (kind === "bulk") for (let off = 0; off < buf.length; off += chunk) words.add(buf.subarray(off, off + chunk));
    else if (typed) for (let off = 0; off < buf.length; off += chunk) typedDecode(u32, i32, off, chunk / Latmus.size, records);
    else for (let off = 0; off < buf.length; off += chunk) records.add(batch.reset(off, chunk / Latmus.size));
    seconds += now() - t0;
    // Each pass must add exactly the buffer's checksum, read independently.
    ok &&= (((kind === "bulk" ? words.sum : records.acc) - before) | 0) === expect;
  }
  if (!ok) console.error("js-resident: checksum mismatch");
  return { bytes: kind === "bulk" ? words.bytes : records.bytes, seconds, ok };
}

/** An independent reading of the buffer, to check the measured loop. */
function reference(kind: Kind, buf: Uint8Array): number {
  const dv = new DataView(buf.buffer);
  let sum = 0;
  let acc = 0;
  if (kind === "bulk") for (let o = 0; o < buf.length; o += 4) sum = (sum + dv.getUint32(o, true)) >>> 0;
  else
    for (let o = 0; o < buf.length; o += Latmus.size)
      acc = (acc + dv.getInt32(o + 8, true) + dv.getInt32(o + 12, true) + dv.getUint32(o + 16, true) + dv.getUint32(o + 20, true)) | 0;
  return kind === "bulk" ? sum | 0 : acc;
}

async function cSink(args: string[]): Promise<Measured> {
  const proc = Bun.spawn([bin("bench_sink"), ...args], { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(proc.stdout).text();
  const code = await proc.exited;
  const r = JSON.parse(out.trim() || "{}") as Measured;
  return { bytes: r.bytes, seconds: r.seconds, ok: code === 0 && r.ok === true };
}

/** The producer's stdout as Bun.spawn hands it out: a ReadableStream of chunks. */
async function pipeStream(kind: Kind, total: number): Promise<Measured> {
  const proc = source(kind, "fd:1", total, "pipe");
  const consumer = chunkConsumer(kind);
  const stream = new Reassembler(unitOf(kind), consumer.push);
  let t0 = 0;
  for await (const chunk of proc.stdout!) {
    t0 ||= now();
    stream.push(chunk);
  }
  const seconds = now() - t0;
  return verdict(seconds, consumer.sum, await sourceChecksum(proc));
}

/** A FIFO read synchronously into one reused 1 MiB buffer: no allocation per read. */
async function pipeReadSync(kind: Kind, total: number): Promise<Measured> {
  const fifo = `${tmpdir()}/${uniqueName("fifo")}`;
  if (Bun.spawnSync(["mkfifo", fifo]).exitCode !== 0) throw new Error("mkfifo failed");
  const proc = source(kind, `path:${fifo}`, total);
  const fd = openSync(fifo, "r"); // returns once the producer opened its end
  const consumer = chunkConsumer(kind);
  const stream = new Reassembler(unitOf(kind), consumer.push);
  const buf = new Uint8Array(1 << 20);
  let t0 = 0;
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    t0 ||= now();
    stream.push(buf.subarray(0, n));
  }
  const seconds = now() - t0;
  closeSync(fd);
  rmSync(fifo);
  return verdict(seconds, consumer.sum, await sourceChecksum(proc));
}

/** A unix stream socket: Bun.listen's data callback. */
async function unixSocket(kind: Kind, total: number): Promise<Measured> {
  const path = `${tmpdir()}/${uniqueName("sock")}`;
  const consumer = chunkConsumer(kind);
  const stream = new Reassembler(unitOf(kind), consumer.push);
  let t0 = 0;
  let t1 = 0;
  const { promise: closed, resolve } = Promise.withResolvers<void>();
  const server = Bun.listen({
    unix: path,
    socket: {
      data(_socket, chunk) {
        t0 ||= now();
        stream.push(chunk);
      },
      close() {
        t1 = now();
        resolve();
      },
    },
  });
  const proc = source(kind, `unix:${path}`, total);
  await closed;
  server.stop(true);
  rmSync(path, { force: true });
  return verdict(t1 - t0, consumer.sum, await sourceChecksum(proc));
}

if (import.meta.main) await streamScenario("bulk");
