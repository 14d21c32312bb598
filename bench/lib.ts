/**
 * What every benchmark program shares: paths, arguments, the consumer
 * loops (the same code whatever feeds them), checksums, and the one JSON
 * line a scenario program prints for bench/run.ts.
 */
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { dlopen, FFIType } from "bun:ffi";
import { RecordBatch, defineRecord, libraryPath } from "../src/index.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** A C helper of bench/c, built by `tools/zig build`. */
export function bin(name: string): string {
  const path = `${ROOT}zig-out/bin/${name}`;
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`tools/zig build\` first`);
  return path;
}

/** `--name value` from argv, or the fallback. */
export function arg(name: string, fallback: number): number;
export function arg(name: string, fallback: string): string;
export function arg(name: string, fallback: number | string): number | string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= process.argv.length) return fallback;
  const v = process.argv[i + 1]!;
  return typeof fallback === "number" ? Number(v) : v;
}

/** The first positional argument: which variant of the scenario to run. */
export function variant(choices: readonly string[]): string {
  const v = process.argv[2];
  if (!v || !choices.includes(v)) {
    console.error(`usage: bun ${process.argv[1]} ${choices.join("|")} [--options]`);
    process.exit(2);
  }
  return v;
}

export const now = (): number => Bun.nanoseconds() / 1e9;

/** Print the one result line of a scenario program and exit (1 when the data was wrong). */
export function emit(result: Record<string, unknown> & { ok: boolean }): never {
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
}

/** The producer's checksum line (bench_source prints it on stderr). */
export interface Checksum {
  bytes: number;
  sum: number;
  acc: number;
  lat: number;
}

export async function sourceChecksum(proc: { stderr: ReadableStream<Uint8Array>; exited: Promise<number> }): Promise<Checksum> {
  const text = await new Response(proc.stderr).text();
  const code = await proc.exited;
  const line = text.trim().split("\n").pop() ?? "";
  if (code !== 0 || !line.startsWith("{")) throw new Error(`bench_source failed (${code}): ${text}`);
  return JSON.parse(line) as Checksum;
}

/** Start bench_source: `kind` stream to `dest` (xbuf:NAME, fd:1, path:P, unix:P). */
export function source(kind: "bulk" | "records", dest: string, bytes: number, stdout: "pipe" | "ignore" = "ignore") {
  return Bun.spawn([bin("bench_source"), kind, dest, "--bytes", String(bytes)], { stdout, stderr: "pipe" });
}

/**
 * Bulk consumer: the sum of the stream's u32 words, mod 2^32, kept as an
 * int32 (bench/c/stream.h prints it as unsigned: compare with `>>> 0`).
 * Every view over the same buffer (a ring's mapping) reuses one Int32Array,
 * so summing allocates nothing. Views must start at a multiple of 4.
 */
export class WordSum {
  sum = 0;
  bytes = 0;
  #buffer: ArrayBufferLike | null = null;
  #words: Int32Array<ArrayBufferLike> = new Int32Array(0);

  add(view: Uint8Array): void {
    if (view.buffer !== this.#buffer) {
      this.#buffer = view.buffer;
      this.#words = new Int32Array(view.buffer, 0, view.buffer.byteLength >>> 2);
    }
    if ((view.byteOffset | view.length) & 3) throw new Error(`unaligned view: offset ${view.byteOffset}, length ${view.length}`);
    this.sum = sumWords(this.#words, view.byteOffset >>> 2, (view.byteOffset + view.length) >>> 2, this.sum);
    this.bytes += view.length;
  }

  matches(c: Checksum): boolean {
    return this.sum >>> 0 === c.sum && this.bytes === c.bytes;
  }
}

/** The loop itself: one add per word. */
export function sumWords(w: Int32Array, from: number, to: number, s: number): number {
  for (let i = from; i < to; i++) s = (s + w[i]!) | 0;
  return s;
}

/** struct latmus_record, as bench/c/stream.h declares it. */
const latmus = { sum_lat: "u64", min_lat: "s32", max_lat: "s32", overruns: "u32", samples: "u32" } as const;
export const Latmus = defineRecord(latmus);
export type LatmusBatch = RecordBatch<typeof latmus>;

/** Records consumer: decodes every field of every record; checksum as stream.h's. */
export class RecordSum {
  acc = 0;
  lat = -0;
  bytes = 0;

  /** Decode one batch (the binding's RecordBatch, or one made over any DataView). */
  add(batch: LatmusBatch): void {
    let acc = this.acc;
    let lat = this.lat;
    for (let i = 0; i < batch.length; i++) {
      const r = batch.at(i);
      acc = (acc + r.min_lat + r.max_lat + r.overruns + r.samples) | 0;
      lat += r.sum_lat;
    }
    this.acc = acc;
    this.lat = lat;
    this.bytes += batch.length * Latmus.size;
  }

  matches(c: Checksum): boolean {
    return this.acc === c.acc && this.lat === c.lat && this.bytes === c.bytes;
  }
}

/**
 * Turns a byte stream cut anywhere (a pipe, a socket) into whole units
 * (4-byte words, 24-byte records) in place; only a unit split across two
 * chunks is copied.
 */
export class Reassembler {
  #unit: number;
  #carry: Uint8Array;
  #held = 0;

  constructor(unit: number, private readonly whole: (view: Uint8Array) => void) {
    this.#unit = unit;
    this.#carry = new Uint8Array(unit);
  }

  push(chunk: Uint8Array): void {
    let at = 0;
    if (this.#held) {
      const take = Math.min(this.#unit - this.#held, chunk.length);
      this.#carry.set(chunk.subarray(0, take), this.#held);
      this.#held += take;
      at = take;
      if (this.#held < this.#unit) return;
      this.whole(this.#carry.slice());
      this.#held = 0;
    }
    const end = at + Math.floor((chunk.length - at) / this.#unit) * this.#unit;
    if (end > at) {
      const body = chunk.subarray(at, end);
      // Word sums need 4-byte alignment: copy the rare misaligned chunk.
      this.whole(body.byteOffset & 3 ? body.slice() : body);
    }
    if (end < chunk.length) {
      this.#carry.set(chunk.subarray(end), 0);
      this.#held = chunk.length - end;
    }
  }
}

/** A consumer of byte chunks for `kind`, with its checksum. */
export function chunkConsumer(kind: "bulk" | "records") {
  if (kind === "bulk") {
    const words = new WordSum();
    return { push: (v: Uint8Array) => words.add(v), matches: (c: Checksum) => words.matches(c), sum: words };
  }
  const records = new RecordSum();
  const batches = new WeakMap<ArrayBufferLike, LatmusBatch>();
  const push = (v: Uint8Array) => {
    let batch = batches.get(v.buffer);
    if (!batch) {
      batch = new RecordBatch(Latmus, new DataView(v.buffer));
      batches.set(v.buffer, batch);
    }
    records.add(batch.reset(v.byteOffset, v.length / Latmus.size));
  };
  return { push, matches: (c: Checksum) => records.matches(c), sum: records };
}

/** EVL's driver API from the binding's own libxbuf.so (the same fd table). */
export function driverApi() {
  return dlopen(libraryPath(), {
    evl_get_xbuf: { args: ["i32", "ptr"], returns: "ptr" },
    evl_put_xbuf: { args: ["ptr"], returns: "void" },
    evl_read_xbuf: { args: ["ptr", "ptr", "u64", "i32"], returns: FFIType.i64_fast },
    evl_write_xbuf: { args: ["ptr", "ptr", "u64", "i32"], returns: FFIType.i64_fast },
  }).symbols;
}

export const uniqueName = (what: string): string => `bench-${what}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/* Statistics. */

export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}
