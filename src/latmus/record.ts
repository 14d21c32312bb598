/**
 * The latmus wire format: one record per reporting interval, as both the
 * user-space driver (csrc/latmus.c) and the kernel companion
 * (kmod/latmus.c) send it. struct xbuf_latmus_record, little-endian,
 * natural C layout (no padding needed), 24 bytes:
 *
 *   u64 sum_lat;   ns, over `samples` wake-ups
 *   s32 min_lat;   ns
 *   s32 max_lat;   ns
 *   u32 overruns;  periods missed
 *   u32 samples;   wake-ups measured
 */
import { defineRecord } from "../records.ts";

export const LatmusRecord = defineRecord({
  sum_lat: "u64",
  min_lat: "s32",
  max_lat: "s32",
  overruns: "u32",
  samples: "u32",
});

/** The fields of one record, as read from a cursor (numbers, ns). */
export interface LatmusSample {
  readonly sum_lat: number;
  readonly min_lat: number;
  readonly max_lat: number;
  readonly overruns: number;
  readonly samples: number;
}

/** Encode a record (tests, fixtures): the C layout, little-endian. */
export function encodeLatmusRecord(r: LatmusSample, into = new Uint8Array(LatmusRecord.size), at = 0): Uint8Array {
  const dv = new DataView(into.buffer, into.byteOffset + at, LatmusRecord.size);
  dv.setBigUint64(0, BigInt(r.sum_lat), true);
  dv.setInt32(8, r.min_lat, true);
  dv.setInt32(12, r.max_lat, true);
  dv.setUint32(16, r.overruns, true);
  dv.setUint32(20, r.samples, true);
  return into;
}
