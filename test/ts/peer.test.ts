/**
 * Peer departure through the binding (issue 10.2): the bytes a producer
 * published come first, then EPIPE. A read pending when the producer goes
 * resolves with what is left, short, rather than reject.
 */
import { describe, expect, test } from "vitest";
import { XBuf } from "../../src/index.ts";
import { Pattern, spawnPeer, uniqueName } from "./helpers.ts";

describe("peer departure", () => {
  test("a pending read(1000) resolves with the 100 bytes left, then EPIPE", async () => {
    const name = uniqueName("tail");
    using xb = XBuf.create({ inbound: 4096, outbound: 16, name: `/${name}` });
    const pending = xb.read(1000);
    const peer = spawnPeer(["produce", name, "--bytes", "100", "--chunk", "100"]);
    expect(await peer.exited).toBe(0);
    const got = await pending;
    expect(got.length).toBe(100);
    expect(new Pattern(0).check(got)).toBe(-1);
    await expect(xb.read(1000)).rejects.toMatchObject({ code: "EPIPE" });
  });
});
