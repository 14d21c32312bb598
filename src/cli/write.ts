/** xbuf write NAME: stdin to outbound traffic, until end of file. */
import { XBuf } from "../xbuf.ts";
import { XBufError } from "../errors.ts";
import { elementName, parse } from "./args.ts";
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
  let interrupted = false;
  const reader = Bun.stdin.stream().getReader();
  const onSignal = () => {
    interrupted = true;
    xb.close(); // a pending write rejects with EBADF
    void reader.cancel();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // Half the ring at most per write: the driver can drain one half while the next is written.
  const piece = Math.max(1, Math.floor(capacity / 2));
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || interrupted) break;
      for (let at = 0; at < value.length; at += piece) {
        await xb.write(value.subarray(at, Math.min(value.length, at + piece)));
      }
      total += value.length;
      show?.(`${name}: ${bytesText(total)} sent`);
    }
  } catch (e) {
    if (!(interrupted && e instanceof XBufError && e.code === "EBADF")) throw e;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    show?.("");
    xb.close();
  }
  return interrupted ? 130 : 0;
}
