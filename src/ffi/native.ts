/**
 * What the binding needs from a JavaScript runtime's FFI. One adapter per
 * runtime implements it (bun.ts today); nothing else in src/ touches FFI.
 */
export interface Native {
  /** The C functions of `symbols`, called directly. Pointers are numbers. */
  readonly lib: NativeLib;
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

export interface NativeLib {
  xbuf_create(i: number, o: number, flags: number, fmt: number): number;
  xbuf_open(name: number, flags: number): number;
  xbuf_close(fd: number): number;
  xbuf_read_begin(fd: number, count: number, flags: number, data: number): number;
  xbuf_read_end(fd: number, n: number): number;
  xbuf_write_begin(fd: number, count: number, flags: number, data: number): number;
  xbuf_write_end(fd: number, n: number): number;
  xbuf_rings(fd: number, out: number): number;
  xbuf_stat(fd: number, out: number): number;
  xbuf_name(fd: number): number;
  xbuf_poll(fd: number, events: number, count: number, timeoutMs: number): number;
  xbuf_notify_fd(fd: number): number;
  xbuf_arm(fd: number, events: number, count: number): number;
  xbuf_map_base(fd: number): number;
  xbuf_map_hold(fd: number): number;
  xbuf_map_release(hold: number): void;
  xbuf_backend(fd: number): number;
  xbuf_latmus_start(efd: number, periodUs: number, intervalUs: number, cpu: number, priority: number, out: number): number;
  xbuf_latmus_info(lm: number, info: number): number;
  xbuf_latmus_stop(lm: number, last: number): number;
}
