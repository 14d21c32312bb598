/**
 * EVL semantics through the binding, against a C driver-side peer process
 * and against the driver API in this process; views across the wrap;
 * fixed-size records read in place.
 */
import { describe, expect, test } from "vitest";
import { XBuf, XBufError, defineRecord } from "../../src/index.ts";
import { Driver, Pattern, ROOT, runTs, spawnPeer, spawnSync, uniqueName, sleep, O_NONBLOCK } from "./helpers.ts";

describe("semantics", () => {
  test("read(n) waits for exactly n bytes across several driver writes", async () => {
    using xb = XBuf.create({ inbound: 100, outbound: 100 });
    const drv = new Driver(xb.fd);
    const pending = xb.read(100);
    let settled = false;
    void pending.then(() => (settled = true));
    drv.write(new Uint8Array(30).fill(1));
    await sleep(20);
    drv.write(new Uint8Array(30).fill(2));
    await sleep(20);
    expect(settled).toBe(false); // 60 of 100: still waiting
    drv.write(new Uint8Array(40).fill(3));
    const got = await pending;
    expect(got.length).toBe(100);
    expect([got[0], got[30], got[99]]).toEqual([1, 2, 3]);
    drv.put();
  });

  test("short read only while a peer writer is blocked for room", async () => {
    const name = uniqueName("short");
    using xb = XBuf.create({ inbound: 1000, outbound: 16, name: `/${name}` });
    // 1500 bytes in 600-byte writes: the second write cannot fit beside the first.
    const peer = spawnPeer(["produce", name, "--bytes", "1500", "--chunk", "600"]);
    const pattern = new Pattern(0);
    while (xb.stat().inbound.producerWaiters === 0) await sleep(1);
    const first = await xb.read(1000);
    expect(first.length).toBe(600); // short: the writer needs 600, only 400 free
    expect(pattern.check(first)).toBe(-1);
    const second = await xb.read(600);
    expect(pattern.check(second)).toBe(-1);
    const third = await xb.read(300);
    expect(pattern.check(third)).toBe(-1);
    expect(await peer.exited).toBe(0);
  });

  test("writes are atomic and reach a C peer process intact", async () => {
    const name = uniqueName("toc");
    using xb = XBuf.create({ inbound: 16, outbound: 4096, name: `/${name}` });
    const total = 3_000_000;
    const peer = spawnPeer(["consume", name, "--bytes", String(total), "--chunk", "1000"]);
    const pattern = new Pattern(0);
    let sent = 0;
    while (sent < total) {
      const n = Math.min(total - sent, 1 + ((sent * 7919) % 4000));
      await xb.write(pattern.take(n));
      sent += n;
    }
    expect(await peer.exited).toBe(0);
    expect(xb.stat().outbound.consumed).toBe(total);
  });

  test("tryRead takes what is there, or null, never throwing EAGAIN", () => {
    using xb = XBuf.create({ inbound: 64, outbound: 16 });
    const drv = new Driver(xb.fd);
    expect(xb.tryRead(8)).toBe(null);
    drv.write(new Uint8Array([1, 2, 3]));
    expect(Array.from(xb.tryRead(8)!)).toEqual([1, 2, 3]);
    expect(xb.tryRead(8)).toBe(null);
    expect(xb.stat().inbound.readEagain).toBe(2);
    drv.put(); // dropping the reference ends nothing (EVL): still null
    expect(xb.tryRead(8)).toBe(null);
    const again = new Driver(xb.fd);
    again.write(new Uint8Array([4]));
    expect(again.shutdown()).toBe(0); // the end of the stream: what is left, then EPIPE
    expect(Array.from(xb.tryRead(8)!)).toEqual([4]);
    expect(() => xb.tryRead(8)).toThrow(/EPIPE/);
    again.put();
  });

  test("tryWrite is all or nothing; driver reads with O_NONBLOCK", () => {
    using xb = XBuf.create({ inbound: 16, outbound: 10 });
    const drv = new Driver(xb.fd);
    expect(xb.tryWrite(new Uint8Array([1, 2, 3, 4, 5, 6]))).toBe(true);
    expect(xb.tryWrite(new Uint8Array([7, 8, 9, 10, 11]))).toBe(false);
    expect(xb.tryWrite(new Uint8Array([7, 8, 9, 10]))).toBe(true);
    expect(Array.from(drv.read(20, O_NONBLOCK) as Uint8Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(drv.read(1, O_NONBLOCK)).toBe(-11); // -EAGAIN
    drv.put();
  });
});

describe("zero-copy views", () => {
  test("views across the wrap are contiguous and exact (C producer process)", async () => {
    const name = uniqueName("wrap");
    // capacity 1000 in a 4 KiB data area: the wrap falls inside views all the time
    using xb = XBuf.create({ inbound: 1000, outbound: 16, name: `/${name}` });
    const total = 2_000_000;
    const peer = spawnPeer(["produce", name, "--bytes", String(total), "--chunk", "333"]);
    const pattern = new Pattern(0);
    let wrapped = 0;
    let lastBase = -1;
    for await (const view of xb.views({ max: 777 })) {
      expect(view.length).toBeGreaterThan(0);
      expect(view.length).toBeLessThanOrEqual(777);
      const at = pattern.check(view);
      if (at >= 0) throw new Error(`byte ${pattern.offset + at} is wrong`);
      // The start in the data area: views that run past 4096 cross the wrap.
      const start = view.byteOffset;
      if (start + view.length > 4096) wrapped++;
      lastBase = start;
      if (pattern.offset >= total) break;
    }
    expect(pattern.offset).toBe(total);
    expect(wrapped).toBeGreaterThan(10);
    expect(lastBase).toBeGreaterThanOrEqual(0);
    expect(await peer.exited).toBe(0);
  });

  test("the iteration ends when the producer lets go, after its last byte", async () => {
    const name = uniqueName("eof");
    using xb = XBuf.create({ inbound: 65536, outbound: 16, name: `/${name}` });
    const peer = spawnPeer(["produce", name, "--bytes", "1000000", "--chunk", "4096"]);
    const pattern = new Pattern(0);
    for await (const view of xb) expect(pattern.check(view)).toBe(-1);
    expect(pattern.offset).toBe(1_000_000);
    expect(await peer.exited).toBe(0);
    await expect(xb.read(1)).rejects.toMatchObject({ code: "EPIPE" });
  });

  test("every view is a subarray of one long-lived mapping", async () => {
    using xb = XBuf.create({ inbound: 4096, outbound: 16 });
    const drv = new Driver(xb.fd);
    const buffers = new Set<ArrayBufferLike>();
    let n = 0;
    drv.write(new Uint8Array(100));
    for await (const view of xb) {
      buffers.add(view.buffer);
      if (++n === 50) break;
      drv.write(new Uint8Array(100 + n));
    }
    expect(buffers.size).toBe(1);
    drv.put();
  });

  test("produce() fills the outbound ring in place", async () => {
    using xb = XBuf.create({ inbound: 16, outbound: 64 });
    const drv = new Driver(xb.fd);
    await xb.produce(8, (v) => new DataView(v.buffer, v.byteOffset, 8).setFloat64(0, Math.PI, true));
    const got = drv.read(8) as Uint8Array;
    expect(new DataView(got.buffer, got.byteOffset).getFloat64(0, true)).toBe(Math.PI);
    await expect(xb.produce(8, () => { throw new Error("boom"); })).rejects.toThrow("boom");
    expect(xb.rings().outbound.fill).toBe(0); // nothing published
    drv.put();
  });
});

describe("records", () => {
  const Latmus = defineRecord({ sum_lat: "u64", min_lat: "s32", max_lat: "s32", overruns: "u32", samples: "u32" });

  test("layout matches the C struct", () => {
    expect(Latmus.size).toBe(24);
    expect(Latmus.offsets).toEqual({ sum_lat: 0, min_lat: 8, max_lat: 12, overruns: 16, samples: 20 });
    const Mixed = defineRecord({ a: "u8", b: "u32", c: "u16", d: "f64" });
    expect(Mixed.size).toBe(24);
    expect(Mixed.offsets).toEqual({ a: 0, b: 4, c: 8, d: 16 });
    expect(defineRecord({ a: "u8", b: "u32" }, { packed: true }).size).toBe(5);
    expect(() => defineRecord({ a: "u24" as never })).toThrow(/unknown type/);
  });

  test("records are decoded in place, in order, none lost, across the wrap", async () => {
    // 1000-byte ring: 41 records fit; the data area wraps mid-record often.
    using xb = XBuf.create({ inbound: 1000, outbound: 16 });
    const drv = new Driver(xb.fd);
    const total = 20_000;
    let written = 0;
    const rec = new Uint8Array(24);
    const dv = new DataView(rec.buffer);
    const writeSome = () => {
      for (;;) {
        if (written === total) return;
        dv.setUint32(0, written * 3, true);
        dv.setUint32(4, written % 7, true); // sum_lat = written*3 + (written%7)*2^32
        dv.setInt32(8, -written, true);
        dv.setInt32(12, written * 2, true);
        dv.setUint32(16, written % 5, true);
        dv.setUint32(20, written, true);
        if (drv.write(rec, O_NONBLOCK) !== 24) return;
        written++;
      }
    };
    writeSome();
    let seen = 0;
    let arrays: unknown = null;
    for await (const batch of xb.recordBatches(Latmus)) {
      // The typed arrays over the mapping: one set for the element, not one per batch.
      const { u32, i32 } = batch.arrays;
      if (arrays === null) arrays = batch.arrays;
      expect(batch.arrays).toBe(arrays);
      expect(batch.start % 8).toBe(0);
      for (let i = 0, w = batch.start >> 2; i < batch.length; i++, w += 6) {
        // batch.start across the wrap: the second copy of the data area continues the first.
        expect(u32[w + 5]).toBe(seen + i);
        expect(i32[w + 2]).toBe(-(seen + i) | 0);
        expect(u32[w]! + u32[w + 1]! * 2 ** 32).toBe((seen + i) * 3 + ((seen + i) % 7) * 2 ** 32);
      }
      for (let i = 0; i < batch.length; i++) {
        const r = batch.at(i);
        expect(r.samples).toBe(seen);
        expect(r.min_lat).toBe(-seen | 0);
        expect(r.max_lat).toBe(seen * 2);
        expect(r.overruns).toBe(seen % 5);
        expect(r.sum_lat).toBe(seen * 3 + (seen % 7) * 2 ** 32);
        seen++;
      }
      if (seen === total) break;
      setImmediate(writeSome);
    }
    expect(seen).toBe(total);
    drv.put();
  });
});

describe("iterators allocate no result per step", () => {
  test("views() and recordBatches(): the same promise and the same result object at every step with data; break consumes", async () => {
    using xb = XBuf.create({ inbound: 4096, outbound: 16 });
    const drv = new Driver(xb.fd);
    const Rec = defineRecord({ a: "u32", b: "u32" });
    for (const make of [() => xb.views({ max: 8 }), () => xb.recordBatches(Rec, { max: 1 })]) {
      for (let i = 0; i < 4; i++) expect(drv.write(new Uint8Array(8).fill(i + 1), O_NONBLOCK)).toBe(8);
      const it = make();
      const p1 = it.next();
      const r1 = await p1;
      const p2 = it.next();
      expect(p2).toBe(p1);
      expect(await p2).toBe(r1);
      expect(r1.done).toBe(false);
      expect(xb.rings().inbound.fill).toBe(24); // the first step consumed when the second was taken
      await it.return(undefined);
      expect(xb.rings().inbound.fill).toBe(16); // return() consumed the second
      expect((await it.next()).done).toBe(true);
      expect(xb.tryReadInto(new Uint8Array(16))).toBe(16);
    }
    drv.put();
  });
});

describe("records when the producer lets go inside a record", () => {
  const run = (mode: string) => {
    const r = spawnSync(runTs(`${ROOT}test/ts/fixtures/partial-record.ts`, mode), { timeoutMs: 20_000 });
    expect(r.code, `exit code (128: killed after 20 s, a busy loop): ${r.stderr.slice(-500)}`).toBe(0);
    return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { seen: number[]; error: { code: string; message: string } | null; left: number };
  };

  test("recordBatches(): the whole records, then EPIPE naming the partial tail (left in the ring), not a busy loop", () => {
    const r = run("partial");
    expect(r.seen).toEqual([100, 101]);
    expect(r.error?.code).toBe("EPIPE");
    expect(r.error?.message).toMatch(/left 5 bytes of a partial 16-byte record/);
    expect(r.left).toBe(5);
  }, 30_000);

  test("recordBatches(): a record completed before the producer went ends the iteration cleanly", () => {
    const r = run("completed");
    expect(r.seen).toEqual([100, 101, 0]);
    expect(r.error).toBe(null);
    expect(r.left).toBe(0);
  }, 30_000);

  test("drainRecords(): the whole records, then EPIPE naming the partial tail instead of 0 for ever", () => {
    const Rec = defineRecord({ a: "u32", b: "u32", c: "f64" });
    using xb = XBuf.create({ inbound: 4096, outbound: 0 });
    const drv = new Driver(xb.fd);
    drv.write(new Uint8Array(2 * Rec.size + 5));
    expect(xb.drainRecords(Rec, () => {})).toBe(2);
    expect(xb.drainRecords(Rec, () => {})).toBe(0); // alive: a record is being written
    drv.shutdown(); // the producer ends the stream
    drv.put();
    let err: unknown;
    try {
      xb.drainRecords(Rec, () => {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(XBufError);
    expect((err as XBufError).code).toBe("EPIPE");
    expect((err as XBufError).message).toMatch(/left 5 bytes of a partial 16-byte record/);
    expect(xb.tryRead(5)?.length).toBe(5); // the tail is still there to read
    expect(() => xb.drainRecords(Rec, () => {})).toThrow(/EPIPE/);
  });
});
