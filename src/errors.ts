/**
 * The one error class of the binding. `code` is the errno name a C caller
 * would see ('EAGAIN', 'EINVAL', 'ENOBUFS', 'EPIPE', ...), `errno` its number.
 *
 * @example
 * ```ts
 * try {
 *   xb.readSync(64, { nonblock: true });
 * } catch (e) {
 *   if (e instanceof XBufError && e.code === "EAGAIN") {
 *     // nothing to read yet
 *   }
 * }
 * ```
 */
export class XBufError extends Error {
  override readonly name = "XBufError";
  readonly code: string;
  readonly errno: number;

  constructor(code: string, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
    this.errno = ERRNO_BY_NAME[code] ?? 0;
  }

  /** An error from a negative errno value returned by the C library. */
  static fromErrno(negErrno: number, what: string): XBufError {
    const errno = -negErrno;
    const code = ERRNO_NAMES[errno] ?? `E${errno}`;
    return new XBufError(code, `${what}: ${ERRNO_TEXT[code] ?? "error " + errno}`);
  }
}

/**
 * What every C call of the binding returns through: `ret` itself when it
 * is not negative, else the XBufError of errno -ret, its message led by
 * `what` (the operation, and the name when there is one).
 */
export function check(ret: number, what: string): number {
  if (ret < 0) throw XBufError.fromErrno(ret, what);
  return ret;
}

/** Linux errno numbers the library can return. */
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 4: "EINTR", 9: "EBADF", 11: "EAGAIN", 12: "ENOMEM",
  14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 19: "ENODEV", 22: "EINVAL", 32: "EPIPE",
  35: "EDEADLK", 36: "ENAMETOOLONG", 71: "EPROTO", 95: "EOPNOTSUPP",
  105: "ENOBUFS", 107: "ENOTCONN", 110: "ETIMEDOUT",
};

const ERRNO_BY_NAME: Record<string, number> = Object.fromEntries(
  Object.entries(ERRNO_NAMES).map(([n, name]) => [name, Number(n)]),
);

const ERRNO_TEXT: Record<string, string> = {
  EPERM: "operation not permitted",
  ENOENT: "no cross-buffer has that name",
  EINTR: "interrupted by a signal",
  EBADF: "not an open cross-buffer",
  EAGAIN: "would block: not enough data or room right now",
  ENOMEM: "out of memory",
  EFAULT: "bad address",
  EBUSY: "busy: another process holds this end of the ring, or a zero-copy view is still outstanding",
  EEXIST: "a public cross-buffer with that name exists",
  ENODEV: "the kernel backend (xbuf.ko) is not loaded",
  EINVAL: "invalid argument (a count above the ring's capacity?)",
  EPIPE: "the process at the other end died",
  ENAMETOOLONG: "name longer than 63 bytes",
  EPROTO: "the element's layout version does not match this library",
  EOPNOTSUPP: "not supported",
  ENOBUFS: "no ring in this direction (created with size 0)",
  ENOTCONN: "no notification channel",
  ETIMEDOUT: "timed out",
};
