/**
 * The binding on the kernel backend (kmod/xbuf.ko): runs in the QEMU guest
 * of test/kernel/run.sh with XBUF_BACKEND=kernel, where the modules are
 * loaded; skips itself wherever /dev/xbuf/clone is absent (the host).
 *
 * The driver side is the kernel: xbuf_selftest.ko's ioctls call
 * evl_read_xbuf()/evl_write_xbuf() for us, and xbuf_latmus.ko writes
 * latency records from its hrtimer. Both are reached with ioctl(2) from
 * libc through bun:ffi. Kept small: the guest's JIT runs under TCG.
 */
import { closeSync, existsSync, openSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { XBuf, XBufError, defineRecord } from "../../src/index.ts";

const HAVE_KERNEL = existsSync("/dev/xbuf/clone");

// ioctl numbers of csrc/include/xbuf_kernel.h (_IOW/_IOR/_IO of magic 0xe7).
const LATMUS_START = 0x400ce710; // struct xbuf_latmus_req, 12 bytes
const LATMUS_STOP = 0xe711;
const LATMUS_STATS = 0x8020e712; // struct xbuf_latmus_stats, 32 bytes
const SELFTEST_BIND = 0x4004e720; // __s32
const SELFTEST_KREAD = 0x4018e722; // struct xbuf_kio, 24 bytes
const SELFTEST_KWRITE = 0x4018e723;

type Libc = { ioctl(fd: number, req: number, arg: number): number };
let libc: Libc | undefined;
let addressOf: (v: Int32Array | Uint32Array | BigUint64Array | Uint8Array) => number;

async function loadLibc(): Promise<Libc> {
  if (libc) return libc;
  const ffi = await import("bun:ffi");
  const lib = ffi.dlopen("libc.so.6", { ioctl: { args: ["i32", "u64", "ptr"], returns: "i32" } });
  addressOf = (v) => ffi.ptr(v) as number;
  libc = { ioctl: (fd, req, arg) => lib.symbols.ioctl(fd, req, arg as never) as number };
  return libc;
}

/** The in-kernel driver end of an element, through /dev/xbuf/selftest. */
class KernelDriver {
  #fd: number;
  #c: Libc;

  constructor(c: Libc, elementFd: number) {
    this.#c = c;
    this.#fd = openSync("/dev/xbuf/selftest", "r+");
    const efd = new Int32Array([elementFd]);
    if (c.ioctl(this.#fd, SELFTEST_BIND, addressOf(efd)) !== 0) throw new Error("selftest BIND failed");
  }

  #kio(req: number, buf: Uint8Array, nonblock: boolean): number {
    const kio = new BigUint64Array(3);
    kio[0] = BigInt(addressOf(buf));
    kio[1] = BigInt(buf.length);
    kio[2] = nonblock ? 1n : 0n; // XBUF_KIO_NONBLOCK
    return this.#c.ioctl(this.#fd, req, addressOf(kio));
  }

  /** evl_write_xbuf(): bytes written, or -1 (errno not fetched). */
  write(bytes: Uint8Array, nonblock = false): number {
    return this.#kio(SELFTEST_KWRITE, bytes, nonblock);
  }

  /** evl_read_xbuf() of up to n bytes. */
  read(n: number, nonblock = false): Uint8Array {
    const buf = new Uint8Array(n);
    const got = this.#kio(SELFTEST_KREAD, buf, nonblock);
    if (got < 0) throw new Error("selftest KREAD failed");
    return buf.subarray(0, got);
  }

  close(): void {
    closeSync(this.#fd);
  }
}

function pattern(n: number, seed: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (seed + i * 7) & 0xff;
  return a;
}

const Latmus = defineRecord({ sum_lat: "u64", min_lat: "s32", max_lat: "s32", overruns: "u32", samples: "u32" });

describe.skipIf(!HAVE_KERNEL)("kernel backend", () => {
  test("create picks the kernel; backend option, open by name, errors", () => {
    using xb = XBuf.create({ inbound: 4096, outbound: 4096, name: "/bun_k" });
    expect(xb.backend).toBe("kernel");
    expect(existsSync("/dev/xbuf/bun_k")).toBe(true);
    using other = XBuf.open("bun_k", { backend: "kernel" });
    expect(other.backend).toBe("kernel");
    expect(other.tryWrite(pattern(10, 1))).toBe(true);
    expect(xb.rings().outbound).toEqual({ fill: 10, size: 4096 });
    expect(xb.stat().outbound.producerPid).toBe(0);
    using user = XBuf.create({ inbound: 16, outbound: 16, backend: "user" });
    expect(user.backend).toBe("user");
    expect(() => XBuf.create({ inbound: 16, outbound: 16, backend: "nope" as never })).toThrow(XBufError);
  });

  test("read and write against the in-kernel driver", async () => {
    const c = await loadLibc();
    using xb = XBuf.create({ inbound: 4096, outbound: 1024 });
    const drv = new KernelDriver(c, xb.fd);
    try {
      expect(drv.write(pattern(100, 3))).toBe(100);
      expect(await xb.read(100)).toEqual(pattern(100, 3));

      // An async read parks on the notify pipe; the kernel's write wakes it.
      const pending = xb.read(64);
      setTimeout(() => drv.write(pattern(64, 5)), 50);
      expect(await pending).toEqual(pattern(64, 5));

      expect(await xb.write(pattern(1000, 7))).toBe(1000);
      expect(xb.tryWrite(pattern(100, 9))).toBe(false); // all or nothing
      expect(drv.read(1024, true)).toEqual(pattern(1000, 7));
      // Room again: a full-ring write completes once the kernel reads.
      expect(await xb.write(pattern(1024, 11))).toBe(1024);
      const pendingWrite = xb.write(pattern(24, 13));
      setTimeout(() => drv.read(512), 50);
      expect(await pendingWrite).toBe(24);
    } finally {
      drv.close();
    }
  });

  test("latmus records read zero-copy", async () => {
    const c = await loadLibc();
    using xb = XBuf.create({ inbound: Latmus.size * 512, outbound: 0 });
    const lm = openSync("/dev/xbuf/latmus", "r+");
    try {
      const req = new Uint32Array([xb.fd, 1000, 10_000]); // fd, period_us, interval_us
      expect(c.ioctl(lm, LATMUS_START, addressOf(req))).toBe(0);
      let records = 0;
      for await (const batch of xb.recordBatches(Latmus)) {
        for (let i = 0; i < batch.length; i++) {
          const r = batch.at(i);
          expect(r.samples).toBeGreaterThan(0);
          expect(r.min_lat).toBeLessThanOrEqual(r.max_lat);
        }
        records += batch.length;
        if (records >= 10) break;
      }
      const stats = new BigUint64Array(4);
      expect(c.ioctl(lm, LATMUS_STATS, addressOf(stats))).toBe(0);
      expect(stats[0]).toBeGreaterThanOrEqual(10n); // records written
      expect(stats[1]).toBe(0n); // dropped
      expect(c.ioctl(lm, LATMUS_STOP, 0)).toBe(0);
    } finally {
      closeSync(lm);
    }
  });
});

describe.skipIf(!HAVE_KERNEL)("the fast path on the kernel's read-only pages", () => {
  test("readiness and commits hot enough for the optimizing JIT: the driver page is only read (no SIGBUS)", () => {
    // JSC's DFG/FTL compile Atomics.load to a lock cmpxchg: a store into the
    // read-only driver page, SIGBUS from the module's pfn_mkwrite. src/fast.ts reads it plainly.
    using xb = XBuf.create({ inbound: 4096, outbound: 4096 });
    expect(xb.backend).toBe("kernel");
    const Rec = defineRecord({ a: "u32", b: "u32" });
    const msg = new Uint8Array(32);
    let empty = 0;
    let written = 0;
    for (let i = 0; i < 50_000; i++) {
      if (xb.tryRead(32) === null) empty++;
      if (xb.tryWrite(msg)) written++;
      if (xb.drainRecords(Rec, () => {}) === 0) empty++;
    }
    expect(empty).toBe(100_000);
    expect(written).toBe(4096 / 32);
  });
});

describe.skipIf(!HAVE_KERNEL)("xbuf ls on the kernel", () => {
  test("public kernel elements are listed beside the user-space ones", async () => {
    const { listElements } = await import("../../src/cli/ls.ts");
    using k = XBuf.create({ inbound: 4096, outbound: 0, name: "/ls-kernel", backend: "kernel" });
    using u = XBuf.create({ inbound: 64, outbound: 64, name: "/ls-user", backend: "user" });
    const list = listElements();
    expect(list.find((e) => e.name === "ls-kernel")).toEqual({
      name: "ls-kernel", backend: "kernel", inbound: { fill: 0, size: 4096 }, outbound: { fill: 0, size: 0 },
    });
    expect(list.find((e) => e.name === "ls-user")?.backend).toBe("user");
    expect(list.some((e) => ["clone", "latmus", "selftest"].includes(e.name))).toBe(false);
    expect(k.backend).toBe("kernel");
    expect(u.backend).toBe("user");
  });
  test("the module's own device nodes (XBUF_RESERVED_NAMES) do not open as elements: ENOENT", async () => {
    const { cFacts } = await import("./helpers.ts");
    const { reserved_names } = cFacts();
    expect(reserved_names.length).toBeGreaterThan(0);
    for (const name of reserved_names) {
      let code = "";
      try {
        XBuf.open(name, { backend: "kernel" }).close();
      } catch (e) {
        code = (e as XBufError).code;
      }
      expect(code, name).toBe("ENOENT");
    }
  });
});

describe.skipIf(!existsSync("/dev/xbuf/latmus"))("latmus front-end on the kernel companion", () => {
  test("runLatmus --irq (the kernel backend's default): the module's hrtimer samples, Bun prints", async () => {
    const { runLatmus } = await import("../../src/latmus/index.ts");
    const out: string[] = [];
    const notes: string[] = [];
    const r = await runLatmus(
      { backend: "kernel", periodUs: 1000, intervalUs: 50_000, durationS: 0.2, cpu: -1, priority: 0, json: false },
      { out: (l) => out.push(l), note: (l) => notes.push(l) },
    );
    expect(r.stats.intervals + r.stats.partials).toBeGreaterThanOrEqual(3);
    expect(r.end.stoppedBy).toBe("duration");
    expect(r.final).toMatchObject({ lost: 0, error: 0 });
    expect(r.hist.total).toBe(r.final!.samples);
    expect(out[0]).toBe("RTT|  00:00:00  (irq, 1000 us period, any CPU)");
    expect(out.filter((l) => l.startsWith("RTD|")).length).toBe(r.stats.intervals);
    expect(out.at(-1)).toMatch(/^RTS\|/);
    expect(notes.at(-1)).toBe("sampler: the module's hrtimer handler (xbuf_latmus.ko), hard IRQ; stopped by duration");
  });

  // Known latencies through each kernel context: exact histogram cells and raw samples.
  test.each(["irq", "kernel"] as const)("--%s in the deterministic mode: exact cells, every raw sample, END", async (context) => {
    const { runLatmus } = await import("../../src/latmus/index.ts");
    const { readFileSync, rmSync } = await import("node:fs");
    const fake = [500, 1500, 2500, 7000, 1200];
    const bin = `/tmp/latmus-${context}-${process.pid}.bin`;
    const out: string[] = [];
    try {
      const r = await runLatmus(
        { backend: "auto", context, periodUs: 1000, intervalUs: 10_000, durationS: 0.1, cpu: -1, priority: 0, json: true, hcells: 5, fake, samplesFile: bin },
        { out: (l) => out.push(l) },
      );
      expect(r.meta.context).toBe(context);
      expect(r.final).toMatchObject({ samples: 100, lost: 0, error: 0 });
      expect(Array.from(r.hist.counts)).toEqual([20, 40, 20, 0, 0, 20]);
      const raw = new Uint32Array(new Uint8Array(readFileSync(bin)).buffer);
      expect(Array.from(raw)).toEqual(Array.from({ length: 100 }, (_, i) => fake[i % 5]));
      expect(JSON.parse(out.at(-1)!)).toMatchObject({ context, percentiles: { p50_ns: 2000, max_ns: 7000 } });
    } finally {
      rmSync(bin, { force: true });
    }
  });
});

describe.skipIf(HAVE_KERNEL)("kernel backend absent", () => {
  test("asking for it fails with ENODEV, auto falls back to user space", () => {
    let code = "";
    try {
      XBuf.create({ inbound: 16, outbound: 16, backend: "kernel" });
    } catch (e) {
      code = (e as XBufError).code;
    }
    expect(code).toBe("ENODEV");
    using xb = XBuf.create({ inbound: 16, outbound: 16, backend: "auto" });
    expect(xb.backend).toBe("user");
  });
});
