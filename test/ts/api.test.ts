/** Creation, naming, errors and bad input through the binding. */
import { describe, expect, test } from "vitest";
import { XBuf, XBufError } from "../../src/index.ts";
import { uniqueName } from "./helpers.ts";

/**
 * The guest of test/kernel/run.sh runs this file again on the kernel
 * backend; the tests that need a user-space driver end (helpers.ts's
 * Driver, EVL's evl_* calls in this process) do not apply there.
 */
const userSpaceDriver = test.skipIf(process.env.XBUF_BACKEND === "kernel");

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(XBufError);
    return (e as XBufError).code;
  }
  throw new Error("expected an XBufError");
}

describe("create and open", () => {
  test("private and public elements, names, rings()", () => {
    const name = uniqueName("api");
    using priv = XBuf.create({ inbound: 1000, outbound: 0, name });
    expect(priv.name).toBe(name);
    expect(priv.rings()).toEqual({ inbound: { fill: 0, size: 1000 }, outbound: { fill: 0, size: 0 } });
    expect(code(() => XBuf.open(name))).toBe("ENOENT");

    // One name space for private and public elements, as EVL's factory (issue 9).
    expect(code(() => XBuf.create({ inbound: 1, outbound: 1, name: `/${name}` }))).toBe("EEXIST");
    expect(code(() => XBuf.create({ inbound: 1, outbound: 1, name }))).toBe("EEXIST");
    priv.close();
    using pub = XBuf.create({ inbound: 4096, outbound: 8192, name: `/${name}` });
    expect(pub.name).toBe(name);
    expect(code(() => XBuf.create({ inbound: 1, outbound: 1, name, public: true }))).toBe("EEXIST");
    expect(code(() => XBuf.create({ inbound: 1, outbound: 1, name }))).toBe("EEXIST");
    using other = XBuf.open(name);
    expect(other.fd).not.toBe(pub.fd);
    expect(other.tryWrite(new Uint8Array([1, 2, 3]))).toBe(true);
    expect(pub.rings().outbound).toEqual({ fill: 3, size: 8192 });
  });

  test("size errors are EINVAL with what was wrong", () => {
    const bad: unknown[] = [-1, 1.5, "16", 2 ** 30 + 1, NaN, null, undefined, 10n];
    for (const v of bad) {
      expect(code(() => XBuf.create({ inbound: v as number, outbound: 16 }))).toBe("EINVAL");
      expect(code(() => XBuf.create({ inbound: 16, outbound: v as number }))).toBe("EINVAL");
    }
    expect(code(() => XBuf.create({ inbound: 0, outbound: 0 }))).toBe("EINVAL");
    expect(() => XBuf.create({ inbound: -1, outbound: 16 })).toThrow(/inbound must be an integer from 0 to 1073741824, got -1/);
    expect(code(() => XBuf.create(null as never))).toBe("EINVAL");
    expect(code(() => XBuf.create({ inbound: 16, outbound: 16, public: true }))).toBe("EINVAL");
    expect(code(() => XBuf.create({ inbound: 16, outbound: 16, name: "/" + "x".repeat(64) }))).toBe("ENAMETOOLONG");
    expect(code(() => XBuf.create({ inbound: 16, outbound: 16, name: "/a/b" }))).toBe("EINVAL");
    expect(code(() => XBuf.create({ inbound: 16, outbound: 16, name: 42 as never }))).toBe("EINVAL");
    expect(code(() => XBuf.open(""))).toBe("EINVAL");
    expect(code(() => XBuf.open(undefined as never))).toBe("EINVAL");
  });

  test("a name with % is taken literally", () => {
    using xb = XBuf.create({ inbound: 16, outbound: 16, name: `/${uniqueName("pct")}%s%n` });
    expect(xb.name.endsWith("%s%n")).toBe(true);
  });
});

describe("bad input and use after close", () => {
  test("reads and writes validate their arguments", async () => {
    using xb = XBuf.create({ inbound: 100, outbound: 100 });
    for (const n of [-1, 1.5, "3", null, 2 ** 60]) {
      await expect(xb.read(n as number)).rejects.toMatchObject({ code: "EINVAL" });
    }
    expect(code(() => xb.readSync(-1))).toBe("EINVAL");
    expect(code(() => xb.tryWrite("abc" as never))).toBe("EINVAL");
    expect(code(() => xb.tryWrite([1, 2] as never))).toBe("EINVAL");
    await expect(xb.write({} as never)).rejects.toMatchObject({ code: "EINVAL" });
    // larger than the ring: EINVAL, as in EVL
    await expect(xb.read(101)).rejects.toMatchObject({ code: "EINVAL" });
    await expect(xb.write(new Uint8Array(101))).rejects.toMatchObject({ code: "EINVAL" });
    expect(code(() => xb.tryWrite(new Uint8Array(101)))).toBe("EINVAL");
  });

  test("ENOBUFS without a ring in that direction", async () => {
    using xb = XBuf.create({ inbound: 0, outbound: 64 });
    await expect(xb.read(1)).rejects.toMatchObject({ code: "ENOBUFS" });
    expect(code(() => xb.readSync(1, { nonblock: true }))).toBe("ENOBUFS");
    await expect(xb.views().next()).rejects.toMatchObject({ code: "ENOBUFS" });
    using wo = XBuf.create({ inbound: 64, outbound: 0 });
    expect(code(() => wo.tryWrite(new Uint8Array(1)))).toBe("ENOBUFS");
  });

  test("EAGAIN from non-blocking calls; zero counts", async () => {
    using xb = XBuf.create({ inbound: 64, outbound: 64 });
    expect(code(() => xb.readSync(8, { nonblock: true }))).toBe("EAGAIN");
    expect((await xb.read(0)).length).toBe(0);
    expect(await xb.write(new Uint8Array(0))).toBe(0);
    expect(xb.tryWrite(new Uint8Array(64))).toBe(true);
    expect(xb.tryWrite(new Uint8Array(1))).toBe(false); // all or nothing
    expect(xb.rings().outbound.fill).toBe(64);
    expect(xb.stat().outbound.writeEagain).toBe(1);
  });

  test("after close: EBADF everywhere, pending waits reject, close twice is fine", async () => {
    const xb = XBuf.create({ inbound: 64, outbound: 64 });
    const pending = xb.read(8);
    xb.close();
    await expect(pending).rejects.toMatchObject({ code: "EBADF" });
    expect(xb.closed).toBe(true);
    expect(code(() => xb.rings())).toBe("EBADF");
    expect(code(() => xb.readSync(1, { nonblock: true }))).toBe("EBADF");
    expect(code(() => xb.tryWrite(new Uint8Array(1)))).toBe("EBADF");
    await expect(xb.read(1)).rejects.toMatchObject({ code: "EBADF" });
    xb.close();
  });

  userSpaceDriver("an XBuf dropped without close() is closed by the garbage collector", async () => {
    const { Driver, O_NONBLOCK, gc, sleep } = await import("./helpers.ts");
    let drv: InstanceType<typeof Driver> | undefined;
    (() => {
      const xb = XBuf.create({ inbound: 64, outbound: 64 });
      drv = new Driver(xb.fd);
      expect(xb.tryWrite(new Uint8Array([42]))).toBe(true); // the app side now holds its ends
    })();
    expect(Array.from(drv!.read(8, O_NONBLOCK) as Uint8Array)).toEqual([42]);
    expect(drv!.read(8, O_NONBLOCK)).toBe(-11); // EAGAIN: the application side is still there
    let got: number | Uint8Array = -11;
    for (let i = 0; i < 50 && got === -11; i++) {
      gc();
      await sleep(10);
      got = drv!.read(8, O_NONBLOCK);
    }
    expect(got).toBe(-43); // EIDRM: the collector closed it, the application side left (issue 9)
    drv!.put();
  });

  userSpaceDriver("views stay readable memory after close (no crash)", async () => {
    const xb = XBuf.create({ inbound: 64, outbound: 64 });
    const it = xb.views();
    const { Driver } = await import("./helpers.ts");
    const drv = new Driver(xb.fd);
    expect(drv.write(new Uint8Array([7, 8, 9]))).toBe(3);
    const { value } = await it.next();
    expect(Array.from(value!)).toEqual([7, 8, 9]);
    xb.close();
    expect(value![0]).toBe(7); // stale but mapped
    await it.return(undefined);
    drv.put();
  });

  userSpaceDriver("a zero-copy view outstanding makes other reads EBUSY, not a deadlock", async () => {
    using xb = XBuf.create({ inbound: 64, outbound: 64 });
    const { Driver } = await import("./helpers.ts");
    const drv = new Driver(xb.fd);
    drv.write(new Uint8Array([1, 2, 3, 4]));
    const it = xb.views();
    await it.next();
    expect(code(() => xb.readSync(1, { nonblock: true }))).toBe("EBUSY");
    await it.return(undefined); // consumes the view
    expect(xb.rings().inbound.fill).toBe(0);
    drv.put();
  });
});
