/** xbuf write NAME: stdin to outbound traffic, until end of file. */
import { Readable } from "node:stream";
import { XBuf } from "../xbuf.ts";
import { XBufError } from "../errors.ts";
import { elementName, parse } from "./args.ts";
import { onInterrupt } from "./interrupt.ts";
import { bytesText, progress } from "./progress.ts";

export async function write(args: string[]): Promise<number> {
  const { positionals } = parse(args, {}, { min: 1, max: 1, names: "NAME" });
  const name = elementName(positionals[0]!);
  const xb = XBuf.open(name);
  const capacity = xb.rings().outbound.size;
  if (!capacity) {
    xb.close();
    throw new XBufError("ENOBUFS", `${name}: no outbound ring (created with size 0)`);
  }
  const show = progress({ stdoutIsData: false });
  let total = 0;
  // node:process's stdin, as a web stream: the same under Bun and Deno.
  const reader = (Readable.toWeb(process.stdin) as unknown as ReadableStream<Uint8Array>).getReader();
  using signal = onInterrupt(() => {
    xb.close(); // a pending write rejects with EBADF
    void reader.cancel();
  });
  // Half the ring at most per write: the driver can drain one half while the next is written.
  const piece = Math.max(1, Math.floor(capacity / 2));
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || signal.interrupted) break;
      for (let at = 0; at < value.length; at += piece) {
        await xb.write(value.subarray(at, Math.min(value.length, at + piece)));
      }
      total += value.length;
      show?.(`${name}: ${bytesText(total)} sent`);
    }
  } catch (e) {
    if (!(signal.interrupted && e instanceof XBufError && e.code === "EBADF")) throw e;
  } finally {
    show?.("");
    xb.close();
  }
  // Interrupted with stdin still open: Deno cannot cancel a pending read of
  // stdin (it keeps the process alive until end of file, reader.cancel() or
  // not), so exit here, everything cleaned up. At end of file there is none.
  if (signal.interrupted) process.exit(130);
  return 0;
}
