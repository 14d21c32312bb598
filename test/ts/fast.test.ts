/**
 * The fast path (src/fast.ts, docs/ABI.md "The fast path of a binding"):
 * the ring arithmetic (from the low halves) against BigInt, positions across the 2^32
 * boundary (in process and with a C peer process reading our torn-free
 * halves), the mixing rule (C calls on an end the fast path owns: EBUSY),
 * and the wake rule (no wake for a sleeper whose condition cannot hold).
 */
import { describe, expect, test } from "vitest";
import { XBuf, XBufError } from "../../src/index.ts";
import { fill32, room32 } from "../../src/fast.ts";
import { getNative } from "../../src/ffi/index.ts";
import { XbufShmEndpoint } from "../../src/layout.ts";
import { Driver, ROOT, runTs, spawnPeer, spawnSync, uniqueName, sleep } from "./helpers.ts";

const userSpace = test.skipIf(process.env.XBUF_BACKEND === "kernel");
const M64 = (1n << 64n) - 1n;

function refFill(cap: bigint, prod: bigint, cons: bigint): bigint {
  const d = (prod - cons) & M64;
  if (d >> 63n) return 0n;
  return d > cap ? cap : d;
}
function refRoom(cap: bigint, prod: bigint, cons: bigint): bigint {
  const used = (prod - cons) & M64;
  return used > cap ? 0n : cap - used;
}
const halves = (v: bigint): [number, number] => [Number((v >> 32n) & 0xffffffffn), Number(v & 0xffffffffn)];

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof XBufError) return e.code;
    throw e;
  }
  throw new Error("expected an XBufError");
}

describe("ring arithmetic from the low halves (xbuf_abi_fill / xbuf_abi_room)", () => {
  test("exact for every honest pair (within capacity), the 2^32 boundary included; clamped into [0, capacity] for any other", () => {
    const caps = [1n, 4096n, 65536n, 1n << 30n];
    const interesting = [0n, 1n, 4095n, (1n << 32n) - 1n, 1n << 32n, (1n << 32n) + 1n, (1n << 33n) - 7n, 1n << 63n, M64, M64 - 4096n, 0x123456789abcn];
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return BigInt(seed);
    };
    const values: bigint[] = [...interesting];
    for (let i = 0; i < 60; i++) values.push((rnd() << 33n) ^ (rnd() << 2n) ^ rnd());
    let honest = 0;
    for (const cap of caps) {
      for (const c of values) {
        const cons = c & M64;
        const near = [cons, cons + 1n, cons + cap - 1n, cons + cap, cons + cap + 1n, cons - 1n, cons + (1n << 32n), cons - (1n << 32n) + 5n, cons + (1n << 31n)];
        for (const p of [...values, ...near]) {
          const prod = p & M64;
          const pl = Number(prod & 0xffffffffn);
          const cl = Number(cons & 0xffffffffn);
          const f = fill32(Number(cap), pl, cl);
          const r = room32(Number(cap), pl, cl);
          if (((prod - cons) & M64) <= cap) {
            honest++;
            expect(f).toBe(Number(refFill(cap, prod, cons)));
            expect(r).toBe(Number(refRoom(cap, prod, cons)));
          } else {
            expect(f >= 0 && f <= Number(cap)).toBe(true);
            expect(r >= 0 && r <= Number(cap)).toBe(true);
          }
        }
      }
    }
    expect(honest).toBeGreaterThan(1000);
  });
});

/** Set all four positions of a fresh user-space element to `pos` (nobody has used it yet). */
function startAt(xb: XBuf, pos: bigint): void {
  const native = getNative();
  const base = native.lib.xbuf_map_base(xb.fd);
  const page = new Uint32Array(native.foreignBuffer(base, 16))[2]!;
  const [hi, lo] = halves(pos);
  for (const side of [1, 2]) {
    for (const ep of [0, 1]) {
      const w = new Uint32Array(native.foreignBuffer(base + side * page + ep * XbufShmEndpoint.size, 8));
      w[0] = lo;
      w[1] = hi;
    }
  }
}

describe("positions across the 2^32 boundary", () => {
  userSpace("in process: a C driver writes, TypeScript reads, and back, through 2^32", () => {
    using xb = XBuf.create({ inbound: 4096, outbound: 4096 });
    const start = (1n << 32n) - 1000n;
    startAt(xb, start);
    const drv = new Driver(xb.fd);
    let total = 0;
    const msg = new Uint8Array(37);
    const into = new Uint8Array(37);
    for (let i = 0; i < 100; i++) {
      msg.fill(i & 0xff);
      expect(drv.write(msg)).toBe(37);
      expect(xb.tryReadInto(into)).toBe(37);
      expect(into.every((b) => b === (i & 0xff))).toBe(true);
      expect(xb.tryWrite(msg)).toBe(true);
      const back = drv.read(37) as Uint8Array;
      expect(back.length).toBe(37);
      expect(back.every((b) => b === (i & 0xff))).toBe(true);
      total += 37;
    }
    const st = xb.stat();
    expect(BigInt(st.inbound.consumed)).toBe(start + BigInt(total));
    expect(BigInt(st.outbound.produced)).toBe(start + BigInt(total));
    expect(st.inbound.fill).toBe(0);
    expect(st.outbound.fill).toBe(0);
    drv.put();
  });

  userSpace("with a C echo process: every message intact across the boundary, both directions", async () => {
    const name = uniqueName("two32");
    using xb = XBuf.create({ inbound: 4096, outbound: 4096, name: `/${name}` });
    const start = (1n << 32n) - 64n * 500n - 24n; // not a multiple of 64 from the boundary
    startAt(xb, start);
    const peer = spawnPeer(["echo", name, "--size", "64"]);
    const msg = new Uint8Array(64);
    const view = new DataView(msg.buffer);
    const back = new Uint8Array(64);
    const bv = new DataView(back.buffer);
    const trips = 2000;
    for (let i = 0; i < trips; i++) {
      view.setUint32(0, i, true);
      view.setUint32(60, ~i >>> 0, true);
      await xb.write(msg);
      let got = 0;
      while (got < 64) {
        const r = await xb.read(64 - got);
        back.set(r, got);
        got += r.length;
      }
      expect(bv.getUint32(0, true)).toBe(i);
      expect(bv.getUint32(60, true)).toBe(~i >>> 0);
    }
    const st = xb.stat();
    expect(BigInt(st.outbound.produced)).toBe(start + 64n * BigInt(trips));
    expect(BigInt(st.inbound.consumed)).toBe(start + 64n * BigInt(trips));
    xb.close();
    expect(await peer.exited).toBe(0);
  }, 60_000);
});

describe("the mixing rule: C calls on an end the fast path owns answer EBUSY", () => {
  const native = getNative();
  const slot = new BigUint64Array(1);

  userSpace("C borrows after the fast path took the end: EBUSY; the other end stays C's", () => {
    using xb = XBuf.create({ inbound: 4096, outbound: 4096 });
    const drv = new Driver(xb.fd);
    drv.write(new Uint8Array([1, 2, 3]));
    expect(Array.from(xb.tryRead(8)!)).toEqual([1, 2, 3]); // the fast path takes the inbound end
    drv.write(new Uint8Array([4]));
    expect(native.lib.xbuf_read_begin(xb.fd, 1, 1, native.addressOf(slot))).toBe(-16);
    // The outbound end was never used by the fast path: C may borrow it.
    expect(native.lib.xbuf_write_begin(xb.fd, 4, 1, native.addressOf(slot))).toBe(4);
    expect(native.lib.xbuf_write_end(xb.fd, 4)).toBe(0);
    drv.put();
  });

  test("a C borrow outstanding when the fast path comes: EBUSY, then fine once returned", () => {
    using xb = XBuf.create({ inbound: 4096, outbound: 4096 });
    expect(native.lib.xbuf_write_begin(xb.fd, 4, 1, native.addressOf(slot))).toBe(4);
    expect(code(() => xb.tryWrite(new Uint8Array(1)))).toBe("EBUSY");
    expect(native.lib.xbuf_write_end(xb.fd, 4)).toBe(0);
    expect(xb.tryWrite(new Uint8Array(1))).toBe(true);
    expect(xb.rings().outbound.fill).toBe(5);
    expect(native.lib.xbuf_write_begin(xb.fd, 4, 1, native.addressOf(slot))).toBe(-16);
  });

  test("two XBufs of one process on one element: the second gets EBUSY until the first closes", () => {
    const name = uniqueName("mix");
    const a = XBuf.create({ inbound: 64, outbound: 64, name: `/${name}` });
    const b = XBuf.open(name);
    expect(a.tryWrite(new Uint8Array(8))).toBe(true);
    expect(code(() => b.tryWrite(new Uint8Array(8)))).toBe("EBUSY");
    a.close();
    expect(b.tryWrite(new Uint8Array(8))).toBe(true); // the end went back with a's fd
    expect(b.rings().outbound.fill).toBe(16);
    b.close();
  });
});

describe("the wake rule", () => {
  userSpace("a C reader sleeping for 64 bytes is not woken by smaller writes, and is by the one that completes it", async () => {
    const name = uniqueName("wake");
    using xb = XBuf.create({ inbound: 4096, outbound: 4096, name: `/${name}` });
    // The echo peer reads 64 bytes at a time (blocking), then writes them back.
    const peer = spawnPeer(["echo", name, "--size", "64"]);
    xb.tryWrite(new Uint8Array(64)); // start: let the peer claim its ends and go to sleep
    await xb.read(64);
    while (xb.stat().outbound.consumerWaiters === 0) await sleep(1);
    const before = xb.stat().outbound.producerWakeups;
    for (let i = 0; i < 7; i++) expect(xb.tryWrite(new Uint8Array(8))).toBe(true); // 56 < 64
    await sleep(20);
    expect(xb.stat().outbound.producerWakeups).toBe(before); // no wake: its condition cannot hold
    expect(xb.tryWrite(new Uint8Array(8))).toBe(true); // 64
    expect((await xb.read(64)).length).toBe(64);
    expect(xb.stat().outbound.producerWakeups).toBe(before + 1);
    xb.close();
    expect(await peer.exited).toBe(0);
  }, 30_000);
});

describe("the peer's words are only read: a read-only driver page (as the kernel backend maps it)", () => {
  userSpace("readiness and commits, hot enough for the optimizing JIT tiers, over a PROT_READ driver page: no fault", () => {
    // In a child: before the fix, JSC's DFG tier compiled Atomics.load of
    // the peer's position to a lock cmpxchg and the process died of SIGSEGV.
    const r = spawnSync(runTs(`${ROOT}test/ts/fixtures/ro-peer-page.ts`, "300000"));
    expect(r.stderr.slice(-2000)).not.toMatch(/panic|Segmentation|Bus error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok 600000 \d+/);
  }, 120_000);
});
