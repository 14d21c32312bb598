/**
 * The main job for now: a C driver-side producer (tools/c/xbuf_peer, using
 * only EVL's evl_write_xbuf) streams into a cross-buffer for a few seconds;
 * Bun consumes it through zero-copy views, sums every byte as u32 words,
 * and prints the throughput.
 *
 *   bun examples/stream.ts [seconds]
 */
import { XBuf } from "../src/index.ts";

const seconds = Number(process.argv[2] ?? 3);
const name = `stream-${process.pid}`;
const peer = new URL("../zig-out/bin/xbuf_peer", import.meta.url).pathname;

using xb = XBuf.create({ inbound: 1 << 20, outbound: 4096, name: `/${name}` });
const producer = Bun.spawn([peer, "produce", name, "--seconds", String(seconds), "--chunk", "65536", "--static", "1"], {
  stdout: "pipe",
  stderr: "inherit",
});

/** Sum a view as little-endian u32 words (the producer writes whole 64 KiB chunks). */
function sumWords(view: Uint8Array, sum: number): number {
  const words = new Uint32Array(view.buffer, view.byteOffset, view.length >>> 2);
  for (let k = 0; k < words.length; k++) sum = (sum + words[k]!) | 0;
  return sum;
}

async function consume(): Promise<{ bytes: number; sum: number }> {
  let bytes = 0;
  let sum = 0;
  const start = performance.now();
  let lastReport = start;
  let lastBytes = 0;
  // Each view is a subarray of the mapped ring: nothing is copied. The loop
  // ends when the producer lets go of the ring and its last byte is read.
  for await (const view of xb) {
    sum = sumWords(view, sum);
    bytes += view.length;
    const now = performance.now();
    if (now - lastReport >= 1000) {
      const rate = (bytes - lastBytes) / (now - lastReport) / 1e6;
      console.log(`${((now - start) / 1000).toFixed(1)} s  ${rate.toFixed(2)} GB/s`);
      lastReport = now;
      lastBytes = bytes;
    }
  }
  return { bytes, sum: sum >>> 0 };
}

const start = performance.now();
const { bytes, sum } = await consume();
const elapsed = (performance.now() - start) / 1000;
const producerLine = (await new Response(producer.stdout).text()).trim();
const code = await producer.exited;
const stat = xb.stat().inbound;
console.log(`total ${(bytes / 2 ** 30).toFixed(2)} GiB in ${elapsed.toFixed(2)} s: ${(bytes / elapsed / 1e9).toFixed(2)} GB/s (checksum ${sum.toString(16)})`);
console.log(`producer: ${producerLine}; ${stat.writes} writes, ${stat.reads} batches read, ${stat.producerWakeups} wake-ups`);
if (code !== 0 || bytes !== stat.produced) {
  console.error(`error: producer exit ${code}, ${bytes} of ${stat.produced} bytes read`);
  process.exit(1);
}
