/**
 * xbuf cat NAME: inbound traffic to stdout. Each zero-copy view of the ring
 * goes to write(2) on a worker thread (node:fs), and the ring is stepped
 * only once the write is done: no copy, and the event loop stays free.
 */
import { write as fsWrite } from "node:fs";
import { XBuf } from "../xbuf.ts";
import { XBufError } from "../errors.ts";
import { elementName, num, parse } from "./args.ts";
import { onInterrupt } from "./interrupt.ts";
import { bytesText, progress } from "./progress.ts";

function writeOnce(fd: number, view: Uint8Array, at: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fsWrite(fd, view, at, view.length - at, null, (err, n) => (err ? reject(err) : resolve(n))),
  );
}

/** All of `view` to fd; EAGAIN (a non-blocking stdout) waits a little. */
export async function writeAll(fd: number, view: Uint8Array): Promise<void> {
  let at = 0;
  while (at < view.length) {
    try {
      at += await writeOnce(fd, view, at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

export async function cat(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { bytes: { type: "string", short: "n" } },
    { min: 1, max: 1, names: "NAME" },
  );
  const name = elementName(positionals[0]!);
  const limit = num("--bytes", values.bytes, 0, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
  const xb = XBuf.open(name);
  const show = progress({ stdoutIsData: true });
  let total = 0;
  using signal = onInterrupt(() => xb.close()); // the pending wait rejects with EBADF
  const t0 = performance.now();
  try {
    const max = limit ? Math.min(limit, 1 << 20) : 1 << 20;
    for await (const view of xb.views({ max })) {
      const n = limit ? Math.min(view.length, limit - total) : view.length;
      await writeAll(1, n === view.length ? view : view.subarray(0, n));
      total += n;
      show?.(`${name}: ${bytesText(total)} (${bytesText(total / ((performance.now() - t0) / 1000 || 1))}/s)`);
      if (limit && total >= limit) break;
    }
  } catch (e) {
    if (signal.interrupted && e instanceof XBufError && e.code === "EBADF") return 130;
    if ((e as NodeJS.ErrnoException).code === "EPIPE") return 0; // the reader of stdout went away
    throw e;
  } finally {
    show?.("");
    xb.close();
  }
  return signal.interrupted ? 130 : 0;
}
