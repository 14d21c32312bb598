/**
 * What the binding needs from a JavaScript runtime's FFI. One adapter per
 * runtime implements it (bun.ts, deno.ts; index.ts imports the one of the
 * running runtime); nothing else in src/ touches FFI.
 *
 * The TypeScript types of the C functions are derived from the symbol
 * tables (symbols.ts, latmus/symbols.ts): a table names each argument's
 * and the return value's C type, and ArgType/ReturnType below say what
 * those are in TypeScript. At this seam pointers (addresses) and 64-bit
 * integers are numbers in both runtimes: Bun's FFI takes and gives them
 * so; the Deno adapter, whose FFI wants bigints for 64-bit arguments and
 * gives bigints and pointer objects back, converts in wrappers it
 * generates per signature (deno.ts says why and what it costs).
 */
import type { symbols } from "./symbols.ts";

/** C types a symbol table may name (bun:ffi's spelling; "i64_fast": a number when it fits; deno.ts maps them to Deno's). */
export type CType = "i32" | "u32" | "u64" | "i64_fast" | "ptr" | "void";

/** TypeScript type of a C argument, by its table name. Pointers are addresses. */
export interface ArgType {
  i32: number;
  u32: number;
  u64: number;
  i64_fast: number;
  ptr: number;
  void: never;
}

/** TypeScript type of a C return value, by its table name. A NULL pointer is 0 (or null). */
export interface ReturnType {
  i32: number;
  u32: number;
  u64: number;
  i64_fast: number;
  ptr: number;
  void: void;
}

/** One C function: its argument types, in order, and its return type. */
export interface Signature {
  readonly args: readonly CType[];
  readonly returns: CType;
}

/** A table of C functions of libxbuf, by symbol name. */
export type SymbolTable = { readonly [name: string]: Signature };

type Args<A extends readonly CType[]> = { -readonly [I in keyof A]: ArgType[A[I] & CType] };

/** The callable of one signature. */
export type CFunction<S extends Signature> = (...args: Args<S["args"]>) => ReturnType[S["returns"]];

/** The functions of a symbol table, as a runtime adapter binds them. */
export type Bound<T extends SymbolTable> = { readonly [K in keyof T]: CFunction<T[K]> };

/**
 * Native.bind() of an adapter: each table opened once with the adapter's
 * `open`, the same object on every later call.
 */
export function bindOnce(open: <T extends SymbolTable>(table: T) => Bound<T>): <T extends SymbolTable>(table: T) => Bound<T> {
  const bound = new Map<SymbolTable, unknown>();
  return <T extends SymbolTable>(table: T): Bound<T> => {
    let lib = bound.get(table) as Bound<T> | undefined;
    if (!lib) bound.set(table, (lib = open(table)));
    return lib;
  };
}

/** The core calls of libxbuf (symbols.ts). */
export type NativeLib = Bound<typeof symbols>;

export interface Native {
  /** The C functions of `symbols`, called directly. Pointers are numbers. */
  readonly lib: NativeLib;
  /**
   * Another table of functions of the same library (the latmus calls):
   * bound on first use, the same object on every later call.
   */
  bind<T extends SymbolTable>(table: T): Bound<T>;
  /** Address of a typed array's first byte (must stay referenced while C uses it). */
  addressOf(view: ArrayBufferView): number;
  /** Read a pointer stored at an address. */
  readPointer(address: number): number;
  /** An ArrayBuffer over foreign memory; no copy, no ownership. */
  foreignBuffer(address: number, length: number): ArrayBuffer;
  /** A C string at an address, decoded as UTF-8. */
  cString(address: number): string;
  /** Read one byte from a file descriptor without blocking the event loop; -1 on end of file. */
  readByte(fd: number): Promise<number>;
  /** Close a plain file descriptor. */
  closeFd(fd: number): void;
}
