/**
 * Where `bridgeOut` stands, kept in JetStream itself (a KV bucket), so a
 * bridge restarted here or on another machine goes on from there:
 *
 *   { v: 1, pos, ring, instance }
 *
 * `pos` is the logical stream position (bytes bridged and acknowledged
 * for this element and subject, across restarts and machines); `ring` is
 * the element's inbound `consumed` counter at that point; `instance`
 * names the ring (host, boot, inode of its backing file), so a bridge
 * can tell "the same ring, resumed" (skip what was acknowledged but not
 * yet released) from "a new ring" (go on counting from `pos`).
 */
import { readFileSync, statSync } from "node:fs";
import { hostname } from "node:os";
import type { KV } from "@nats-io/kv";
import type { XBuf } from "../xbuf.ts";

export interface ResumeState {
  v: 1;
  pos: number;
  ring: number;
  instance: string;
}

/** host/boot/inode of the element's backing file: one ring, not another of the same name. */
export function ringInstance(xb: XBuf): string {
  let boot = "";
  try {
    boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {}
  const path = xb.backend === "kernel" ? `/dev/xbuf/${xb.name}` : `/dev/shm/xbuf.${xb.name}`;
  let ino = "private";
  try {
    ino = String(statSync(path).ino);
  } catch {}
  return `${hostname()}/${boot}/${ino}`;
}

/** A KV key for any string: [-/_=.a-zA-Z0-9] kept, every other byte as =XX. */
export function kvKey(...parts: string[]): string {
  return parts
    .map((p) =>
      Array.from(new TextEncoder().encode(p), (b) => {
        const c = String.fromCharCode(b);
        return /[-_a-zA-Z0-9]/.test(c) ? c : "=" + b.toString(16).padStart(2, "0");
      }).join(""),
    )
    .join(".");
}

export async function loadState(kv: KV, key: string): Promise<ResumeState | null> {
  const e = await kv.get(key);
  if (!e || e.operation !== "PUT" || !e.value.length) return null;
  const s = e.json<ResumeState>();
  if (s?.v !== 1 || !Number.isSafeInteger(s.pos) || !Number.isSafeInteger(s.ring)) return null;
  return s;
}

export async function saveState(kv: KV, key: string, s: ResumeState): Promise<void> {
  await kv.put(key, JSON.stringify(s));
}
