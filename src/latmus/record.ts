/**
 * The latmus wire format: one record per reporting interval, as both the
 * user-space sampler (csrc/latmus.c) and the kernel companion
 * (kmod/latmus.c) send it: struct xbuf_latmus_record of
 * include/xbuf/kernel.h, whose layout is src/layout.ts's LatmusRecord.
 */
import { LatmusRecord } from "../layout.ts";

export { LatmusRecord };

/** The fields of one record, as read from a cursor (numbers, ns). */
export interface LatmusSample {
  readonly sum_lat: number;
  readonly min_lat: number;
  readonly max_lat: number;
  readonly overruns: number;
  readonly samples: number;
}

const AT = LatmusRecord.offsets;

/** Encode a record (tests, fixtures): the C layout, little-endian. */
export function encodeLatmusRecord(r: LatmusSample, into: Uint8Array = new Uint8Array(LatmusRecord.size), at: number = 0): Uint8Array {
  const dv = new DataView(into.buffer, into.byteOffset + at, LatmusRecord.size);
  dv.setBigUint64(AT.sum_lat, BigInt(r.sum_lat), true);
  dv.setInt32(AT.min_lat, r.min_lat, true);
  dv.setInt32(AT.max_lat, r.max_lat, true);
  dv.setUint32(AT.overruns, r.overruns, true);
  dv.setUint32(AT.samples, r.samples, true);
  return into;
}
