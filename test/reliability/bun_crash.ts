// A `for await` loop over a driver-side producer (tools' xbuf_peer) that is
// killed mid-stream (SIGKILL at a random time): the loop ends (no hang), and
// what it got is exactly the published prefix: every byte is the test
// pattern (test/check.h) and the count is the producer's position.
//   bun test/reliability/bun_crash.ts ITERATIONS   prints "bun-crash: N passed, M failed"
import { XBuf } from "../../src/index.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const PEER = `${ROOT}zig-out/bin/xbuf_peer`;
const K = 0x9e3779b97f4a7c15n;
const M64 = (1n << 64n) - 1n;
const patternByte = (i: number): number => Number((((BigInt(i) * K) & M64) >> 56n) & 0xffn);

const iters = Number(process.argv[2] ?? 20);
let pass = 0, fail = 0;
for (let it = 0; it < iters; it++) {
  const name = `/bunrc.${process.pid}.${it}`;
  using xb = XBuf.create({ inbound: 4096, outbound: 0, name });
  const child = Bun.spawn([PEER, "produce", name, "--seconds", "30", "--chunk", String(1 + Math.floor(Math.random() * 1500))], {
    stdout: "ignore", stderr: "inherit",
  });
  const delay = 5 + Math.random() * 40;
  const killer = setTimeout(() => child.kill(9), delay);
  const hang = setTimeout(() => { console.error(`iteration ${it}: for-await did not end 5 s after the kill`); process.exit(1); }, delay + 5000);
  let got = 0, bad = -1;
  for await (const view of xb) {
    for (let k = 0; k < view.length; k++) if (view[k] !== patternByte(got + k)) { bad = got + k; break; }
    got += view.length;
    if (bad >= 0) break;
  }
  clearTimeout(killer); clearTimeout(hang);
  await child.exited;
  const produced = Number(xb.stat().inbound.produced);
  if (bad >= 0) { console.error(`iteration ${it}: corrupt byte at ${bad}`); fail++; }
  else if (got !== produced) { console.error(`iteration ${it}: got ${got} bytes, ${produced} published`); fail++; }
  else pass++;
}
console.log(`bun-crash: ${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
