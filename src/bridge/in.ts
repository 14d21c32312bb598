/**
 * bridgeIn: a durable JetStream consumer into an element's outbound ring
 * (application to driver).
 *
 * Each message's bytes are written into the ring (one atomic write, as
 * xb.write() does; with `frames`, after a u32 little-endian length), and
 * the message is acknowledged only once that write is committed. The
 * durable consumer is the resume position, kept by JetStream: a bridge
 * restarted anywhere goes on after the last acknowledged message. While
 * the ring is full the message in hand is kept alive (`working()`), no
 * more than `window` are pulled ahead, and the driver sees them in order.
 * Delivery is at least once: a bridge killed between a commit and its
 * acknowledgement writes that message again when it restarts.
 */
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { XBufError } from "../errors.ts";
import type { XBuf } from "../xbuf.ts";
import { BridgeError } from "./errors.ts";
import { kvKey } from "./resume.ts";

export interface BridgeInOptions {
  stream: string;
  /** Only messages of this subject (a filter; wildcards allowed). */
  subject: string;
  /** The durable consumer's name (default: xbuf-in-<element>); made when missing. */
  durable?: string;
  /** Prefix each message with its length (u32 little-endian), for drivers that read frames. */
  frames?: boolean;
  /** Messages pulled ahead and unacknowledged at most (default 256). */
  window?: number;
  /** Stop: the message in hand is written and acknowledged (or left for redelivery), then it resolves. */
  signal?: AbortSignal;
  onProgress?: (stats: Readonly<InStats>) => void;
}

export interface InStats {
  messages: number;
  bytes: number;
  /** Redeliveries of messages already written (skipped, acknowledged). */
  redelivered: number;
  /** Stream sequence of the last message written. */
  lastSeq: number;
  /** A write waiting for room in the ring now. */
  waiting: boolean;
  end: "running" | "driver-gone" | "stopped";
}

export function defaultDurable(element: string): string {
  return "xbuf-in-" + kvKey(element).replace(/[.=]/g, "_");
}

/**
 * The durable pull consumer, made if missing (explicit acks, from the
 * start of the stream). One that a previous bridge left with messages
 * delivered but not acknowledged (killed, or stopped with messages pulled
 * ahead) is made again at its ack floor: JetStream would redeliver those
 * only after the ack wait, behind newer ones, and the ring must see the
 * stream in order. Only one bridge may use a durable at a time.
 */
export async function ensureConsumer(jsm: JetStreamManager, stream: string, durable: string, subject: string, window: number): Promise<void> {
  let from = 0; // stream sequence to start at; 0: the beginning
  try {
    const info = await jsm.consumers.info(stream, durable);
    const filter = info.config.filter_subject ?? "";
    if (filter && filter !== subject) {
      throw new BridgeError("CONFIG", `consumer ${durable} of stream ${stream} filters '${filter}', not '${subject}': pass another --durable`);
    }
    if (!info.num_ack_pending) return;
    from = info.ack_floor.stream_seq + 1;
    await jsm.consumers.delete(stream, durable);
  } catch (e) {
    if (e instanceof BridgeError) throw e;
    if (!/consumer not found/i.test(String((e as Error).message))) throw e;
  }
  await jsm.consumers.add(stream, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    ...(from > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from } : { deliver_policy: DeliverPolicy.All }),
    filter_subject: subject,
    max_ack_pending: Math.max(window, 1),
  });
}

/**
 * Consume `durable` (see ensureConsumer) into `xb`'s outbound ring until
 * `signal` stops it or the driver lets go (EPIPE).
 */
export async function bridgeIn(xb: XBuf, js: JetStreamClient, options: BridgeInOptions & { durable: string }): Promise<InStats> {
  const capacity = xb.rings().outbound.size;
  if (!capacity) throw new BridgeError("CONFIG", `${xb.name}: no outbound ring`);
  const window = options.window ?? 256;
  const stats: InStats = { messages: 0, bytes: 0, redelivered: 0, lastSeq: 0, waiting: false, end: "running" };
  const progress = () => options.onProgress?.(stats);
  const consumer = await js.consumers.get(options.stream, options.durable);
  const messages = await consumer.consume({ max_messages: window, expires: 2000 });
  const stop = () => messages.stop();
  options.signal?.addEventListener("abort", stop, { once: true });
  if (options.signal?.aborted) stop();
  try {
    for await (const m of messages) {
      if (m.seq <= stats.lastSeq) {
        stats.redelivered++;
        m.ack();
        continue;
      }
      const data = options.frames ? framed(m.data) : m.data;
      if (data.length > capacity) {
        m.nak();
        throw new BridgeError("FRAME", `message ${m.seq} of ${options.stream} (${data.length} bytes${options.frames ? " with its length" : ""}) does not fit ${xb.name}'s ${capacity}-byte outbound ring`);
      }
      if (!data.length) {
        m.ack();
        continue;
      }
      if (!(await write(xb, data, m, stats, options.signal))) {
        stats.end = stats.end === "running" ? "stopped" : stats.end;
        break;
      }
      m.ack();
      stats.messages++;
      stats.bytes += m.data.length;
      stats.lastSeq = m.seq;
      progress();
      if (options.signal?.aborted) break;
    }
  } catch (e) {
    if (e instanceof XBufError && e.code === "EPIPE") stats.end = "driver-gone";
    else throw e;
  } finally {
    options.signal?.removeEventListener("abort", stop);
    messages.stop();
  }
  if (stats.end === "running") stats.end = options.signal?.aborted ? "stopped" : "driver-gone";
  progress();
  return stats;
}

function framed(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length, true);
  out.set(payload, 4);
  return out;
}

/**
 * Write all of `data` (atomic): at once if there is room, else waiting,
 * telling JetStream the message is in progress meanwhile. False when a
 * stop came while waiting for room: nothing was written, the message is
 * not acknowledged (JetStream delivers it again later).
 */
async function write(xb: XBuf, data: Uint8Array, m: JsMsg, stats: InStats, signal?: AbortSignal): Promise<boolean> {
  if (xb.tryWrite(data)) return true;
  stats.waiting = true;
  const keepAlive = setInterval(() => m.working(), 5000);
  let abort: (() => void) | undefined;
  try {
    const stopped = new Promise<false>((resolve) => {
      abort = () => resolve(false);
      signal?.addEventListener("abort", abort, { once: true });
      if (signal?.aborted) resolve(false);
    });
    // A stop while waiting: closing the element ends the wait without writing (EBADF).
    const written = xb.write(data).then(() => true as const);
    written.catch(() => {}); // when the stop wins, the write rejects later (EBADF): seen here
    const done = await Promise.race([written, stopped]);
    if (!done) {
      xb.close();
      return false;
    }
    return true;
  } catch (e) {
    if (e instanceof XBufError && e.code === "EBADF" && signal?.aborted) return false;
    throw e;
  } finally {
    clearInterval(keepAlive);
    if (abort) signal?.removeEventListener("abort", abort);
    stats.waiting = false;
  }
}
