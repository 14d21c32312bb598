/**
 * bridgeOut: an element's inbound traffic (driver to application) to a
 * JetStream subject.
 *
 * Zero-copy on the ring side: every message is a subarray of the mapped
 * ring (the client copies it once, into its socket buffer). The bridge
 * holds a span of the ring (at most half of it, so the producer fills the
 * other half meanwhile) until every message cut from it is acknowledged
 * by JetStream, and only then lets the ring consume it. So:
 *
 * - back-pressure: at most `window` publishes are unacknowledged; when
 *   JetStream lags, the span is not released, the ring fills and the
 *   producer sees a full ring (EAGAIN, or its blocking write waits);
 * - a bridge killed at any point loses nothing: what was not released is
 *   still in the ring, and is published again under the same message ids
 *   (`Nats-Msg-Id`: identity and stream position), which JetStream drops
 *   as duplicates within the stream's duplicate window;
 * - an error (a message JetStream refuses for good) leaves the span in
 *   hand borrowed, not released: the CLI then exits without closing the
 *   element, and the next run sends it again (closing xb would release it);
 * - the position is saved in a KV bucket before each release: a restart
 *   skips what was acknowledged (beyond the duplicate window too), and a
 *   bridge started on another machine goes on counting from there.
 */
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { errors } from "@nats-io/transport-node";
import type { XBuf } from "../xbuf.ts";
import { XBufError } from "../errors.ts";
import type { RecordLayout } from "../records.ts";
import { BridgeError } from "./errors.ts";
import { kvKey, loadState, ringInstance, saveState, type ResumeState } from "./resume.ts";

export type OutMode =
  /** Whatever bytes arrive, at most `chunk` per message (default 64 KiB). */
  | { kind: "bytes"; chunk?: number }
  /** Fixed-size records, one per message, or up to `batch` per message. */
  | { kind: "records"; size: number; batch?: number }
  /** Frames: a u32 little-endian length, then that many bytes; one message per frame (its payload). */
  | { kind: "frames" };

export interface BridgeOutOptions {
  /** Subject every message goes to. */
  subject: string;
  /** How the traffic is cut into messages (default: bytes). */
  mode?: OutMode;
  /** The resume state's bucket (see resume.ts); null: none (the duplicate window alone). */
  kv: KV | null;
  /** Identity in message ids and the resume key (default: element name and subject). */
  id?: string;
  /** Most publishes unacknowledged at once (default 256). */
  window?: number;
  /** Per publish, ms before it is sent again (same id; default 2000). */
  ackTimeoutMs?: number;
  /** Stop: the span in hand is published and acknowledged, then released; resolves then. */
  signal?: AbortSignal;
  /** Called after each acknowledged span, and on each retry. */
  onProgress?: (stats: Readonly<OutStats>) => void;
  /** A warning for people (the CLI prints it on stderr). */
  onWarning?: (text: string) => void;
}

export interface OutStats {
  /** Messages acknowledged (duplicates included). */
  messages: number;
  /** Of which JetStream reported as duplicates (sent again after a restart or a retry). */
  duplicates: number;
  /** Records acknowledged (records mode; frames mode: frames). */
  records: number;
  /** Payload bytes acknowledged. */
  bytes: number;
  /** Publishes sent again after a timeout or an error. */
  retries: number;
  /** Publishes in flight now. */
  unacked: number;
  /** Logical stream position: bytes of this element bridged, over all runs. */
  position: number;
  /** Bytes skipped at start: acknowledged by an earlier run, not yet released by it. */
  skipped: number;
  /** Why it ended. */
  end: "running" | "producer-gone" | "stopped";
}

interface Entry {
  data: Uint8Array;
  id: string;
  records: number;
  ack: Promise<PubAck | Error>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A RecordLayout that decodes nothing: its cursor only says where a record starts in the ring. */
function rawLayout(size: number): RecordLayout<Record<string, never>> & { dv: DataView | null } {
  const layout = {
    size,
    offsets: {},
    alignment: 1,
    dv: null as DataView | null,
    typedCursor: () => null,
    cursor(view: DataView) {
      layout.dv = view;
      return { offset: 0 } as never;
    },
  };
  return layout;
}

/** Errors no retry mends: the message itself, or the subject, is refused. */
function fatal(e: unknown): boolean {
  if (e instanceof errors.PermissionViolationError) return true;
  const m = String((e as Error)?.message ?? e);
  return /maximum payload|permission|message size exceeds|invalid subject/i.test(m);
}

class Window {
  #q: (Entry | undefined)[] = [];
  #head = 0;
  constructor(
    private js: JetStreamClient,
    private subject: string,
    private size: number,
    private timeout: number,
    private stats: OutStats,
    private progress: () => void,
  ) {}

  #send(data: Uint8Array, id: string): Promise<PubAck | Error> {
    return this.js.publish(this.subject, data, { msgID: id, timeout: this.timeout }).catch((e: Error) => e);
  }

  async push(data: Uint8Array, id: string, records: number): Promise<void> {
    while (this.stats.unacked >= this.size) await this.settleOne();
    this.#q.push({ data, id, records, ack: this.#send(data, id) });
    this.stats.unacked++;
  }

  /** The oldest publish, acknowledged; sent again (same id, in order) until it is. */
  async settleOne(): Promise<void> {
    const e = this.#q[this.#head]!;
    let backoff = 50;
    for (;;) {
      const r = await e.ack;
      if (!(r instanceof Error)) {
        if (r.duplicate) this.stats.duplicates++;
        break;
      }
      if (fatal(r)) throw new BridgeError("PUBLISH", `JetStream refused message ${e.id} on ${this.subject}: ${r.message}`, { cause: r });
      this.stats.retries++;
      this.progress();
      await sleep(backoff);
      backoff = Math.min(1000, backoff * 2);
      e.ack = this.#send(e.data, e.id);
    }
    this.#q[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#q.length) {
      this.#q = this.#q.slice(this.#head);
      this.#head = 0;
    }
    this.stats.unacked--;
    this.stats.messages++;
    this.stats.records += e.records;
    this.stats.bytes += e.data.length;
  }

  async drain(): Promise<void> {
    while (this.stats.unacked) await this.settleOne();
  }
}

/**
 * Bridge `xb`'s inbound traffic to `subject` until the producer lets go
 * (its bytes all acknowledged) or `signal` stops it. Resolves with the
 * counts. The stream must exist and capture the subject (the CLI checks).
 *
 * @example
 * ```ts
 * import { XBuf } from "xbuf";
 * import { bridgeOut, connectNats } from "xbuf/bridge";
 * import { jetstream } from "@nats-io/jetstream";
 * import { Kvm } from "@nats-io/kv";
 *
 * const nc = await connectNats({ servers: "nats://hub:4222" });
 * const kv = await new Kvm(nc).create("xbuf-bridge");
 * using xb = XBuf.open("sensors");
 * await bridgeOut(xb, jetstream(nc), { subject: "plant.sensors", mode: { kind: "records", size: 24, batch: 64 }, kv });
 * ```
 */
export async function bridgeOut(xb: XBuf, js: JetStreamClient, options: BridgeOutOptions): Promise<OutStats> {
  const subject = options.subject;
  if (!subject || /[\s*>]/.test(subject)) throw new BridgeError("CONFIG", `--subject must be a subject without wildcards, got '${subject}'`);
  const mode: OutMode = options.mode ?? { kind: "bytes" };
  const windowSize = options.window ?? 256;
  if (!Number.isInteger(windowSize) || windowSize < 1) throw new BridgeError("CONFIG", `window must be a positive integer, got ${windowSize}`);
  const capacity = xb.rings().inbound.size;
  if (!capacity) throw new BridgeError("CONFIG", `${xb.name}: no inbound ring`);
  const maxPayload = (js as unknown as { nc?: { info?: { max_payload?: number } } }).nc?.info?.max_payload ?? 1 << 20;
  if (mode.kind === "records") {
    if (!Number.isInteger(mode.size) || mode.size < 1) throw new BridgeError("CONFIG", `record size must be a positive integer, got ${mode.size}`);
    if (mode.size > capacity / 2) throw new BridgeError("RECORD", `a ${mode.size}-byte record does not fit half of ${xb.name}'s ${capacity}-byte inbound ring`);
    const batch = mode.batch ?? 1;
    if (!Number.isInteger(batch) || batch < 1) throw new BridgeError("CONFIG", `batch must be a positive integer, got ${batch}`);
    if (batch * mode.size > maxPayload) throw new BridgeError("RECORD", `a batch of ${batch} ${mode.size}-byte records exceeds the server's ${maxPayload}-byte message limit`);
  }
  const chunk = Math.min(mode.kind === "bytes" ? (mode.chunk ?? 65536) : 65536, maxPayload);

  const identity = options.id ?? `${xb.name}:${subject}`;
  const key = kvKey("out", identity);
  const instance = ringInstance(xb);
  const stats: OutStats = { messages: 0, duplicates: 0, records: 0, bytes: 0, retries: 0, unacked: 0, position: 0, skipped: 0, end: "running" };
  const progress = () => options.onProgress?.(stats);
  const win = new Window(js, subject, windowSize, options.ackTimeoutMs ?? 2000, stats, progress);

  // Where we stand: ring counter `ring` is logical position `base + ring`.
  let ring = xb.stat().inbound.consumed;
  let delta: number; // logical = ring offset + delta
  let skip = 0; // bytes at the head of the ring already acknowledged
  const saved = options.kv ? await loadState(options.kv, key) : null;
  if (!saved) delta = -ring;
  else if (saved.instance !== instance) delta = saved.pos - ring; // a new ring: go on counting
  else if (saved.ring >= ring) {
    skip = saved.ring - ring;
    delta = saved.pos - saved.ring;
    if (skip > capacity) throw new BridgeError("RESUME", `resume state ${key} is ${skip} bytes ahead of ${xb.name}'s ring, more than it holds`);
  } else {
    const gap = ring - saved.ring;
    if (mode.kind === "frames") {
      throw new BridgeError("RESUME", `${xb.name}: ${gap} bytes were consumed since the last acknowledged frame (by another reader?): the frames cannot be found again; delete key ${key} to start over`);
    }
    if (mode.kind === "records" && gap % mode.size) {
      throw new BridgeError("RECORD", `${xb.name}: ${gap} bytes were consumed by another reader, not a multiple of the ${mode.size}-byte record`);
    }
    options.onWarning?.(`${xb.name}: ${gap} bytes were consumed by another reader since the last run: not bridged`);
    delta = saved.pos - saved.ring;
  }
  stats.position = ring + delta + skip;
  stats.skipped = skip;

  const idAt = (ringPos: number) => `${identity}:${ringPos + delta}`;
  const save = async (ringPos: number) => {
    if (!options.kv) return;
    const s: ResumeState = { v: 1, pos: ringPos + delta, ring: ringPos, instance };
    for (let backoff = 50; ; backoff = Math.min(1000, backoff * 2)) {
      try {
        return await saveState(options.kv, key, s);
      } catch (e) {
        if (fatal(e)) throw new BridgeError("PUBLISH", `cannot save the resume state ${key}: ${(e as Error).message}`, { cause: e });
        stats.retries++;
        progress();
        await sleep(backoff);
      }
    }
  };
  /** After a span is cut: every message acknowledged, the position saved, then (by the caller's next step) released. */
  const settleSpan = async (endRing: number) => {
    await win.drain();
    await save(endRing);
    stats.position = endRing + delta;
    progress();
  };
  const stopped = () => options.signal?.aborted ?? false;
  // A stop while a span is in hand ends the loop after that span; while the
  // loop waits for traffic, only closing the element ends the wait (and
  // then no span is held, so closing releases nothing unacknowledged).
  let holding = false;
  const onAbort = () => {
    if (!holding) xb.close();
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await pump();
  } catch (e) {
    if (!(stopped() && e instanceof XBufError && e.code === "EBADF")) throw e;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
  await win.drain();
  stats.end = stopped() ? "stopped" : "producer-gone";
  progress();
  return stats;

  /**
   * The producer let go with part of a record left: the record size does
   * not divide the traffic. Checked before each step, with `held` bytes of
   * the span in hand about to be released: recordBatches() would otherwise
   * wait for the rest of that record forever (and, the producer gone,
   * spin: its readiness poll says "ready" and the read finds no record).
   */
  function partialLeft(held: number, ended = false): void {
    if (mode.kind !== "records") return;
    const st = xb.stat().inbound;
    const left = st.fill - held;
    if (left <= 0 || (left >= mode.size && !ended)) return;
    const pid = st.producerPid;
    let gone = ended || pid === 0;
    if (!gone && xb.backend === "user") {
      try {
        process.kill(pid, 0);
      } catch (e) {
        gone = (e as NodeJS.ErrnoException).code === "ESRCH";
      }
    }
    if (gone) {
      throw new BridgeError("RECORD", `the ${mode.size}-byte record size does not divide ${xb.name}'s traffic: the producer left ${left} bytes, part of a record`);
    }
  }

  async function pump(): Promise<void> {
    const half = Math.max(1, Math.floor(capacity / 2));
    if (mode.kind === "records") {
      const size = mode.size;
      const batch = mode.batch ?? 1;
      const layout = rawLayout(size);
      let bytes: Uint8Array | null = null;
      const it = xb.recordBatches(layout, { max: Math.max(1, Math.floor(half / size)) });
      let held = 0;
      for (;;) {
        partialLeft(held);
        const r = await it.next();
        if (r.done) break;
        const b = r.value;
        held = b.length * size;
        holding = true;
        bytes ??= new Uint8Array(layout.dv!.buffer, layout.dv!.byteOffset, layout.dv!.byteLength);
        const start = b.at(0).offset;
        let n = b.length;
        let at = start;
        let pos = ring;
        if (skip) {
          const k = Math.min(n, Math.floor(skip / size));
          at += k * size;
          pos += k * size;
          n -= k;
          skip -= k * size;
        }
        while (n > 0) {
          const k = Math.min(batch, n);
          await win.push(bytes.subarray(at, at + k * size), idAt(pos), k);
          at += k * size;
          pos += k * size;
          n -= k;
        }
        ring += b.length * size;
        await settleSpan(ring);
        holding = false;
        if (stopped()) return void (await it.return());
      }
      partialLeft(0, true);
    } else if (mode.kind === "bytes") {
      const it = xb.views({ max: half });
      for (let r = await it.next(); !r.done; r = await it.next()) {
        const view = r.value;
        holding = true;
        let at = Math.min(skip, view.length);
        skip -= at;
        while (at < view.length) {
          const end = Math.min(view.length, at + chunk);
          await win.push(view.subarray(at, end), idAt(ring + at), 0);
          at = end;
        }
        ring += view.length;
        await settleSpan(ring);
        holding = false;
        if (stopped()) return void (await it.return());
      }
    } else {
      // Frames: whole frames are published from the ring in place; a frame
      // split across two spans (its producer wrote it in pieces) is copied
      // together. Its head is released with its span, so a crash before the
      // rest arrives loses that one frame (resume then says so).
      let carry: Uint8Array | null = null; // the head of a split frame
      let carryRing = 0; // ring offset of its first byte
      const maxFrame = Math.min(maxPayload, capacity);
      const frameLen = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! * 2 ** 24);
      const checkLen = (n: number, at: number) => {
        if (n > maxFrame) throw new BridgeError("FRAME", `${xb.name}: a ${n}-byte frame at stream position ${at + delta} exceeds ${maxFrame} bytes (the server's message limit or the ring): is the traffic length-prefixed frames?`);
      };
      const it = xb.views();
      for (let r = await it.next(); !r.done; r = await it.next()) {
        const view = r.value;
        holding = true;
        let at = 0;
        if (skip) {
          // Whole frames were acknowledged up to `skip`: walk over them.
          while (skip) {
            const n = frameLen(view, at);
            at += 4 + n;
            skip -= 4 + n;
            if (skip < 0) throw new BridgeError("RESUME", `${xb.name}: the resume position does not fall between frames`);
          }
        }
        if (carry) {
          const need = 4 + frameLen(carry.length >= 4 ? carry : concat(carry, view.subarray(0, 4 - carry.length)), 0) - carry.length;
          if (view.length < need) {
            carry = concat(carry, view);
            ring += view.length;
            holding = false;
            continue;
          }
          const frame = concat(carry, view.subarray(0, need));
          await win.push(frame.subarray(4), idAt(carryRing), 1);
          at = need;
          carry = null;
        }
        let cut = at; // end of the last whole frame in this view
        while (view.length - at >= 4) {
          const n = frameLen(view, at);
          checkLen(n, ring + at);
          if (at + 4 + n > view.length) break;
          await win.push(view.subarray(at + 4, at + 4 + n), idAt(ring + at), 1);
          at += 4 + n;
          cut = at;
        }
        if (cut < view.length) {
          carry = view.slice(cut);
          carryRing = ring + cut;
        }
        ring += view.length;
        await settleSpan(carry ? carryRing : ring);
        holding = false;
        if (stopped() && !carry) return void (await it.return()); // a split frame: wait for its rest
      }
      if (carry) {
        throw new BridgeError("FRAME", `${xb.name}'s traffic ended inside a frame (${carry.length} bytes of it): not length-prefixed frames?`);
      }
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
