/**
 * Scenario 5, memory: a long zero-copy stream (bench_source, bulk) read
 * with xb.views(); the consumer's RSS is sampled along the way, and the
 * JavaScript heap is measured around it.
 *
 *   bun bench/memory.ts [--bytes N] [--ring R]
 *
 * Reports:
 *   rss*         process.memoryUsage().rss (MiB) after warm-up, at the end, the highest sample,
 *                and the growth over the second half of the stream
 *   heapBefore/After  the JS heap's cells (KiB) after a full GC, before and after the stream:
 *                bun:jsc heapStats().heapSize - extraMemorySize. heapSize alone counts the
 *                "extra memory" of external buffers too (the ring's two 4 MiB mappings, Bun's own
 *                stream buffers): ~10 MB of its ~11, moving by hundreds of KiB between samples
 *                whatever the stream did (it made the old criterion say "no" at +2.4 MB with
 *                ~100 more live objects, none per step)
 *   extraBefore/After  heapStats().extraMemorySize (KiB), for context
 *   objectsBefore/After  heapStats().objectCount after a full GC
 *   allocPerStep bytes the heap grew per views() step while streaming, GCs excluded
 *                (bun:jsc heapSize() sampled at every step; its drops are collections)
 *
 * Prints one JSON line; ok when the checksum matches.
 */
import * as jsc from "bun:jsc";
import { XBuf } from "../src/index.ts";
import { arg, emit, source, sourceChecksum, uniqueName, WordSum } from "./lib.ts";

const bytes = Math.ceil(arg("bytes", 2 ** 33) / 65536) * 65536;
const ring = arg("ring", 4 << 20);
const MiB = 2 ** 20;

const name = uniqueName("mem");
const xb = XBuf.create({ inbound: ring, outbound: 0, name: `/${name}` });
const proc = source("bulk", `xbuf:${name}`, bytes);
const sum = new WordSum();

const samples: { at: number; rss: number }[] = [];
const sampleEvery = Math.max(ring, Math.floor(bytes / 64));
let nextSample = 0;
let rssWarm = 0;
let heapBefore = 0;
let extraBefore = 0;
let objectsBefore = 0;
let steps = 0;
let grown = 0;
let last = 0;

for await (const view of xb.views()) {
  sum.add(view);
  steps++;
  const h = jsc.heapSize();
  if (h > last) grown += h - last;
  last = h;
  if (sum.bytes >= nextSample) {
    if (!rssWarm && sum.bytes >= 16 * ring) {
      // Warmed up: the JIT has compiled the loop and the ring is mapped in.
      jsc.fullGC();
      const s = jsc.heapStats();
      heapBefore = s.heapSize - s.extraMemorySize;
      extraBefore = s.extraMemorySize;
      objectsBefore = s.objectCount;
      rssWarm = process.memoryUsage().rss;
      last = jsc.heapSize();
      grown = 0;
      steps = 0;
    }
    samples.push({ at: sum.bytes, rss: process.memoryUsage().rss });
    nextSample += sampleEvery;
  }
  if (sum.bytes >= bytes) break;
}
const rssEnd = process.memoryUsage().rss;
xb.close();
jsc.fullGC();
const after = jsc.heapStats();
const c = await sourceChecksum(proc);

const half = samples.filter((s) => s.at >= bytes / 2);
const mib = (b: number) => Math.round((b / MiB) * 10) / 10;
emit({
  bytes: sum.bytes,
  steps,
  rssWarm: mib(rssWarm),
  rssEnd: mib(rssEnd),
  rssMax: mib(Math.max(...samples.map((s) => s.rss))),
  rssGrowthSecondHalf: mib(half.length ? half[half.length - 1]!.rss - half[0]!.rss : 0),
  heapBefore: Math.round(heapBefore / 1024),
  heapAfter: Math.round((after.heapSize - after.extraMemorySize) / 1024),
  extraBefore: Math.round(extraBefore / 1024),
  extraAfter: Math.round(after.extraMemorySize / 1024),
  objectsBefore,
  objectsAfter: after.objectCount,
  allocPerStep: steps ? Math.round(grown / steps) : 0,
  rssSamples: samples.map((s) => [mib(s.at), mib(s.rss)]),
  ok: sum.matches(c),
});
