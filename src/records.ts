/**
 * Fixed-size C records read straight from the mapped ring: a layout made
 * once from a field list, and one cursor object that moves over the
 * records, so reading a record allocates nothing.
 */

/** C field types. 'u64'/'i64' read as numbers (exact up to 2^53); 'u64n'/'i64n' as bigints. */
export type FieldType =
  | "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "s32"
  | "u64" | "i64" | "s64" | "u64n" | "i64n" | "f32" | "f64";

type FieldValue<T extends FieldType> = T extends "u64n" | "i64n" ? bigint : number;

/** A record's fields as getters; `offset` is where the cursor stands in the ring view. */
export type RecordCursor<S extends Record<string, FieldType>> = {
  readonly [K in keyof S]: FieldValue<S[K]>;
} & { offset: number };

export interface RecordLayout<S extends Record<string, FieldType>> {
  /** Bytes per record, trailing padding included (sizeof in C). */
  readonly size: number;
  /** Byte offset of each field (offsetof in C). */
  readonly offsets: { readonly [K in keyof S]: number };
  /** A cursor over records in `view`, starting at offset 0. */
  cursor(view: DataView): RecordCursor<S>;
}

const WIDTH: Record<FieldType, number> = {
  u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, s32: 4,
  u64: 8, i64: 8, s64: 8, u64n: 8, i64n: 8, f32: 4, f64: 8,
};

const TWO32 = 4294967296;

function getter(type: FieldType, at: number): (this: { dv: DataView; offset: number }) => number | bigint {
  switch (type) {
    case "u8": return function () { return this.dv.getUint8(this.offset + at); };
    case "i8": return function () { return this.dv.getInt8(this.offset + at); };
    case "u16": return function () { return this.dv.getUint16(this.offset + at, true); };
    case "i16": return function () { return this.dv.getInt16(this.offset + at, true); };
    case "u32": return function () { return this.dv.getUint32(this.offset + at, true); };
    case "i32": case "s32": return function () { return this.dv.getInt32(this.offset + at, true); };
    case "f32": return function () { return this.dv.getFloat32(this.offset + at, true); };
    case "f64": return function () { return this.dv.getFloat64(this.offset + at, true); };
    case "u64": return function () {
      const o = this.offset + at;
      return this.dv.getUint32(o, true) + this.dv.getUint32(o + 4, true) * TWO32;
    };
    case "i64": case "s64": return function () {
      const o = this.offset + at;
      return this.dv.getUint32(o, true) + this.dv.getInt32(o + 4, true) * TWO32;
    };
    case "u64n": return function () { return this.dv.getBigUint64(this.offset + at, true); };
    case "i64n": return function () { return this.dv.getBigInt64(this.offset + at, true); };
  }
}

/**
 * Describe a C struct, laid out as a C compiler would (natural alignment,
 * little-endian) unless `packed`.
 *
 * @example
 * ```ts
 * // struct latmus_record { u64 sum_lat; s32 min_lat; s32 max_lat; u32 overruns; u32 samples; };
 * const Latmus = defineRecord({
 *   sum_lat: "u64", min_lat: "s32", max_lat: "s32", overruns: "u32", samples: "u32",
 * });
 * Latmus.size; // 24
 * for await (const batch of xb.recordBatches(Latmus)) {
 *   for (let i = 0; i < batch.length; i++) console.log(batch.at(i).max_lat);
 * }
 * ```
 */
export function defineRecord<S extends Record<string, FieldType>>(
  spec: S,
  options: { packed?: boolean } = {},
): RecordLayout<S> {
  const offsets: Record<string, number> = {};
  let size = 0;
  let align = 1;
  for (const [name, type] of Object.entries(spec)) {
    const width = WIDTH[type as FieldType];
    if (!width) throw new TypeError(`defineRecord: field '${name}' has unknown type '${String(type)}'`);
    const a = options.packed ? 1 : width;
    size = Math.ceil(size / a) * a;
    offsets[name] = size;
    size += width;
    align = Math.max(align, a);
  }
  if (size === 0) throw new TypeError("defineRecord: a record needs at least one field");
  size = Math.ceil(size / align) * align;

  class Cursor {
    offset = 0;
    constructor(readonly dv: DataView) {}
  }
  for (const [name, type] of Object.entries(spec)) {
    Object.defineProperty(Cursor.prototype, name, { get: getter(type as FieldType, offsets[name]!), enumerable: true });
  }
  return {
    size,
    offsets: offsets as { [K in keyof S]: number },
    cursor: (view) => new Cursor(view) as unknown as RecordCursor<S>,
  };
}

/**
 * Whole records available in the ring at one step of `recordBatches()`.
 * `at(i)` moves the layout's one cursor to record i and returns it: read
 * its fields before the next `at()`; it is valid until the next step.
 */
export class RecordBatch<S extends Record<string, FieldType>> {
  length = 0;
  #cursor: RecordCursor<S>;
  #size: number;
  #start = 0;

  constructor(layout: RecordLayout<S>, view: DataView) {
    this.#cursor = layout.cursor(view);
    this.#size = layout.size;
  }

  /** @internal */
  reset(start: number, length: number): this {
    this.#start = start;
    this.length = length;
    return this;
  }

  at(i: number): RecordCursor<S> {
    if (!(i >= 0 && i < this.length)) throw new RangeError(`record ${i} of a batch of ${this.length}`);
    this.#cursor.offset = this.#start + i * this.#size;
    return this.#cursor;
  }

  *[Symbol.iterator](): IterableIterator<RecordCursor<S>> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }
}
