/**
 * xbuf bridge against a real NATS server (test/ts/nats.ts: tools/nats-server
 * on 127.0.0.1, a free port, a temporary store), under Bun and Deno alike:
 * a C driver (xbuf_peer, or EVL's evl_write_xbuf in this process) produces
 * the test pattern, keyed by stream position, so every record's content
 * checks; `xbuf bridge out` and `xbuf bridge in` run as processes, as users
 * run them, and are killed, interrupted and starved by the tests.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { XBuf } from "../../src/index.ts";
import { Driver, O_NONBLOCK, Pattern, ROOT, runTs, sleep, spawn, spawnPeer, uniqueName, type Child } from "./helpers.ts";
import { NatsServer } from "./nats.ts";

const MAIN = `${ROOT}src/cli/main.ts`;
const EAGAIN = -11;
const EPIPE = -32;

let server: NatsServer;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;

beforeAll(async () => {
  server = await NatsServer.start();
  nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await server?.close();
});

function bridge(args: string[]): Child {
  return spawn(runTs(MAIN, "bridge", ...args, "--server", server.url));
}

async function finish(p: Child): Promise<{ code: number; stdout: string; stderr: string }> {
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

async function makeStream(subject: string): Promise<string> {
  const stream = uniqueName("S").replace(/[^\w]/g, "_");
  await jsm.streams.add({ name: stream, subjects: [subject] });
  return stream;
}

async function count(stream: string): Promise<number> {
  return (await jsm.streams.info(stream)).state.messages;
}

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

interface Got {
  id: string;
  pos: number;
  data: Uint8Array;
}

/** Every message of `stream`, in stream order, with its Nats-Msg-Id and the position in it. */
async function readAll(stream: string): Promise<Got[]> {
  const n = await count(stream);
  const c = await js.consumers.get(stream);
  const out: Got[] = [];
  const deadline = Date.now() + 30_000;
  while (out.length < n && Date.now() < deadline) {
    const batch = await c.fetch({ max_messages: Math.min(1000, n - out.length), expires: 2000 });
    for await (const m of batch) {
      const id = m.headers?.get("Nats-Msg-Id") ?? "";
      out.push({ id, pos: Number(id.slice(id.lastIndexOf(":") + 1)), data: m.data.slice() });
    }
  }
  return out;
}

/** The messages cover the pattern from 0 to `total` bytes exactly once; `ordered`: in stream order. */
function checkCover(got: Got[], total: number, opts: { ordered: boolean; size?: number }): void {
  const sorted = opts.ordered ? got : [...got].sort((a, b) => a.pos - b.pos);
  let at = 0;
  for (const g of sorted) {
    expect(g.pos, `message ${g.id}`).toBe(at);
    if (opts.size) expect(g.data.length % opts.size).toBe(0);
    expect(new Pattern(at).check(g.data), `content of ${g.id}`).toBe(-1);
    at += g.data.length;
  }
  expect(at).toBe(total);
  expect(new Set(got.map((g) => g.id)).size).toBe(got.length);
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m![1]);
}

describe("bridge out", () => {
  test("a C driver's records -> element -> JetStream: count, order, content (one record per message, and batches)", async () => {
    for (const batch of [1, 16]) {
      const name = uniqueName("bo");
      const subject = `xbuf.test.${name.replace(/[^\w]/g, "_")}`;
      const stream = await makeStream(subject);
      using xb = XBuf.create({ inbound: 1 << 16, outbound: 0, name: `/${name}` });
      const records = 3000;
      const peer = spawnPeer(["produce", name, "--bytes", String(records * 24), "--chunk", String(24 * 7)]);
      const out = bridge(["out", name, "--subject", subject, "--record", "24", "--batch", String(batch)]);
      expect(await peer.exited).toBe(0);
      const r = await finish(out);
      expect(r).toEqual({ code: 0, stdout: "", stderr: "" }); // piped: quiet
      const got = await readAll(stream);
      if (batch === 1) expect(got.length).toBe(records);
      else expect(got.length).toBeLessThan(records);
      for (const g of got) expect(g.id).toMatch(new RegExp(`^${name}:${subject}:\\d+$`));
      checkCover(got, records * 24, { ordered: true, size: 24 });
      expect(xb.stat().inbound.consumed).toBe(records * 24);
    }
  });

  test("frames: one message per length-prefixed frame, payload only", async () => {
    const name = uniqueName("bf");
    const subject = `xbuf.test.${name.replace(/[^\w]/g, "_")}`;
    const stream = await makeStream(subject);
    using xb = XBuf.create({ inbound: 1 << 14, outbound: 0, name: `/${name}` });
    const drv = new Driver(xb.fd);
    const out = bridge(["out", name, "--subject", subject, "--frames"]);
    const sizes = [0, 1, 5, 1000, 4096, 17, 3];
    for (let i = 0; i < 60; i++) {
      const n = sizes[i % sizes.length]!;
      const f = new Uint8Array(4 + n);
      new DataView(f.buffer).setUint32(0, n, true);
      f.fill(i & 0xff, 4);
      // every tenth frame in two writes: a frame split across spans
      const parts = i % 10 === 9 ? [f.subarray(0, 3), f.subarray(3)] : [f];
      for (const p of parts) while (drv.write(p, O_NONBLOCK) === EAGAIN) await sleep(1);
    }
    drv.shutdown(); // the end of the stream (a put alone never ends it: EVL)
    drv.put();
    const r = await finish(out);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const got = await readAll(stream);
    expect(got.map((g) => g.data.length)).toEqual(Array.from({ length: 60 }, (_, i) => sizes[i % sizes.length]));
    got.forEach((g, i) => expect(g.data.every((b) => b === (i & 0xff))).toBe(true));
  });

  test("SIGKILL mid-stream, then a restart: no record lost, none duplicated, in order", async () => {
    // The producer: EVL's evl_write_xbuf in this process, non-blocking,
    // writing a record again after EPIPE (its reader, the bridge, died).
    const name = uniqueName("bk");
    const subject = `xbuf.test.${name.replace(/[^\w]/g, "_")}`;
    const stream = await makeStream(subject);
    using xb = XBuf.create({ inbound: 1 << 14, outbound: 0, name: `/${name}` });
    const drv = new Driver(xb.fd);
    const records = 6000;
    const p = new Pattern();
    let sent = 0;
    let stop = false;
    const producing = (async () => {
      while (sent < records && !stop) {
        const rec = p.take(240);
        let n;
        // EAGAIN: the ring is full; EPIPE: its reader died (the bridge, killed): try again
        while (((n = drv.write(rec, O_NONBLOCK)) === EAGAIN || n === EPIPE) && !stop) await sleep(1);
        if (n !== 240) throw new Error(`evl_write_xbuf: ${n}`);
        sent += 10;
      }
    })();
    try {
      for (let kill = 0; kill < 2; kill++) {
        const before = await count(stream);
        const out = bridge(["out", name, "--subject", subject, "--record", "24", "--window", "64"]);
        await until("messages to arrive", async () => (await count(stream)) > before + 1000).catch(async (e) => {
          out.kill("SIGKILL");
          throw new Error(`${e.message}: ${before} before; the bridge said: ${(await finish(out)).stderr}`);
        });
        out.kill("SIGKILL");
        expect(await out.exited).toBe(137);
      }
      const last = bridge(["out", name, "--subject", subject, "--record", "24", "--window", "64"]);
      await producing;
      drv.shutdown(); // the end of the stream (a put alone never ends it: EVL)
    drv.put();
      expect((await finish(last)).code).toBe(0);
    } finally {
      stop = true;
    }
    const got = await readAll(stream);
    expect(got.length).toBe(records);
    checkCover(got, records * 24, { ordered: true, size: 24 });
  }, 120_000);

  test("the server restarted mid-run: the bridge reconnects, nothing lost or duplicated", async () => {
    const name = uniqueName("br");
    const subject = `xbuf.test.${name.replace(/[^\w]/g, "_")}`;
    const stream = await makeStream(subject);
    using xb = XBuf.create({ inbound: 1 << 14, outbound: 0, name: `/${name}` });
    const records = 20_000;
    const peer = spawnPeer(["produce", name, "--bytes", String(records * 24), "--chunk", String(24 * 10)]);
    const out = bridge(["out", name, "--subject", subject, "--record", "24", "--batch", "4", "--window", "64"]);
    await until("messages to arrive", async () => (await count(stream)) > 500);
    await server.restart();
    expect(await peer.exited).toBe(0);
    const r = await finish(out);
    expect(r.code).toBe(0);
    await until("the test's own connection", () => !nc.isClosed() && nc.info !== undefined);
    const got = await readAll(stream);
    checkCover(got, records * 24, { ordered: false, size: 24 });
  });

  test("back-pressure: the server paused (SIGSTOP), the bridge's memory stays flat and the producer sees a full ring (EAGAIN)", async () => {
    const name = uniqueName("bp");
    const subject = `xbuf.test.${name.replace(/[^\w]/g, "_")}`;
    const stream = await makeStream(subject);
    using xb = XBuf.create({ inbound: 1 << 16, outbound: 0, name: `/${name}` });
    const drv = new Driver(xb.fd);
    const out = bridge(["out", name, "--subject", subject, "--record", "1024", "--window", "32"]);
    const pattern = new Pattern();
    let eagain = 0;
    let sent = 0;
    const produce = async (ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const rec = new Pattern(sent).take(1024);
        if (drv.write(rec, O_NONBLOCK) === EAGAIN) {
          eagain++;
          await sleep(2);
        } else sent += 1024;
      }
    };
    await produce(1000); // flowing
    expect(await count(stream)).toBeGreaterThan(0);
    server.pause();
    try {
      await produce(1000); // fills the ring
      const rss0 = rssKiB(out.pid);
      const e0 = eagain;
      await produce(3000);
      const rss1 = rssKiB(out.pid);
      expect(eagain - e0).toBeGreaterThan(100); // the producer keeps finding the ring full
      expect(xb.rings().inbound.fill).toBeGreaterThan((1 << 16) - 1024);
      expect(rss1 - rss0, `RSS ${rss0} -> ${rss1} KiB`).toBeLessThan(8 * 1024);
    } finally {
      server.resume();
    }
    void pattern;
    drv.shutdown(); // the end of the stream (a put alone never ends it: EVL)
    drv.put();
    expect((await finish(out)).code).toBe(0);
    const got = await readAll(stream);
    expect(got.length).toBe(sent / 1024);
    checkCover(got, sent, { ordered: false, size: 1024 });
  });

  test("Ctrl-C: what is in flight is acknowledged, exit 0; the next run goes on from there", async () => {
    const name = uniqueName("bi");
    const subject = `xbuf.test.${name.replace(/[^\w]/g, "_")}`;
    const stream = await makeStream(subject);
    using xb = XBuf.create({ inbound: 1 << 14, outbound: 0, name: `/${name}` });
    const drv = new Driver(xb.fd);
    const p = new Pattern();
    drv.write(p.take(240), O_NONBLOCK);
    const out = bridge(["out", name, "--subject", subject, "--record", "24"]);
    await until("10 messages", async () => (await count(stream)) === 10);
    out.kill("SIGINT");
    expect(await finish(out)).toEqual({ code: 0, stdout: "", stderr: "" });
    drv.write(p.take(240), O_NONBLOCK);
    drv.shutdown(); // the end of the stream (a put alone never ends it: EVL)
    drv.put();
    expect((await finish(bridge(["out", name, "--subject", subject, "--record", "24"]))).code).toBe(0);
    checkCover(await readAll(stream), 480, { ordered: true, size: 24 });
  });
});

describe("bridge in", () => {
  test("a durable consumer -> the outbound ring -> a C driver checks every byte", async () => {
    const name = uniqueName("bin");
    const subject = `xbuf.test.${name.replace(/[^\w]/g, "_")}`;
    const stream = await makeStream(subject);
    using xb = XBuf.create({ inbound: 0, outbound: 1 << 13, name: `/${name}` });
    const p = new Pattern();
    const total = 300 * 1000;
    for (let i = 0; i < 300; i++) await js.publish(subject, p.take(1000));
    const inb = bridge(["in", "--subject", subject, "--stream", stream, name, "--window", "32"]);
    const peer = spawnPeer(["consume", name, "--bytes", String(total), "--chunk", "4096"]);
    expect(await finish(peer)).toMatchObject({ code: 0, stderr: "" });
    inb.kill("SIGINT");
    expect(await finish(inb)).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  test("stopped (Ctrl-C) and started again: the durable consumer resumes, no byte lost or doubled", async () => {
    const name = uniqueName("bir");
    const subject = `xbuf.test.${name.replace(/[^\w]/g, "_")}`;
    const stream = await makeStream(subject);
    using xb = XBuf.create({ inbound: 0, outbound: 1 << 12, name: `/${name}` });
    const drv = new Driver(xb.fd);
    const p = new Pattern();
    const total = 100 * 500;
    for (let i = 0; i < 100; i++) await js.publish(subject, p.take(500));
    const check = new Pattern();
    const drain = async (until: number) => {
      const deadline = Date.now() + 20_000;
      while (check.offset < until && Date.now() < deadline) {
        const r = drv.read(4096, O_NONBLOCK);
        if (typeof r === "number") {
          expect([EAGAIN, EPIPE]).toContain(r);
          await sleep(2);
        } else expect(check.check(r)).toBe(-1);
      }
    };
    const inb = bridge(["in", "--subject", subject, "--stream", stream, name, "--window", "8"]);
    await drain(total / 3);
    inb.kill("SIGINT");
    expect((await finish(inb)).code).toBe(0);
    await drain(check.offset + xb.rings().outbound.fill); // what it had written
    const inb2 = bridge(["in", "--subject", subject, "--stream", stream, name, "--window", "8"]);
    await drain(total);
    expect(check.offset).toBe(total);
    await sleep(200);
    expect(xb.rings().outbound.fill).toBe(0); // nothing more: no message written twice
    inb2.kill("SIGINT");
    expect((await finish(inb2)).code).toBe(0);
    drv.put();
  });
});

describe("errors: a clear message, exit 1", () => {
  test("server unreachable: the URL, no credentials", async () => {
    const name = uniqueName("be");
    using xb = XBuf.create({ inbound: 4096, outbound: 0, name: `/${name}` });
    const p = spawn(runTs(MAIN, "bridge", "out", name, "--subject", "a.b", "--server", "nats://user:s3cret@127.0.0.1:1"));
    const r = await finish(p);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^xbuf bridge out: cannot reach the NATS server at nats:\/\/127\.0\.0\.1:1: /);
    expect(r.stderr).not.toContain("s3cret");
    void xb;
  });

  test("stream missing unless --create", async () => {
    const name = uniqueName("bs");
    using xb = XBuf.create({ inbound: 4096, outbound: 0, name: `/${name}` });
    const st = uniqueName("NEW").replace(/[^\w]/g, "_");
    const r = await finish(bridge(["out", name, "--subject", `nomatch.${st}`, "--stream", st]));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`xbuf bridge out: stream ${st} does not exist: create it, or pass --create\n`);
    const r2 = await finish(bridge(["out", name, "--subject", `nomatch.${st}`]));
    expect(r2.stderr).toMatch(/no stream captures subject/);
    // --create, on an element no bridge opened before
    const name2 = uniqueName("bs2");
    using xb2 = XBuf.create({ inbound: 4096, outbound: 0, name: `/${name2}` });
    const drv = new Driver(xb2.fd);
    drv.write(new Pattern().take(48), O_NONBLOCK);
    drv.shutdown(); // the end of the stream (a put alone never ends it: EVL)
    drv.put();
    const r3 = await finish(bridge(["out", name2, "--subject", `nomatch.${st}`, "--stream", st, "--create", "--record", "24"]));
    expect(r3).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(await count(st)).toBe(2);
  });

  test("a record size that does not divide the traffic", async () => {
    const name = uniqueName("bd");
    const subject = `xbuf.test.${name.replace(/[^\w]/g, "_")}`;
    await makeStream(subject);
    using xb = XBuf.create({ inbound: 4096, outbound: 0, name: `/${name}` });
    const drv = new Driver(xb.fd);
    drv.write(new Uint8Array(100), O_NONBLOCK);
    drv.shutdown(); // the end of the stream (a put alone never ends it: EVL)
    drv.put();
    const r = await finish(bridge(["out", name, "--subject", subject, "--record", "24"]));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the 24-byte record size does not divide .*: the producer left 4 bytes/);
  });

  test("authentication refused; the token never printed", async () => {
    const auth = await NatsServer.start(["--auth", "right-token"]);
    try {
      const name = uniqueName("ba");
      using xb = XBuf.create({ inbound: 4096, outbound: 0, name: `/${name}` });
      const p = spawn(runTs(MAIN, "bridge", "out", name, "--subject", "a.b", "--server", auth.url, "--token", "wrong-token"));
      const r = await finish(p);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/refused the credentials/);
      expect(r.stderr).not.toContain("wrong-token");
      void xb;
    } finally {
      await auth.close();
    }
  });
});
