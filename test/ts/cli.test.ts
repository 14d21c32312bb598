/** The xbuf command-line tool, run as users run it: a process per command. */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, test } from "vitest";
import { XBuf } from "../../src/index.ts";
import { Driver, O_NONBLOCK, Pattern, ROOT, runTs, sleep, spawn, uniqueName } from "./helpers.ts";

const MAIN = `${ROOT}src/cli/main.ts`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function xbuf(args: string[], stdin?: Uint8Array): Promise<Run> {
  const p = spawn(runTs(MAIN, ...args), { stdin: stdin ?? "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** Read a child's stdout as lines while it runs. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, nl);
      buf = buf.slice(nl + 1);
    }
  }
  if (buf) yield buf;
}

describe("bad arguments: usage, a one-line reason, exit 2", () => {
  const cases: [string[], RegExp][] = [
    [[], /^xbuf: missing command$/m],
    [["frobnicate"], /^xbuf: unknown command 'frobnicate'$/m],
    [["latmus", "--period", "0"], /^xbuf latmus: --period must be from 1 to 1000000, got 0$/m],
    [["latmus", "--period", "abc"], /^xbuf latmus: --period must be an integer, got 'abc'$/m],
    [["latmus", "-p", "2000", "-i", "1"], /^xbuf latmus: --interval \(1 ms\) must be at least the period \(2000 us\)$/m],
    [["latmus", "--backend", "fpga"], /^xbuf latmus: --backend must be 'user', 'kernel' or 'auto', got 'fpga'$/m],
    [["latmus", "--priority", "100"], /^xbuf latmus: --priority must be from 0 to 99, got 100$/m],
    [["latmus", "--duration=-1"], /^xbuf latmus: --duration must be from 0 to \d+, got -1$/m],
    [["latmus", "-T", "-1"], /^xbuf latmus: Option .-T. argument is ambiguous/m],
    [["latmus", "--bogus"], /^xbuf latmus: Unknown option '--bogus'/m],
    [["latmus", "--period"], /^xbuf latmus: Option '-p, --period <value>' argument missing/m],
    [["stat"], /^xbuf stat: missing NAME$/m],
    [["cat", "a", "b"], /^xbuf cat: unexpected argument 'b'$/m],
    [["cat", "a", "--bytes", "1.5"], /^xbuf cat: --bytes must be an integer, got '1.5'$/m],
    [["ls", "extra"], /^xbuf ls: unexpected argument 'extra'$/m],
  ];
  test.each(cases)("xbuf %j", async (args, reason) => {
    const r = await xbuf(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("usage: xbuf <command> [options]");
    expect(r.stderr).toMatch(reason);
    // Exactly one line of reason besides the usage.
    expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("xbuf")).length).toBe(1);
  });

  test("--help prints the usage on stdout, exit 0", async () => {
    const r = await xbuf(["latmus", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("--plot FILE.svg");
  });
});

describe("xbuf latmus", () => {
  test.skipIf(existsSync("/dev/xbuf/latmus"))("--backend kernel without the module: a clear error", async () => {
    const r = await xbuf(["latmus", "--backend", "kernel", "-T", "1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("xbuf latmus: kernel backend not available: module not loaded\n");
  });

  test("--json -T: a start object, one object per interval, a summary; --plot writes the SVG", async () => {
    const plot = `${tmpdir()}/${uniqueName("latmus")}.svg`;
    try {
      const r = await xbuf(["latmus", "--json", "-T", "1", "--interval", "100", "--period", "1000", "-P", "0", "--plot", plot]);
      expect(r.stderr).toBe(""); // piped: no progress, and nothing else to say
      expect(r.code).toBe(0);
      const objs = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      expect(objs[0]).toMatchObject({ type: "start", backend: "user", period_us: 1000, interval_us: 100_000, policy: "SCHED_OTHER", priority: 0, cpu: null, duration_s: 1 });
      const intervals = objs.filter((o) => o.type === "interval");
      expect(intervals.length).toBe(10);
      expect(intervals.map((o) => o.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      for (const o of intervals) {
        expect(o.samples + o.overruns).toBeGreaterThanOrEqual(100);
        expect(o.min_ns).toBeLessThanOrEqual(o.avg_ns);
        expect(o.avg_ns).toBeLessThanOrEqual(o.max_ns);
      }
      const summary = objs.at(-1);
      expect(summary).toMatchObject({ type: "summary", intervals: 10, elapsed_s: intervals.at(-1).elapsed_s, dropped: 0, stopped_by: "duration" });
      expect(summary.worst_ns).toBe(Math.max(...intervals.map((o) => o.max_ns)));
      expect(summary.best_ns).toBe(Math.min(...intervals.map((o) => o.min_ns)));
      const svg = readFileSync(plot, "utf8");
      expect(svg).toMatch(/<g id="series-max" data-points="10"/);
      expect(svg).toContain("(10 intervals)");
      expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    } finally {
      rmSync(plot, { force: true });
    }
  });

  test("Ctrl-C: the sampler stops, the summary prints, exit 0", async () => {
    const p = spawn(runTs(MAIN, "latmus", "-i", "100", "-P", "0"));
    const out: string[] = [];
    let signalled = false;
    for await (const line of lines(p.stdout)) {
      out.push(line);
      if (!signalled && out.filter((l) => l.startsWith("RTD|")).length >= 3) {
        signalled = true;
        p.kill("SIGINT");
      }
    }
    const code = await p.exited;
    expect(await new Response(p.stderr).text()).toBe("");
    expect(code).toBe(0);
    expect(out[0]).toMatch(/^RTT\|  00:00:00  \(user, 1000 us period, priority 0 \(SCHED_OTHER\), any CPU\)$/);
    const rtd = out.filter((l) => l.startsWith("RTD|"));
    expect(rtd.length).toBeGreaterThanOrEqual(3);
    const rts = out.filter((l) => l.startsWith("RTS|"));
    expect(rts.length).toBe(3);
    expect(rts[1]).toMatch(new RegExp(`^RTS\\| ${rtd.length} intervals of 100 ms, \\d+ samples, \\d+ overruns, 0 records dropped`));
    expect(rts[2]).toMatch(/stopped by signal$/);
  });

  test("Ctrl-C before the first interval ends: an empty summary, exit 0", async () => {
    const p = spawn(runTs(MAIN, "latmus", "--json", "-i", "5000", "-P", "0"));
    const it = lines(p.stdout);
    const first = JSON.parse((await it.next()).value!);
    expect(first.type).toBe("start");
    p.kill("SIGINT");
    const rest: string[] = [];
    for await (const l of it) rest.push(l);
    expect(await p.exited).toBe(0);
    expect(rest.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ type: "summary", intervals: 0, stopped_by: "signal" })]);
  });
});

describe("xbuf ls and stat", () => {
  test("lists live public elements with fill levels, not those whose creator died", async () => {
    const live = uniqueName("cli-ls");
    const dead = uniqueName("cli-dead");
    using xb = XBuf.create({ inbound: 4096, outbound: 1024, name: `/${live}` });
    const drv = new Driver(xb.fd);
    expect(drv.write(new Uint8Array(1000), O_NONBLOCK)).toBe(1000);
    expect(xb.tryWrite(new Uint8Array(256))).toBe(true);

    const creator = spawn(runTs(`${ROOT}test/ts/fixtures/latmus-creator.ts`, dead));
    const ready = await lines(creator.stdout).next();
    expect(ready.value).toBe("ready");
    expect(existsSync(`/dev/shm/xbuf.${dead}`)).toBe(true);
    expect((await xbuf(["ls", "--json"])).stdout).toContain(`"name":"${dead}"`);
    creator.kill("SIGKILL");
    await creator.exited;
    expect(existsSync(`/dev/shm/xbuf.${dead}`)).toBe(true); // its file stays behind...

    const r = await xbuf(["ls", "--json"]);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { name: string }[];
    // ...listed as stale, and removed by the listing (issue 9: no litter)
    expect(list.find((e) => e.name === dead)).toEqual({
      name: dead, backend: "user", stale: true, inbound: { fill: 0, size: 0 }, outbound: { fill: 0, size: 0 },
    });
    expect(existsSync(`/dev/shm/xbuf.${dead}`)).toBe(false);
    expect(list.find((e) => e.name === live)).toEqual({
      name: live, backend: "user", inbound: { fill: 1000, size: 4096 }, outbound: { fill: 256, size: 1024 },
    });
    const text = await xbuf(["ls"]);
    expect(text.stdout).toMatch(/^NAME\s+BACKEND\s+INBOUND\s+OUTBOUND$/m);
    expect(text.stdout).toMatch(new RegExp(`^${live}\\s+user\\s+1000/4096 \\(24%\\)\\s+256/1024 \\(25%\\)$`, "m"));
    drv.put();
    rmSync(`/dev/shm/xbuf.${dead}`, { force: true });
  });

  test("stat NAME: the counters of both rings", async () => {
    const name = uniqueName("cli-stat");
    using xb = XBuf.create({ inbound: 4096, outbound: 1024, name: `/${name}` });
    const drv = new Driver(xb.fd);
    drv.write(new Uint8Array(100), O_NONBLOCK);
    drv.write(new Uint8Array(50), O_NONBLOCK);
    const r = await xbuf(["stat", `/${name}`, "--json"]);
    expect(r.code).toBe(0);
    const st = JSON.parse(r.stdout);
    expect(st.name).toBe(name);
    expect(st.inbound).toMatchObject({ capacity: 4096, fill: 150, produced: 150, consumed: 0, writes: 2, producerPid: process.pid });
    expect(st.outbound).toMatchObject({ capacity: 1024, fill: 0, produced: 0 });
    const text = await xbuf(["stat", name]);
    expect(text.stdout).toMatch(/^produced \(bytes\)\s+150\s+0$/m);
    drv.put();
  });

  test("stat of a missing element: the error, exit 1", async () => {
    const r = await xbuf(["stat", uniqueName("nope")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^xbuf stat: ENOENT: open ".*": no cross-buffer has that name\n$/);
  });
});

describe("xbuf cat and write", () => {
  test("cat streams inbound traffic until the driver ends the stream", async () => {
    const name = uniqueName("cli-cat");
    using xb = XBuf.create({ inbound: 4096, outbound: 0, name: `/${name}` });
    const drv = new Driver(xb.fd);
    const p = spawn(runTs(MAIN, "cat", name));
    const pattern = new Pattern();
    const total = 256_000; // 62 ring-fulls: cat must keep up
    let sent = 0;
    const received = new Response(p.stdout).arrayBuffer();
    while (sent < total) {
      const chunk = pattern.take(1000);
      let n;
      while ((n = drv.write(chunk, O_NONBLOCK)) === -11) await sleep(1);
      expect(n).toBe(1000);
      sent += n;
    }
    expect(drv.shutdown()).toBe(0); // the end of the stream: cat drains and exits (a put alone ends nothing)
    drv.put();
    const bytes = new Uint8Array(await received);
    expect(await p.exited).toBe(0);
    expect(bytes.length).toBe(total);
    expect(new Pattern().check(bytes)).toBe(-1);
  });

  test("cat --bytes N stops after N bytes", async () => {
    const name = uniqueName("cli-catn");
    using xb = XBuf.create({ inbound: 4096, outbound: 0, name: `/${name}` });
    const drv = new Driver(xb.fd);
    drv.write(new TextEncoder().encode("hello, world"), O_NONBLOCK);
    const r = await xbuf(["cat", name, "--bytes", "5"]);
    expect(r).toEqual({ code: 0, stdout: "hello", stderr: "" });
    drv.put();
  });

  test("Ctrl-C stops a waiting cat and a waiting write: exit 130", async () => {
    const name = uniqueName("cli-int");
    using xb = XBuf.create({ inbound: 4096, outbound: 16, name: `/${name}` });
    const drv = new Driver(xb.fd);
    drv.write(new Uint8Array(1), O_NONBLOCK); // holds the inbound producer end: cat waits, no EPIPE
    const cat = spawn(runTs(MAIN, "cat", name));
    // 32 bytes into a 16-byte ring nobody reads: write waits for room
    const write = spawn(runTs(MAIN, "write", name), { stdin: "pipe" });
    write.stdin.write(new Uint8Array(32).fill(7));
    while (xb.rings().outbound.fill < 16 || xb.rings().inbound.fill > 0) await sleep(10);
    await sleep(100);
    expect(cat.exitCode).toBe(null);
    expect(write.exitCode).toBe(null);
    cat.kill("SIGINT");
    write.kill("SIGINT");
    expect(await cat.exited).toBe(130);
    expect(await write.exited).toBe(130);
    // 130 by exit(), after cleaning up, not by the signal's default action
    expect([cat.signalCode, write.signalCode]).toEqual([null, null]);
    expect(await new Response(cat.stderr).text()).toBe("");
    expect(await new Response(write.stderr).text()).toBe("");
    drv.put();
  });

  test("write sends stdin as outbound traffic", async () => {
    const name = uniqueName("cli-write");
    using xb = XBuf.create({ inbound: 0, outbound: 8192, name: `/${name}` });
    const drv = new Driver(xb.fd);
    const data = new Pattern().take(100_000); // more than the ring: write waits for the driver
    const run = xbuf(["write", name], data);
    const got = new Uint8Array(data.length);
    let at = 0;
    while (at < data.length) {
      const r = drv.read(4096, O_NONBLOCK);
      if (typeof r === "number") {
        expect(r).toBe(-11);
        await sleep(1);
        continue;
      }
      got.set(r, at);
      at += r.length;
    }
    expect(await run).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(new Pattern().check(got)).toBe(-1);
    drv.put();
  });
});

describe("no litter: stale names (issue 9)", () => {
  async function killedCreator(prefix: string, count: number): Promise<void> {
    const p = spawn(runTs(`${ROOT}test/ts/fixtures/creator.ts`, prefix, String(count)));
    for await (const line of lines(p.stdout)) if (line === "ready") break;
    p.kill("SIGKILL");
    await p.exited;
  }
  const left = (prefix: string) => readdirSync("/dev/shm").filter((f) => f.startsWith(`xbuf.${prefix}-`)).length;

  test("xbuf ls shows the names of killed creators as stale and removes them; any command removes them", async () => {
    const prefix = uniqueName("litter");
    await killedCreator(prefix, 5);
    expect(left(prefix)).toBe(5);
    const ls = await xbuf(["ls"]);
    expect(ls.code).toBe(0);
    for (let i = 0; i < 5; i++) expect(ls.stdout).toMatch(new RegExp(`^${prefix}-${i}\\s+user\\s+stale \\(removed\\)`, "m"));
    expect(left(prefix)).toBe(0);
    await killedCreator(prefix, 3);
    const gc = await xbuf(["gc"]);
    expect(gc.code).toBe(0);
    expect(gc.stdout).toMatch(/^\d+ stale name\(s\) removed$/m);
    expect(left(prefix)).toBe(0);
    await killedCreator(prefix, 2);
    expect((await xbuf(["stat", "nonexistent-" + prefix])).code).toBe(1); // any command
    expect(left(prefix)).toBe(0);
  });
});
