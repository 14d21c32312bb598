/**
 * Issue 9 through the binding: one end-of-stream rule (the driver's
 * evl_put_xbuf() ends nothing, evl_shutdown_xbuf() does: the iterator
 * drains, then ends; read() then rejects with EPIPE), and the
 * application leaving (close) ends a C driver's blocked read with EIDRM.
 */
import { describe, expect, test } from "vitest";
import { XBuf } from "../../src/index.ts";
import { Driver, Pattern, gc, sleep, spawnPeer, uniqueName } from "./helpers.ts";

const userSpaceDriver = test.skipIf(process.env.XBUF_BACKEND === "kernel");

async function stdoutOf(child: { stdout: ReadableStream<Uint8Array> }): Promise<string> {
  let out = "";
  const dec = new TextDecoder();
  for await (const chunk of child.stdout) out += dec.decode(chunk);
  return out;
}

describe("end of stream and the application leaving", () => {
  userSpaceDriver("the iterator ends after the drain once the driver ends the stream; put alone ends nothing", async () => {
    using xb = XBuf.create({ inbound: 4096, outbound: 16 });
    const drv = new Driver(xb.fd);
    drv.write(new Uint8Array([1, 2, 3]));
    drv.put(); // as EVL's latmus driver between runs: the stream goes on
    const again = new Driver(xb.fd);
    const seen: number[] = [];
    const loop = (async () => {
      for await (const view of xb) seen.push(...view);
    })();
    await sleep(50);
    expect(seen).toEqual([1, 2, 3]); // the loop still waits: no EPIPE from the put
    again.write(new Uint8Array([4, 5]));
    expect(again.shutdown()).toBe(0);
    await loop; // ends, after the tail
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    await expect(xb.read(1)).rejects.toMatchObject({ code: "EPIPE" });
    again.put();
  });

  test("a producer process that is done: read() drains, then EPIPE; the iterator ends", async () => {
    const name = uniqueName("eos");
    using xb = XBuf.create({ inbound: 4096, outbound: 16, name: `/${name}` });
    const peer = spawnPeer(["produce", name, "--bytes", "300", "--chunk", "100"]);
    expect(await peer.exited).toBe(0);
    let n = 0;
    const pattern = new Pattern(0);
    for await (const view of xb) {
      expect(pattern.check(view)).toBe(-1);
      n += view.length;
    }
    expect(n).toBe(300);
    await expect(xb.read(1)).rejects.toMatchObject({ code: "EPIPE" });
  });

  test("closing the XBuf ends a C driver's blocked read with EIDRM", async () => {
    const name = uniqueName("eidrm");
    const xb = XBuf.create({ inbound: 4096, outbound: 4096, name: `/${name}` });
    const peer = spawnPeer(["wait", name]);
    const out = stdoutOf(peer);
    await sleep(200); // the peer is asleep in evl_read_xbuf()
    xb.close();
    expect(await peer.exited).toBe(0);
    expect((await out).trim()).toBe("wait -43"); // -EIDRM
  });

  test("an XBuf garbage collected without close() ends a C driver's blocked read with EIDRM", async () => {
    const name = uniqueName("eidrm-gc");
    (() => {
      XBuf.create({ inbound: 4096, outbound: 4096, name: `/${name}` }); // dropped at once: only the collector closes it
    })();
    const peer = spawnPeer(["wait", name]);
    const out = stdoutOf(peer);
    await sleep(200); // the peer is asleep in evl_read_xbuf()
    for (let i = 0; i < 20 && peer.exitCode === null; i++) {
      gc();
      await sleep(50); // finalizers run after the collection, on a later turn
    }
    expect(await peer.exited).toBe(0);
    expect((await out).trim()).toBe("wait -43"); // -EIDRM
  });
});

describe("names come back with close()", () => {
  // A name stays taken while its element lives (any fd or mapping); close()
  // unmaps at once unless memory of the mapping was handed out (views,
  // batches), so copying users can create the same name again right away.
  test("create, copy traffic, close, create the same name again (public and private)", () => {
    for (const name of [`/${uniqueName("again")}`, uniqueName("again")]) {
      const a = XBuf.create({ inbound: 4096, outbound: 4096, name });
      expect(a.tryWrite(new Uint8Array([1, 2, 3]))).toBe(true);
      expect(a.tryReadInto(new Uint8Array(8))).toBe(0);
      a.close();
      using b = XBuf.create({ inbound: 4096, outbound: 4096, name });
      expect(b.name).toBe(name.replace(/^\//, ""));
      expect(b.tryRead(1)).toBeNull();
    }
  });

  test("a pending read settled before close() rejects with EBADF, never touches the unmapped ring", async () => {
    const xb = XBuf.create({ inbound: 4096, outbound: 0 });
    const drv = new Driver(xb.fd);
    const p = xb.read(4);
    drv.write(new Uint8Array([9, 9, 9, 9]));
    xb.close();
    await expect(p).rejects.toMatchObject({ code: "EBADF" });
    drv.put();
  });
});
