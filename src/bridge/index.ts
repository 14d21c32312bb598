/**
 * xbuf/bridge: cross-buffers to and from NATS JetStream, beyond one machine.
 *
 * - bridgeOut(xb, js, options): an element's inbound traffic to a subject,
 *   at least once, deduplicated by Nats-Msg-Id, position kept in a KV bucket;
 * - bridgeIn(xb, js, options): a durable consumer into an element's
 *   outbound ring, acknowledged only once the bytes are committed;
 * - connectNats(options): a connection from the usual NATS options;
 * - ensureStream(), ensureConsumer(): the checks and --create of the CLI.
 *
 * Needs the peer dependencies @nats-io/transport-node, @nats-io/jetstream
 * and @nats-io/kv (3.4).
 *
 * @example
 * ```ts
 * import { XBuf } from "xbuf";
 * import { bridgeOut, connectNats, ensureStream, openResumeBucket } from "xbuf/bridge";
 * import { jetstream, jetstreamManager } from "@nats-io/jetstream";
 *
 * const nc = await connectNats({ servers: "nats://hub.example:4222" });
 * await ensureStream(await jetstreamManager(nc), { stream: "PLANT", subject: "plant.sensors", create: true });
 * using xb = XBuf.open("sensors");
 * const stats = await bridgeOut(xb, jetstream(nc), {
 *   subject: "plant.sensors",
 *   mode: { kind: "records", size: 24, batch: 64 },
 *   kv: await openResumeBucket(nc),
 * });
 * ```
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { BridgeError } from "./errors.ts";

export { bridgeOut, type BridgeOutOptions, type OutMode, type OutStats } from "./out.ts";
export { bridgeIn, defaultDurable, ensureConsumer, type BridgeInOptions, type InStats } from "./in.ts";
export { connectNats, DEFAULT_SERVER, serverList, type NatsOptions } from "./connect.ts";
export { BridgeError, redact, type BridgeErrorCode } from "./errors.ts";
export { kvKey, loadState, ringInstance, type ResumeState } from "./resume.ts";

export const DEFAULT_BUCKET = "xbuf-bridge";

/** The resume state's KV bucket (made when missing; one value per key, file storage). */
export async function openResumeBucket(nc: NatsConnection, bucket: string = DEFAULT_BUCKET): Promise<KV> {
  return await new Kvm(nc).create(bucket, { history: 1 });
}

/**
 * The stream that takes `subject`: `stream` when given (it must exist and
 * capture the subject; made when missing with `create`), else whichever
 * stream captures the subject. Returns its name.
 */
export async function ensureStream(jsm: JetStreamManager, o: { stream?: string; subject: string; create?: boolean }): Promise<string> {
  if (!o.stream) {
    try {
      return await jsm.streams.find(o.subject);
    } catch (e) {
      if (!/no stream matches/i.test(String((e as Error).message))) throw e;
      throw new BridgeError("NO_STREAM", `no stream captures subject '${o.subject}': pass --stream NAME (with --create to make it)`);
    }
  }
  try {
    const info = await jsm.streams.info(o.stream);
    const subjects = info.config.subjects ?? [];
    if (!subjects.some((s) => subjectMatches(s, o.subject))) {
      throw new BridgeError("SUBJECT", `stream ${o.stream} does not capture subject '${o.subject}' (its subjects: ${subjects.join(", ") || "none"})`);
    }
    return o.stream;
  } catch (e) {
    if (e instanceof BridgeError) throw e;
    if (!/stream not found/i.test(String((e as Error).message))) throw e;
    if (!o.create) throw new BridgeError("NO_STREAM", `stream ${o.stream} does not exist: create it, or pass --create`);
  }
  await jsm.streams.add({ name: o.stream, subjects: [o.subject] });
  return o.stream;
}

/** Does subject filter `filter` (with * and >) match the literal or filter `subject`? */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split(".");
  const s = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== "*" && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}
