/**
 * Every C struct the binding reads, in one place, built with defineRecord:
 * the info page of a mapping (include/xbuf/abi.h), the out-parameters of
 * xbuf_rings() and xbuf_stat() (include/xbuf.h), of xbuf_latmus_info()
 * (include/xbuf/latmus.h), and the latmus record (include/xbuf/kernel.h).
 * Nothing else in src/ writes an offset or a size of a C struct.
 *
 * A struct member of struct type is flattened: its fields go in under
 * C's member designator ("ring[1].data_size", "inbound.fill"), which is
 * both the offsetof() argument and the key of `offsets`. That gives the C
 * layout as long as each embedded struct starts with a field of its own
 * alignment and its size is a multiple of it (true of all below).
 *
 * test/ts/layout.test.ts compares every size and offset here with what
 * the C compiler says (test/c/dump_layout.c prints sizeof/offsetof).
 * Layouts are of the 64-bit Linux ABI: size_t and unsigned long long are u64.
 */
import { defineRecord, type FieldType, type RecordLayout } from "./records.ts";

/** The fields of an embedded struct `name`, keyed by member designator. */
function member<P extends string, S extends Record<string, FieldType>>(
  name: P,
  spec: S,
): { [K in keyof S & string as `${P}.${K}`]: S[K] } {
  return Object.fromEntries(Object.entries(spec).map(([k, type]) => [`${name}.${k}`, type])) as never;
}

const SHM_RING_INFO = {
  capacity: "u64",
  data_size: "u64",
  data_file_off: "u64",
  data_map_off: "u64",
} as const;

/** struct xbuf_shm_ring_info: one ring's immutable description. */
export const XbufShmRingInfo = defineRecord(SHM_RING_INFO);

/** struct xbuf_shm_info: the info page, at offset 0 of every mapping. */
export const XbufShmInfo = defineRecord({
  magic: "u32",
  abi_version: "u32",
  page_size: "u32",
  header_pages: "u32",
  file_size: "u64",
  map_size: "u64",
  ...member("ring[0]", SHM_RING_INFO),
  ...member("ring[1]", SHM_RING_INFO),
});

/** Offset of ring[XBUF_INBOUND] / ring[XBUF_OUTBOUND] (a struct xbuf_shm_ring_info) in the info page. */
export const SHM_INFO_RING = [XbufShmInfo.offsets["ring[0].capacity"], XbufShmInfo.offsets["ring[1].capacity"]] as const;

/**
 * struct xbuf_shm_endpoint: one end of one ring in a side page (two cache
 * lines: the words the end stores per call, then from byte 64 those it
 * stores rarely). The fast path (src/fast.ts) addresses its words as u32
 * indices (EP there). A side page holds `prod` at 0 and `cons` at
 * XbufShmEndpoint.size.
 */
export const XbufShmEndpoint = defineRecord(
  { pos: "u64", ops: "u64", eagain: "u64", wakeups: "u64", seq: "u32", waiters: "u32", owner: "u32", wanted: "u32", fence: "u32" },
  { align: 128, fieldAlign: { seq: 64 } },
);

/** struct xbuf_rings: xbuf_rings()'s out-parameter (size_t fields). */
export const XbufRings = defineRecord({ ifill: "u64", isize: "u64", ofill: "u64", osize: "u64" });

const RING_STAT = {
  capacity: "u64",
  fill: "u64",
  produced: "u64",
  consumed: "u64",
  writes: "u64",
  reads: "u64",
  write_eagain: "u64",
  read_eagain: "u64",
  producer_wakeups: "u64",
  consumer_wakeups: "u64",
  producer_waiters: "u32",
  consumer_waiters: "u32",
  producer_pid: "i32",
  consumer_pid: "i32",
} as const;

/** struct xbuf_ring_stat: the counters of one direction. */
export const XbufRingStat = defineRecord(RING_STAT);

/** struct xbuf_stat: xbuf_stat()'s out-parameter. */
export const XbufStat = defineRecord({ ...member("inbound", RING_STAT), ...member("outbound", RING_STAT) });

/** struct xbuf_latmus_info: xbuf_latmus_info()'s and xbuf_latmus_stop()'s out-parameter. */
export const XbufLatmusInfo = defineRecord({
  records: "u64",
  dropped: "u64",
  samples: "u64",
  overruns: "u64",
  period_us: "u32",
  interval_us: "u32",
  policy: "i32",
  priority: "i32",
  cpu: "i32",
  error: "i32",
  running: "i32",
  reserved: "i32",
});

/**
 * struct xbuf_latmus_record: one reporting interval, as both samplers
 * send it (packed, little-endian whatever the CPU, 24 bytes):
 *
 *   u64 sum_lat;   ns, over `samples` wake-ups
 *   s32 min_lat;   ns
 *   s32 max_lat;   ns
 *   u32 overruns;  periods missed
 *   u32 samples;   wake-ups measured
 */
export const LatmusRecord: RecordLayout<{ sum_lat: "u64"; min_lat: "s32"; max_lat: "s32"; overruns: "u32"; samples: "u32" }> = defineRecord(
  { sum_lat: "u64", min_lat: "s32", max_lat: "s32", overruns: "u32", samples: "u32" },
  { packed: true },
);

/**
 * struct xbuf_latmus_params: xbuf_latmus_run()'s in-parameter (include/xbuf/latmus.h).
 * fake_ns is a pointer (u64 on the 64-bit ABI).
 */
export const XbufLatmusParams = defineRecord({
  period_us: "u32",
  interval_us: "u32",
  cpu: "i32",
  priority: "i32",
  context: "u32",
  hcells: "u32",
  flags: "u32",
  fake_count: "u32",
  periods: "u64",
  fake_ns: "u64",
});

/** struct xbuf_latmus_frame: the header of every frame of a framed latmus stream (packed, 8 bytes). */
export const LatmusFrame = defineRecord({ type: "u16", flags: "u16", size: "u32" }, { packed: true });

/** struct xbuf_latmus_hist_cell: one { cell, count } pair of a HIST frame. */
export const LatmusHistCell = defineRecord({ cell: "u32", count: "u32" }, { packed: true });

/** struct xbuf_latmus_end: the payload of the END frame (packed, 48 bytes). */
export const LatmusEnd = defineRecord(
  { samples: "u64", overruns: "u64", records: "u64", dropped: "u64", lost: "u64", error: "i32", __pad: "u32" },
  { packed: true },
);

/** Every layout above by its C struct name (what test/c/dump_layout.c prints). */
export const C_STRUCTS: { readonly [cName: string]: RecordLayout<Record<string, FieldType>> } = {
  xbuf_shm_ring_info: XbufShmRingInfo,
  xbuf_shm_info: XbufShmInfo,
  xbuf_shm_endpoint: XbufShmEndpoint,
  xbuf_rings: XbufRings,
  xbuf_ring_stat: XbufRingStat,
  xbuf_stat: XbufStat,
  xbuf_latmus_info: XbufLatmusInfo,
  xbuf_latmus_record: LatmusRecord,
  xbuf_latmus_params: XbufLatmusParams,
  xbuf_latmus_frame: LatmusFrame,
  xbuf_latmus_hist_cell: LatmusHistCell,
  xbuf_latmus_end: LatmusEnd,
};
