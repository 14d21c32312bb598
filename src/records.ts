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
  /**
   * A cursor with accessors generated for this layout that read typed
   * arrays at computed indices, valid only at offsets that are multiples
   * of `alignment` (null if the view's own offset is not a multiple of 8).
   */
  typedCursor(view: DataView): RecordCursor<S> | null;
  /** What record offsets typedCursor() needs to be a multiple of. */
  readonly alignment: number;
}

/** Typed arrays the generated accessors read, by field type: [property, constructor, log2 of width]. */
const TYPED: Partial<Record<FieldType, [string, new (b: ArrayBufferLike, o: number, n: number) => ArrayLike<number>, number]>> = {
  u8: ["u8", Uint8Array, 0], i8: ["i8", Int8Array, 0],
  u16: ["u16", Uint16Array, 1], i16: ["i16", Int16Array, 1],
  u32: ["u32", Uint32Array, 2], i32: ["i32", Int32Array, 2], s32: ["i32", Int32Array, 2],
  f32: ["f32", Float32Array, 2], f64: ["f64", Float64Array, 3],
  // 64-bit integers as numbers: two u32 words (the high one signed for i64), as the DataView getters.
  u64: ["u32", Uint32Array, 2], i64: ["u32", Uint32Array, 2], s64: ["u32", Uint32Array, 2],
};

/**
 * Generate the typed-array cursor class of a layout: one getter per field,
 * compiled from its source (new Function) so that each reads one array
 * element at a constant displacement, as a hand-written decode would.
 * A field not at a multiple of its width in the record (packed) keeps the
 * DataView getter. Returns the class and the record alignment it needs.
 */
function typedCursorClass(spec: Record<string, FieldType>, offsets: Record<string, number>) {
  let alignment = 1;
  const arrays = new Set<string>();
  const getters: [string, () => number | bigint][] = [];
  for (const [name, type] of Object.entries(spec)) {
    const t = TYPED[type];
    const at = offsets[name]!;
    if (!t || at % (1 << t[2])) {
      getters.push([name, getter(type, at) as () => number | bigint]);
      continue;
    }
    const [prop, , shift] = t;
    alignment = Math.max(alignment, 1 << shift);
    arrays.add(prop);
    let body: string;
    if (type === "u64") body = `const i = (this.offset + ${at}) >> 2; return this.u32[i] + this.u32[i + 1] * 4294967296;`;
    else if (type === "i64" || type === "s64") body = `const i = (this.offset + ${at}) >> 2; return this.u32[i] + (this.u32[i + 1] | 0) * 4294967296;`;
    else body = `return this.${prop}[(this.offset + ${at}) >> ${shift}];`;
    if (type !== "u64" && type !== "i64" && type !== "s64") arrays.add(prop);
    getters.push([name, new Function(body) as () => number]);
  }
  class TypedCursor {
    offset = 0;
    readonly dv: DataView;
    constructor(dv: DataView) {
      this.dv = dv;
      const self = this as unknown as Record<string, unknown>;
      const all = recordArrays(dv) as unknown as Record<string, unknown>;
      for (const prop of arrays) self[prop] = all[prop];
    }
  }
  for (const [name, get] of getters) Object.defineProperty(TypedCursor.prototype, name, { get, enumerable: true });
  return { TypedCursor, alignment };
}

/**
 * Typed arrays over the bytes of a DataView (the ring's mapping: both copies),
 * one of each element type, for decoding records at computed indices. Element
 * i of `u32` is the 4 bytes at byte offset 4 * i of the view, and so on.
 */
export interface RecordArrays {
  readonly u8: Uint8Array;
  readonly i8: Int8Array;
  readonly u16: Uint16Array;
  readonly i16: Int16Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly f32: Float32Array;
  readonly f64: Float64Array;
}

/** One set of RecordArrays per DataView, made on first use: never per batch or per step. */
const arraysOf = new WeakMap<DataView, RecordArrays>();

/** The RecordArrays of a view whose byteOffset is a multiple of 8 (a mapping's is: page-aligned). */
export function recordArrays(dv: DataView): RecordArrays {
  let a = arraysOf.get(dv);
  if (a) return a;
  if (dv.byteOffset % 8) throw new RangeError(`typed-array decode needs a view at a multiple of 8 bytes, not ${dv.byteOffset}`);
  const b = dv.buffer, o = dv.byteOffset, n = dv.byteLength;
  a = {
    u8: new Uint8Array(b, o, n), i8: new Int8Array(b, o, n),
    u16: new Uint16Array(b, o, n >> 1), i16: new Int16Array(b, o, n >> 1),
    u32: new Uint32Array(b, o, n >> 2), i32: new Int32Array(b, o, n >> 2),
    f32: new Float32Array(b, o, n >> 2), f64: new Float64Array(b, o, n >> 3),
  };
  arraysOf.set(dv, a);
  return a;
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
 * little-endian) unless `packed`; `align` is a minimum alignment of the
 * whole struct (C's `__attribute__((aligned(N)))`: trailing padding);
 * `fieldAlign` raises one field's alignment (the same attribute on a member).
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
  options: { packed?: boolean; align?: number; fieldAlign?: { [K in keyof S]?: number } } = {},
): RecordLayout<S> {
  const offsets: Record<string, number> = {};
  let size = 0;
  let align = 1;
  for (const [name, type] of Object.entries(spec)) {
    const width = WIDTH[type as FieldType];
    if (!width) throw new TypeError(`defineRecord: field '${name}' has unknown type '${String(type)}'`);
    const a = Math.max(options.packed ? 1 : width, options.fieldAlign?.[name as keyof S] ?? 1);
    size = Math.ceil(size / a) * a;
    offsets[name] = size;
    size += width;
    align = Math.max(align, a);
  }
  if (size === 0) throw new TypeError("defineRecord: a record needs at least one field");
  align = Math.max(align, options.align ?? 1); // __attribute__((aligned(N)))
  size = Math.ceil(size / align) * align;

  class Cursor {
    offset = 0;
    constructor(readonly dv: DataView) {}
  }
  for (const [name, type] of Object.entries(spec)) {
    Object.defineProperty(Cursor.prototype, name, { get: getter(type as FieldType, offsets[name]!), enumerable: true });
  }
  const { TypedCursor, alignment } = typedCursorClass(spec as Record<string, FieldType>, offsets);
  return {
    size,
    offsets: offsets as { [K in keyof S]: number },
    alignment,
    cursor: (view) => new Cursor(view) as unknown as RecordCursor<S>,
    typedCursor: (view) => (view.byteOffset % 8 ? null : (new TypedCursor(view) as unknown as RecordCursor<S>)),
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
  /** The layout's generated typed-array cursor, used when the batch's records are aligned for it. */
  #typed: RecordCursor<S> | null;
  /** The DataView cursor: any offset. */
  #any: RecordCursor<S>;
  #mask: number;
  #size: number;
  #start = 0;
  #view: DataView;

  constructor(layout: RecordLayout<S>, view: DataView) {
    this.#view = view;
    this.#any = this.#cursor = layout.cursor(view);
    this.#typed = layout.typedCursor ? layout.typedCursor(view) : null;
    this.#mask = (layout.alignment ?? 1) - 1;
    this.#size = layout.size;
  }

  /** @internal */
  reset(start: number, length: number): this {
    // `| 0`: both are below 2^31, and an int32 JSValue every time. A count from
    // Math.floor() may come boxed as a double from an optimized caller; a loop
    // `i < batch.length` compiled for int32 then exits on it (JSC: BadType) until
    // the engine gives up optimizing it (measured: records decode 10x slower).
    this.#start = start | 0;
    this.length = length | 0;
    this.#cursor = this.#typed !== null && ((start | this.#size) & this.#mask) === 0 ? this.#typed : this.#any;
    return this;
  }

  /**
   * Byte offset of record 0 in the batch's view (and in `arrays`): record i's
   * field f is at `start + i * layout.size + layout.offsets.f`. A multiple
   * of the layout's alignment whenever the ring holds only these records.
   */
  get start(): number {
    return this.#start;
  }

  /**
   * Typed arrays over the whole view the batch reads (for a ring: its
   * mapping), made once per view, never per batch: for a decode loop as
   * tight as a hand-written one, indexing them at computed offsets.
   *
   * @example
   * ```ts
   * // struct { u64 t; s32 a; s32 b; }: 16 bytes, 4 words
   * const { u32, i32 } = batch.arrays;
   * for (let r = 0, w = batch.start >> 2; r < batch.length; r++, w += 4) sum += i32[w + 2]! + i32[w + 3]!;
   * ```
   */
  get arrays(): RecordArrays {
    return recordArrays(this.#view);
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
