/**
 * xbuf bridge out NAME --subject S ...: an element's inbound traffic to JetStream.
 * xbuf bridge in --subject S NAME ...: a durable JetStream consumer into its outbound ring.
 *
 * Ctrl-C (or SIGTERM): the span or message in hand is acknowledged, the
 * position saved, exit 0; a second Ctrl-C leaves at once (exit 130),
 * releasing nothing unacknowledged: the next run sends it again.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { XBuf } from "../xbuf.ts";
import {
  BridgeError,
  bridgeIn,
  bridgeOut,
  connectNats,
  defaultDurable,
  DEFAULT_BUCKET,
  ensureConsumer,
  ensureStream,
  openResumeBucket,
  type OutMode,
} from "../bridge/index.ts";
import { elementName, num, parse, UsageError } from "./args.ts";
import { bytesText, progress } from "./progress.ts";

const COMMON = {
  subject: { type: "string", short: "s" },
  stream: { type: "string" },
  create: { type: "boolean" },
  window: { type: "string", short: "w" },
  server: { type: "string" },
  creds: { type: "string" },
  token: { type: "string" },
} as const;

/** SIGINT/SIGTERM: the first aborts (graceful), the second exits 130 at once. */
function interrupts(): { signal: AbortSignal; [Symbol.dispose](): void } {
  const ac = new AbortController();
  const handler = () => {
    if (ac.signal.aborted) process.exit(130);
    ac.abort();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    signal: ac.signal,
    [Symbol.dispose]() {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}

/** Rates over the last ~second, for the status line. */
function rater() {
  let t = performance.now();
  let last = { a: 0, b: 0 };
  let rate = { a: 0, b: 0 };
  return (a: number, b: number) => {
    const now = performance.now();
    const dt = (now - t) / 1000;
    if (dt >= 0.5) {
      rate = { a: (a - last.a) / dt, b: (b - last.b) / dt };
      last = { a, b };
      t = now;
    }
    return rate;
  };
}

async function closeNats(nc: NatsConnection): Promise<void> {
  // Flush what is pending (acks), bounded: a paused server must not hold the exit.
  await Promise.race([nc.drain().catch(() => nc.close()), new Promise((r) => setTimeout(r, 3000))]);
  if (!nc.isClosed()) await nc.close().catch(() => {});
}

export async function bridge(args: string[]): Promise<number> {
  const [dir, ...rest] = args;
  if (dir !== "out" && dir !== "in") {
    throw new UsageError(dir ? `unknown direction '${dir}' (out or in)` : "missing direction (out or in)");
  }
  try {
    return await (dir === "out" ? out(rest) : inbound(rest));
  } catch (e) {
    if (!(e instanceof BridgeError)) throw e;
    process.stderr.write(`xbuf bridge ${dir}: ${e.message}\n`);
    return 1;
  }
}

/** parse()'s values, typed: a string option or undefined. */
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

function subjectOf(v: unknown): string {
  if (typeof v !== "string" || !v) throw new UsageError("--subject is required");
  return v;
}

async function out(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { ...COMMON, record: { type: "string", short: "r" }, batch: { type: "string", short: "k" }, frames: { type: "boolean" }, id: { type: "string" }, bucket: { type: "string" } },
    { min: 1, max: 1, names: "NAME" },
  );
  const name = elementName(positionals[0]!);
  const subject = subjectOf(values.subject);
  if (/[\s*>]/.test(subject)) throw new UsageError(`--subject must not have wildcards or spaces, got '${subject}'`);
  if (values.record !== undefined && values.frames === true) throw new UsageError("--record and --frames exclude each other");
  if (values.batch !== undefined && values.record === undefined) throw new UsageError("--batch needs --record");
  if (values.create === true && !str(values.stream)) throw new UsageError("--create needs --stream NAME");
  const window = num("--window", values.window, 256, { min: 1, max: 65536, integer: true });
  let mode: OutMode = { kind: "bytes" };
  if (values.record !== undefined) {
    mode = {
      kind: "records",
      size: num("--record", values.record, 0, { min: 1, max: 1 << 24, integer: true }),
      batch: num("--batch", values.batch, 1, { min: 1, max: 1 << 20, integer: true }),
    };
  } else if (values.frames === true) mode = { kind: "frames" };

  const xb = XBuf.open(name);
  const nc = await connectNats({ servers: str(values.server), creds: str(values.creds), token: str(values.token), name: `xbuf bridge out ${name}` });
  using stop = interrupts();
  const show = progress({ stdoutIsData: false });
  let ticker: ReturnType<typeof setInterval> | undefined;
  // After a failure the span in hand stays borrowed: closing the element would release it unacknowledged.
  let release = true;
  try {
    const jsm = await jetstreamManager(nc);
    const stream = await ensureStream(jsm, { stream: str(values.stream), subject, create: values.create === true });
    const kv = await openResumeBucket(nc, str(values.bucket) ?? DEFAULT_BUCKET);
    const rate = rater();
    let unacked = 0;
    let position = 0;
    let records = 0;
    let bytes = 0;
    let retries = 0;
    if (show) {
      ticker = setInterval(() => {
        const r = rate(records, bytes);
        const ring = xb.closed ? null : xb.rings().inbound;
        const what = mode.kind === "records" ? "records" : mode.kind === "frames" ? "frames" : "msgs";
        show(
          `${name} -> ${stream}/${subject}: ${Math.round(r.a)} ${what}/s, ${bytesText(Math.round(r.b))}/s, unacked ${unacked}/${window}` +
            (ring ? `, ring ${Math.round((100 * ring.fill) / ring.size)}%` : "") +
            `, at ${bytesText(position)}${retries ? `, ${retries} retries` : ""}${stop.signal.aborted ? " (stopping)" : ""}`,
        );
      }, 250);
    }
    const stats = await bridgeOut(xb, jetstream(nc), {
      subject,
      mode,
      kv,
      window,
      ...(str(values.id) ? { id: str(values.id)! } : {}),
      signal: stop.signal,
      onProgress: (s) => {
        unacked = s.unacked;
        position = s.position;
        records = mode.kind === "bytes" ? s.messages : s.records;
        bytes = s.bytes;
        retries = s.retries;
      },
      onWarning: (t) => process.stderr.write(`xbuf bridge out: ${t}\n`),
    }).catch((e) => {
      release = false;
      throw e;
    });
    if (process.stderr.isTTY) {
      show?.("");
      process.stderr.write(
        `xbuf bridge out: ${stats.messages} messages, ${bytesText(stats.bytes)} to ${stream}/${subject}` +
          `${stats.duplicates ? ` (${stats.duplicates} duplicates dropped by JetStream)` : ""}; ${stats.end === "stopped" ? "stopped" : "the producer let go"}\n`,
      );
    }
    return 0;
  } finally {
    if (ticker) clearInterval(ticker);
    show?.("");
    await closeNats(nc);
    if (release) xb.close();
  }
}

async function inbound(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { ...COMMON, durable: { type: "string", short: "d" }, frames: { type: "boolean" } },
    { min: 1, max: 1, names: "NAME" },
  );
  const name = elementName(positionals[0]!);
  const subject = subjectOf(values.subject);
  if (values.create === true && !str(values.stream)) throw new UsageError("--create needs --stream NAME");
  const window = num("--window", values.window, 256, { min: 1, max: 65536, integer: true });
  const durable = str(values.durable) ?? defaultDurable(name);
  if (!/^[-\w]+$/.test(durable)) throw new UsageError(`--durable must be letters, digits, '-' or '_', got '${durable}'`);

  const xb = XBuf.open(name);
  const nc = await connectNats({ servers: str(values.server), creds: str(values.creds), token: str(values.token), name: `xbuf bridge in ${name}` });
  using stop = interrupts();
  const show = progress({ stdoutIsData: false });
  let ticker: ReturnType<typeof setInterval> | undefined;
  try {
    const jsm = await jetstreamManager(nc);
    const stream = await ensureStream(jsm, { stream: str(values.stream), subject, create: values.create === true });
    await ensureConsumer(jsm, stream, durable, subject, window);
    const rate = rater();
    let messages = 0;
    let bytes = 0;
    let waiting = false;
    if (show) {
      ticker = setInterval(() => {
        const r = rate(messages, bytes);
        const ring = xb.closed ? null : xb.rings().outbound;
        show(
          `${stream}/${subject} -> ${name}: ${Math.round(r.a)} msgs/s, ${bytesText(Math.round(r.b))}/s` +
            (ring ? `, ring ${Math.round((100 * ring.fill) / ring.size)}%` : "") +
            `${waiting ? " (ring full)" : ""}${stop.signal.aborted ? " (stopping)" : ""}`,
        );
      }, 250);
    }
    const stats = await bridgeIn(xb, jetstream(nc), {
      stream,
      subject,
      durable,
      frames: values.frames === true,
      window,
      signal: stop.signal,
      onProgress: (s) => {
        messages = s.messages;
        bytes = s.bytes;
        waiting = s.waiting;
      },
    });
    if (process.stderr.isTTY) {
      show?.("");
      process.stderr.write(`xbuf bridge in: ${stats.messages} messages, ${bytesText(stats.bytes)} into ${name}; ${stats.end === "stopped" ? "stopped" : "the driver let go"}\n`);
    }
    return 0;
  } finally {
    if (ticker) clearInterval(ticker);
    show?.("");
    await closeNats(nc);
    xb.close();
  }
}
