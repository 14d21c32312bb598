/**
 * The bridge's benchmark, in one run: records/s and MB/s through
 * `bridgeOut` into a local JetStream (24-byte latmus records, one per
 * message and 64 per message; 1 KiB length-prefixed frames), next to
 * the local ring's own rate for the same traffic (no network) and a
 * plain publish rate of the same client without the ring (`nats bench`
 * style: the same payloads, the same window of 256 unacknowledged
 * publishes). A separate producer process writes the traffic with EVL's
 * evl_write_xbuf (blocking), as fast as the ring takes it.
 *
 *   bun bench/bridge.ts [--seconds S] [--quick] [--write bench/bridge.md]
 *
 * Starts its own nats-server (tools/nats-server) on 127.0.0.1, a free
 * port, a temporary store (file storage, as a real deployment).
 */
import { writeFileSync } from "node:fs";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { XBuf, defineRecord } from "../src/index.ts";
import { bridgeOut, openResumeBucket, type OutMode } from "../src/bridge/index.ts";
import { Driver, spawn, sleep } from "../test/ts/helpers.ts";
import { NatsServer } from "../test/ts/nats.ts";

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1]! : fallback;
};

// The producer process: `bun bench/bridge.ts produce NAME record|frame SIZE SECONDS`.
if (argv[0] === "produce") {
  const [, name, kind, sizeText, secondsText] = argv;
  const size = Number(sizeText);
  const xb = XBuf.open(name!);
  const drv = new Driver(xb.fd);
  const unit = kind === "frame" ? 4 + size : size;
  const per = Math.max(1, Math.floor(4096 / unit)); // units per write
  const chunk = new Uint8Array(unit * per);
  for (let i = 0; i < per; i++) {
    if (kind === "frame") new DataView(chunk.buffer).setUint32(i * unit, size, true);
    chunk.fill(i & 0xff, i * unit + (kind === "frame" ? 4 : 0), (i + 1) * unit);
  }
  const end = performance.now() + Number(secondsText) * 1000;
  let n = 0;
  while (performance.now() < end) {
    const r = drv.write(chunk); // blocking: waits for room
    if (r < 0) break;
    n += per;
  }
  drv.put();
  console.log(JSON.stringify({ units: n }));
  process.exit(0);
}

const seconds = Number(opt("seconds", argv.includes("--quick") ? "1" : "3"));
const WINDOW = 256;
const server = await NatsServer.start();
const nc = await connect({ servers: server.url });
const js = jetstream(nc);
const jsm = await jetstreamManager(nc);
const kv = await openResumeBucket(nc);

interface Row {
  scenario: string;
  payload: string;
  path: string;
  records: number;
  messages: number;
  seconds: number;
}
const rows: Row[] = [];
let serial = 0;

async function freshStream(): Promise<{ stream: string; subject: string }> {
  const id = `b${process.pid}_${++serial}`;
  await jsm.streams.add({ name: id, subjects: [`bench.${id}`] });
  return { stream: id, subject: `bench.${id}` };
}

function producer(name: string, kind: "record" | "frame", size: number) {
  return spawn([process.execPath, import.meta.filename ?? new URL(import.meta.url).pathname, "produce", name, kind, String(size), String(seconds)]);
}

/** The ring alone: the producer into a ring that this process drains in place. */
async function ringOnly(kind: "record" | "frame", size: number): Promise<void> {
  const name = `bench-ring-${process.pid}-${++serial}`;
  using xb = XBuf.create({ inbound: 1 << 20, outbound: 0, name: `/${name}` });
  const p = producer(name, kind, size);
  let records = 0;
  const t0 = performance.now();
  if (kind === "record") {
    const L = defineRecord({ sum_lat: "u64", min_lat: "s32", max_lat: "s32", overruns: "u32", samples: "u32" });
    for await (const b of xb.recordBatches(L)) records += b.length;
  } else {
    // Whole frames per view: the producer writes whole frames, and a write is atomic.
    for await (const v of xb.views()) {
      let at = 0;
      while (at + 4 <= v.length) {
        const n = v[at]! | (v[at + 1]! << 8) | (v[at + 2]! << 16) | (v[at + 3]! << 24);
        if (at + 4 + n > v.length) break;
        at += 4 + n;
        records++;
      }
    }
  }
  const dt = (performance.now() - t0) / 1000;
  await p.exited;
  rows.push({ scenario: "ring only (no network)", payload: label(kind, size, 1), path: "ring", records, messages: records, seconds: dt });
}

/** The same client, no ring: publish the same payloads, WINDOW unacknowledged at most. */
async function plainPublish(kind: "record" | "frame", size: number, batch: number): Promise<void> {
  const { subject } = await freshStream();
  const payload = new Uint8Array(size * batch).fill(7);
  const inflight: Promise<unknown>[] = [];
  let messages = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let i = 0;
  while (performance.now() < end) {
    if (inflight.length >= WINDOW) await inflight.shift();
    inflight.push(js.publish(subject, payload, { msgID: `plain:${++i}` }).then(() => messages++));
  }
  await Promise.all(inflight);
  const dt = (performance.now() - t0) / 1000;
  rows.push({ scenario: "plain publish (no ring)", payload: label(kind, size, batch), path: "publish", records: messages * batch, messages, seconds: dt });
}

/** bridgeOut: the producer into a ring, the bridge from the ring to JetStream. */
async function throughBridge(kind: "record" | "frame", size: number, batch: number): Promise<void> {
  const { subject } = await freshStream();
  const name = `bench-br-${process.pid}-${++serial}`;
  using xb = XBuf.create({ inbound: 1 << 20, outbound: 0, name: `/${name}` });
  const mode: OutMode = kind === "frame" ? { kind: "frames" } : { kind: "records", size, batch };
  const p = producer(name, kind, size);
  const t0 = performance.now();
  const s = await bridgeOut(xb, js, { subject, mode, kv, window: WINDOW });
  const dt = (performance.now() - t0) / 1000;
  await p.exited;
  rows.push({ scenario: "bridge out", payload: label(kind, size, batch), path: "bridge", records: s.records, messages: s.messages, seconds: dt });
}

function label(kind: "record" | "frame", size: number, batch: number): string {
  const what = kind === "frame" ? `${size === 1024 ? "1 KiB" : size + " B"} frames` : `${size} B records`;
  return batch > 1 ? `${what}, ${batch} per message` : `${what}, 1 per message`;
}

try {
  for (const [kind, size] of [["record", 24], ["frame", 1024]] as const) await ringOnly(kind, size);
  await sleep(100);
  for (const [kind, size, batch] of [["record", 24, 1], ["record", 24, 64], ["frame", 1024, 1]] as const) {
    await plainPublish(kind, size, batch);
    await throughBridge(kind, size, batch);
  }
} finally {
  await nc.close();
  await server.close();
}

const fmt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0));
const payloadBytes = (r: Row) => r.records * (r.payload.startsWith("24") ? 24 : 1024);
const lines = [
  "| path | traffic | records/s | messages/s | MB/s (payload) |",
  "|---|---|---:|---:|---:|",
  ...rows.map((r) => `| ${r.scenario} | ${r.payload} | ${fmt(r.records / r.seconds)} | ${fmt(r.messages / r.seconds)} | ${(payloadBytes(r) / r.seconds / 1e6).toFixed(1)} |`),
];
const table = lines.join("\n");
console.log(table);
const out = opt("write", "");
if (out) {
  const cpu = (await import("node:os")).cpus()[0]?.model ?? "?";
  writeFileSync(
    out,
    `# The bridge's benchmark (bench/bridge.ts)\n\n` +
      `Generated by \`bun bench/bridge.ts --write bench/bridge.md\` (${seconds} s per row; ${new Date().toISOString().slice(0, 10)}; ` +
      `Bun ${Bun.version}, nats-server ${/Version:\s+([\d.]+)/.exec(server.log)?.[1] ?? "?"} on 127.0.0.1 with file storage; ${cpu}, 2 shared cores). ` +
      `The producer is a separate process writing with evl_write_xbuf (blocking) as fast as the ring takes it; ` +
      `"bridge out" is \`bridgeOut()\` (the library the CLI runs) with a window of ${WINDOW} unacknowledged publishes; ` +
      `"plain publish" is the same client publishing the same payloads with the same window, no ring; "ring only" drains the ring in place, no network. ` +
      `Every JetStream row is acknowledged publishes (PubAck), Nats-Msg-Id set.\n\n${table}\n`,
  );
}
process.exit(0);
