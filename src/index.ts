/**
 * xbuf: zero-copy EVL-style cross-buffers for Bun and Deno.
 *
 * @example
 * ```ts
 * import { XBuf, defineRecord } from "xbuf";
 *
 * using xb = XBuf.create({ inbound: 1 << 20, outbound: 0, name: "/stream" });
 * for await (const view of xb) handle(view); // zero-copy views into the ring
 * ```
 */
export { XBuf, type Backend, type CreateOptions, type RingLevels, type RingStat } from "./xbuf.ts";
export { XBufError } from "./errors.ts";
export { defineRecord, RecordBatch, recordArrays, type FieldType, type RecordArrays, type RecordCursor, type RecordLayout } from "./records.ts";
export { libraryPath } from "./ffi/index.ts";
