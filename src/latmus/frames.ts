/**
 * The framed latmus stream (include/xbuf/kernel.h): frames, each written
 * whole by the sampler, each with an 8-byte header { u16 type, u16 flags,
 * u32 size }. The reader takes them in place from the ring's views; a
 * frame split across two views (never, as the samplers write them, but a
 * reader must not assume it) is reassembled in a small carry buffer.
 */
import { LatmusEnd, LatmusFrame, LatmusHistCell, LatmusRecord } from "../layout.ts";
import type { LatmusSample } from "./record.ts";

export const F_INTERVAL = 1;
export const F_HIST = 2;
export const F_SAMPLES = 3;
export const F_END = 4;
export const FF_PARTIAL = 0x1;

const HDR = LatmusFrame.size;
const REC = LatmusRecord.offsets;
const END = LatmusEnd.offsets;
const CELL = LatmusHistCell.size;

export interface LatmusEndInfo {
  samples: number;
  overruns: number;
  records: number;
  dropped: number;
  lost: number;
  error: number;
}

export interface FrameSink {
  /** One interval record (a reused object: read it now). */
  interval(r: LatmusSample, partial: boolean): void;
  /** The HIST frame's counts: add `count` to `cell` (cell === cells: outliers). */
  hist(cells: number, cell: number, count: number): void;
  /** n raw samples, little-endian u32 ns, in `bytes` (a view into the ring). */
  samples(bytes: Uint8Array, n: number): void;
  end(e: LatmusEndInfo): void;
}

/** Encode frames (tests, fixtures): what the samplers write. */
export function encodeFrame(type: number, flags: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HDR + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, type, true);
  dv.setUint16(2, flags, true);
  dv.setUint32(4, out.length, true);
  out.set(payload, HDR);
  return out;
}

export class FrameReader {
  #sink: FrameSink;
  #carry = new Uint8Array(0);
  #rec = { sum_lat: 0, min_lat: 0, max_lat: 0, overruns: 0, samples: 0 };
  ended = false;
  /** Frames of a type this reader does not know: skipped by size. */
  unknown = 0;

  constructor(sink: FrameSink) {
    this.#sink = sink;
  }

  /** Take every whole frame of `view` (then the caller may release it). Returns true once END was read. */
  feed(view: Uint8Array): boolean {
    let bytes = view;
    if (this.#carry.length) {
      const joined = new Uint8Array(this.#carry.length + view.length);
      joined.set(this.#carry);
      joined.set(view, this.#carry.length);
      bytes = joined;
      this.#carry = new Uint8Array(0);
    }
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = 0;
    while (!this.ended && at + HDR <= bytes.length) {
      const type = dv.getUint16(at, true);
      const flags = dv.getUint16(at + 2, true);
      const size = dv.getUint32(at + 4, true);
      if (size < HDR || size % 4) throw new Error(`latmus stream: a frame of ${size} bytes (type ${type}) at ${at}`);
      if (at + size > bytes.length) break;
      const p = at + HDR;
      switch (type) {
        case F_INTERVAL: {
          const r = this.#rec;
          r.sum_lat = Number(dv.getBigUint64(p + REC.sum_lat, true));
          r.min_lat = dv.getInt32(p + REC.min_lat, true);
          r.max_lat = dv.getInt32(p + REC.max_lat, true);
          r.overruns = dv.getUint32(p + REC.overruns, true);
          r.samples = dv.getUint32(p + REC.samples, true);
          this.#sink.interval(r, (flags & FF_PARTIAL) !== 0);
          break;
        }
        case F_HIST: {
          const cells = dv.getUint32(p, true);
          const n = dv.getUint32(p + 4, true);
          for (let i = 0; i < n; i++) {
            const q = p + 8 + i * CELL;
            this.#sink.hist(cells, dv.getUint32(q, true), dv.getUint32(q + 4, true));
          }
          break;
        }
        case F_SAMPLES:
          this.#sink.samples(bytes.subarray(p, at + size), (size - HDR) / 4);
          break;
        case F_END:
          this.ended = true;
          this.#sink.end({
            samples: Number(dv.getBigUint64(p + END.samples, true)),
            overruns: Number(dv.getBigUint64(p + END.overruns, true)),
            records: Number(dv.getBigUint64(p + END.records, true)),
            dropped: Number(dv.getBigUint64(p + END.dropped, true)),
            lost: Number(dv.getBigUint64(p + END.lost, true)),
            error: dv.getInt32(p + END.error, true),
          });
          break;
        default:
          this.unknown++;
      }
      at += size;
    }
    if (!this.ended && at < bytes.length) this.#carry = bytes.slice(at);
    return this.ended;
  }
}
