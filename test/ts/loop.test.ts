/**
 * The event loop: waiting never blocks it and costs no polling; a pending
 * read keeps the process alive, nothing pending lets it exit; and the
 * async path holds up under 100,000 wake-ups.
 */
import { describe, expect, test } from "vitest";
import { XBuf, defineRecord } from "../../src/index.ts";
import { Driver, O_NONBLOCK, ROOT, runTs, spawn, spawnPeer, uniqueName, sleep } from "./helpers.ts";

describe("event loop", () => {
  test("timers keep running while a read waits; no CPU is burnt waiting", async () => {
    using xb = XBuf.create({ inbound: 64, outbound: 64 });
    const drv = new Driver(xb.fd);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const cpu0 = process.cpuUsage();
    const pending = xb.read(8);
    await sleep(300);
    const cpu = process.cpuUsage(cpu0);
    expect(ticks).toBeGreaterThan(20);
    // 300 ms of waiting: a polling loop would use most of it
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(150);
    drv.write(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    expect((await pending).length).toBe(8);
    clearInterval(timer);
    drv.put();
  });

  test("a pending read keeps the process alive; it exits once the read completes", async () => {
    const name = uniqueName("alive");
    const child = spawn(runTs(`${ROOT}test/ts/fixtures/pending-read.ts`, name));
    const reader = child.stdout.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain("ready");
    await sleep(400);
    expect(child.exitCode).toBe(null); // still waiting for data
    const peer = spawnPeer(["produce", name, "--bytes", "5"]);
    expect(await peer.exited).toBe(0);
    expect(await child.exited).toBe(0);
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(first + rest).toContain("read 5");
  });

  test("many pending waits do not starve the runtime's other I/O", async () => {
    const child = spawn(runTs(`${ROOT}test/ts/fixtures/many-waits.ts`));
    const out = await new Response(child.stdout).text();
    expect(await child.exited).toBe(0);
    const [read, threads] = out.split("\n");
    expect(read).toBe("READ");
    // libxbuf's eight notifier threads, and at most two lazily started ones of the runtime:
    // not a pool thread per wait (Deno's FsFile read or a nonblocking FFI read: +13 here).
    expect(Number(/^THREADS \+(\d+)$/.exec(threads!)?.[1])).toBeLessThanOrEqual(10);
    expect(out).toContain(Array(8).fill("EBADF").join(","));
  });

  test("with nothing pending the process exits normally", async () => {
    const child = spawn(runTs(`${ROOT}test/ts/fixtures/idle-open.ts`));
    const timeout = setTimeout(() => child.kill(), 10_000);
    const code = await child.exited;
    clearTimeout(timeout);
    const out = await new Response(child.stdout).text();
    expect(out).toContain("rejected");
    expect(out).toContain("end");
    expect(code).toBe(0);
  });
});

// Issue 14: the guest's Bun soak hung because its 1 s sampling timer never
// fired. In-kernel writers kept the inbound ring from ever emptying, so each
// step of `for await (const view of xb)` resolved through an already-resolved
// promise: microtasks only, and a runtime runs no timer and no I/O before its
// microtask queue is empty. Here the peer is this thread (the driver refills
// or drains inside the loop), so the ring never empties (or never fills):
// without a turn of the event loop now and then, the timer fires only after
// the 3 s deadline.
describe("a peer that never lets the loop wait does not starve the event loop", () => {
  const DEADLINE_MS = 3000;
  const timerWithin = async (loop: (stop: () => boolean) => Promise<void>) => {
    let firedAt = -1;
    const t0 = performance.now();
    const timer = setTimeout(() => (firedAt = performance.now() - t0), 1);
    await loop(() => firedAt >= 0 || performance.now() - t0 > DEADLINE_MS);
    clearTimeout(timer);
    return firedAt;
  };

  test("views(): every step has data", async () => {
    using xb = XBuf.create({ inbound: 4096, outbound: 16 });
    const drv = new Driver(xb.fd);
    const chunk = new Uint8Array(64).fill(7);
    for (let i = 0; i < 32; i++) expect(drv.write(chunk, O_NONBLOCK)).toBe(64);
    let steps = 0;
    const firedAt = await timerWithin(async (stop) => {
      for await (const view of xb.views({ max: 64 })) {
        steps++;
        expect(view.length).toBe(64);
        expect(drv.write(chunk, O_NONBLOCK)).toBe(64); // the ring never empties
        if (stop()) break;
      }
    });
    expect(steps).toBeGreaterThan(0);
    expect(firedAt, `the timer fired at ${firedAt.toFixed(1)} ms, after ${steps} steps`).toBeGreaterThanOrEqual(0);
    expect(firedAt).toBeLessThan(1000);
    drv.put();
  });

  test("recordBatches(): every step has records", async () => {
    using xb = XBuf.create({ inbound: 4096, outbound: 16 });
    const drv = new Driver(xb.fd);
    const Rec = defineRecord({ a: "u32", b: "u32" });
    const chunk = new Uint8Array(64).fill(3);
    for (let i = 0; i < 32; i++) expect(drv.write(chunk, O_NONBLOCK)).toBe(64);
    const firedAt = await timerWithin(async (stop) => {
      for await (const batch of xb.recordBatches(Rec, { max: 8 })) {
        expect(batch.length).toBe(8);
        expect(drv.write(chunk, O_NONBLOCK)).toBe(64);
        if (stop()) break;
      }
    });
    expect(firedAt).toBeGreaterThanOrEqual(0);
    expect(firedAt).toBeLessThan(1000);
    drv.put();
  });

  test("read() and write(): always data, always room", async () => {
    using xb = XBuf.create({ inbound: 4096, outbound: 4096 });
    const drv = new Driver(xb.fd);
    const msg = new Uint8Array(32).fill(9);
    for (let i = 0; i < 16; i++) expect(drv.write(msg, O_NONBLOCK)).toBe(32);
    const readAt = await timerWithin(async (stop) => {
      while (!stop()) {
        expect((await xb.read(32)).length).toBe(32);
        expect(drv.write(msg, O_NONBLOCK)).toBe(32);
      }
    });
    const writeAt = await timerWithin(async (stop) => {
      while (!stop()) {
        expect(await xb.write(msg)).toBe(32);
        expect(drv.read(32, O_NONBLOCK)).toHaveLength(32); // room again at once
      }
    });
    expect(readAt).toBeGreaterThanOrEqual(0);
    expect(readAt).toBeLessThan(1000);
    expect(writeAt).toBeGreaterThanOrEqual(0);
    expect(writeAt).toBeLessThan(1000);
    drv.put();
  });
});

describe("spinning before a wait", () => {
  test("a peer that answers within spinUs is caught without a sleep", async () => {
    const name = uniqueName("spin");
    using xb = XBuf.create({ inbound: 4096, outbound: 4096, name: `/${name}`, spinUs: 500_000 });
    const peer = spawnPeer(["echo", name, "--size", "64"]);
    const msg = new Uint8Array(64);
    for (let i = 0; i < 200; i++) {
      await xb.write(msg);
      expect((await xb.read(64)).length).toBe(64);
    }
    // The echo takes microseconds, the spin allows 500 ms: no wait went to the helper thread.
    expect(xb.stat().inbound.producerWakeups).toBe(0);
    xb.close();
    expect(await peer.exited).toBe(0);
  });

  test("spinUs is validated", () => {
    using xb = XBuf.create({ inbound: 64, outbound: 64 });
    expect(xb.spinUs).toBe(50);
    expect(() => (xb.spinUs = -1)).toThrow(/spinUs must be an integer/);
    expect(() => XBuf.create({ inbound: 64, outbound: 64, spinUs: 1.5 })).toThrow(/spinUs/);
    xb.spinUs = 0;
    expect(xb.spinUs).toBe(0);
  });
});

describe("stress", () => {
  test("100,000 wake-ups through the async path (ping-pong with a C echo peer)", async () => {
    const name = uniqueName("pingpong");
    // No spinning before a wait: every wait goes through the helper thread.
    using xb = XBuf.create({ inbound: 4096, outbound: 4096, name: `/${name}`, spinUs: 0 });
    // The echo comes 20 us late, so each read finds the ring empty and waits.
    const peer = spawnPeer(["echo", name, "--size", "64", "--delay-us", "20"]);
    const msg = new Uint8Array(64);
    const view = new DataView(msg.buffer);
    let rounds = 0;
    // Each round trip waits for the echo: one armed wait, one wake-up.
    while (xb.stat().inbound.producerWakeups < 100_000) {
      view.setUint32(0, rounds, true);
      await xb.write(msg);
      const back = await xb.read(64);
      expect(new DataView(back.buffer).getUint32(0, true)).toBe(rounds);
      rounds++;
      if (rounds > 400_000) throw new Error("too few wake-ups: the async path is not waiting");
    }
    const st = xb.stat();
    expect(st.inbound.producerWakeups).toBeGreaterThanOrEqual(100_000);
    expect(st.inbound.consumed).toBe(rounds * 64);
    xb.close(); // the echo peer gets EPIPE and exits
    expect(await peer.exited).toBe(0);
  }, 180_000);
});
