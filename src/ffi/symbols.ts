import type { SymbolTable } from "./native.ts";

/**
 * The core C functions of libxbuf the binding calls (xbuf.h), in one
 * table, with the C declaration above each. Runtime adapters (bun.ts,
 * later deno.ts) load exactly this; native.ts derives the NativeLib type
 * from it. The latmus calls have their own table: src/latmus/symbols.ts.
 */
export const symbols = {
  // int xbuf_create(size_t i_bufsz, size_t o_bufsz, int flags, const char *fmt, ...)
  // (called with no variadic arguments: the name goes in as a format with '%' doubled)
  xbuf_create: { args: ["u64", "u64", "i32", "ptr"], returns: "i32" },
  // int xbuf_open(const char *name, int flags)
  xbuf_open: { args: ["ptr", "i32"], returns: "i32" },
  // int xbuf_close(int fd)
  xbuf_close: { args: ["i32"], returns: "i32" },
  // ssize_t xbuf_read_begin(int fd, size_t count, int flags, const void **data)
  xbuf_read_begin: { args: ["i32", "u64", "i32", "ptr"], returns: "i64_fast" },
  // int xbuf_read_end(int fd, size_t n)
  xbuf_read_end: { args: ["i32", "u64"], returns: "i32" },
  // ssize_t xbuf_write_begin(int fd, size_t count, int flags, void **data)
  xbuf_write_begin: { args: ["i32", "u64", "i32", "ptr"], returns: "i64_fast" },
  // int xbuf_write_end(int fd, size_t n)
  xbuf_write_end: { args: ["i32", "u64"], returns: "i32" },
  // int xbuf_rings(int fd, struct xbuf_rings *r)
  xbuf_rings: { args: ["i32", "ptr"], returns: "i32" },
  // int xbuf_stat(int fd, struct xbuf_stat *st)
  xbuf_stat: { args: ["i32", "ptr"], returns: "i32" },
  // const char *xbuf_name(int fd)
  xbuf_name: { args: ["i32"], returns: "ptr" },
  // int xbuf_poll(int fd, int events, size_t count, int timeout_ms)
  xbuf_poll: { args: ["i32", "i32", "u64", "i32"], returns: "i32" },
  // int xbuf_notify_fd(int fd)
  xbuf_notify_fd: { args: ["i32"], returns: "i32" },
  // int xbuf_arm(int fd, int events, size_t count)
  xbuf_arm: { args: ["i32", "i32", "u64"], returns: "i32" },
  // void *xbuf_map_base(int fd)
  xbuf_map_base: { args: ["i32"], returns: "ptr" },
  // void *xbuf_map_hold(int fd)
  xbuf_map_hold: { args: ["i32"], returns: "ptr" },
  // void xbuf_map_release(void *hold)
  xbuf_map_release: { args: ["ptr"], returns: "void" },
  // int xbuf_backend(int fd)
  xbuf_backend: { args: ["i32"], returns: "i32" },
  // int xbuf_fast_claim(int fd, int events)
  xbuf_fast_claim: { args: ["i32", "i32"], returns: "i32" },
  // int xbuf_wake(int fd, int events)
  xbuf_wake: { args: ["i32", "i32"], returns: "i32" },
  // int xbuf_peer_gone(int fd, int events)
  xbuf_peer_gone: { args: ["i32", "i32"], returns: "i32" },
  // const uint32_t *xbuf_wake_word(void)
  xbuf_wake_word: { args: [], returns: "ptr" },
} as const satisfies SymbolTable;

/** Constants of xbuf.h. */
export const C = {
  XBUF_CLONE_PUBLIC: 1 << 16,
  XBUF_CLONE_NONBLOCK: 1 << 18,
  XBUF_CLONE_USER: 1 << 20,
  XBUF_CLONE_KERNEL: 1 << 21,
  XBUF_BACKEND_USER: 1,
  XBUF_BACKEND_KERNEL: 2,
  XBUF_NONBLOCK: 0x1,
  XBUF_NOWAIT: 0x2,
  XBUF_POLLIN: 0x1,
  XBUF_POLLOUT: 0x4,
  EAGAIN: 11,
  EPIPE: 32,
  EBUSY: 16,
  EINVAL: 22,
  XBUF_MAX_RING_SIZE: 2 ** 30,
  XBUF_NAME_MAX: 63,
} as const;
