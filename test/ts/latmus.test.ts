/** latmus: record decoding, accounting, text and JSON lines, the SVG, the C sampler. */
import { describe, expect, test } from "vitest";
import { XBuf, XBufError } from "../../src/index.ts";
import {
  LatmusRecord, encodeLatmusRecord, LatmusStats, UserLatmus, SCHED_FIFO, SCHED_OTHER,
  headerLines, intervalLine, summaryLines, startJson, intervalJson, summaryJson, hms,
  renderLatmusSvg, histogramBins, runLatmus, type LatmusMeta, type LatmusSample,
} from "../../src/latmus/index.ts";
import { Driver, O_NONBLOCK } from "./helpers.ts";

const meta: LatmusMeta = {
  backend: "user", periodUs: 1000, intervalUs: 100_000, policy: SCHED_FIFO, priority: 90, cpu: 1, durationS: 0,
};

const rec = (min: number, avg: number, max: number, samples = 100, overruns = 0): LatmusSample => ({
  sum_lat: avg * samples, min_lat: min, max_lat: max, overruns, samples,
});

/**
 * Well-formedness of an XML document, strictly enough for our SVG: one
 * root, balanced tags, quoted attributes, no stray '<' or '&'.
 */
function xmlProblems(doc: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  let roots = 0;
  const entity = /&(?:lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;
  const badText = (s: string) => s.replace(entity, "").includes("&") || s.includes("<");
  const tag = /<(\?xml[^>]*\?|\/?)([A-Za-z_][\w:.-]*)?((?:\s+[\w:.-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/y;
  let i = 0;
  while (i < doc.length) {
    const lt = doc.indexOf("<", i);
    const textPart = doc.slice(i, lt < 0 ? doc.length : lt);
    if (badText(textPart)) problems.push(`bad text near ${i}`);
    if (textPart.trim() && !stack.length) problems.push(`text outside the root near ${i}`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(doc);
    if (!m) {
      problems.push(`malformed tag at ${lt}: ${doc.slice(lt, lt + 40)}`);
      break;
    }
    i = tag.lastIndex;
    if (m[1]!.startsWith("?xml")) {
      if (lt !== 0) problems.push("XML declaration not first");
      continue;
    }
    const name = m[2]!;
    if (badText(m[3] ?? "")) problems.push(`bad attribute text in <${name}>`);
    if (m[1] === "/") {
      if (stack.pop() !== name) problems.push(`unbalanced </${name}>`);
    } else if (!m[4]) {
      if (!stack.length) roots++;
      stack.push(name);
    } else if (!stack.length) roots++;
  }
  if (stack.length) problems.push(`unclosed <${stack.join("> <")}>`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return problems;
}

describe("records", () => {
  test("the layout is struct xbuf_latmus_record: 24 bytes, natural C offsets", () => {
    expect(LatmusRecord.size).toBe(24);
    expect(LatmusRecord.offsets).toEqual({ sum_lat: 0, min_lat: 8, max_lat: 12, overruns: 16, samples: 20 });
  });

  test("records written by a driver decode in place, little-endian, signed where C says so", async () => {
    using xb = XBuf.create({ inbound: 24 * 8, outbound: 0 });
    const drv = new Driver(xb.fd);
    const sent: LatmusSample[] = [
      { sum_lat: 2 ** 40 + 12345, min_lat: -5, max_lat: 2 ** 31 - 1, overruns: 2 ** 32 - 1, samples: 7 },
      { sum_lat: 0, min_lat: -(2 ** 31), max_lat: 0, overruns: 0, samples: 0 },
      rec(1000, 2000, 3000),
    ];
    for (const r of sent) expect(drv.write(encodeLatmusRecord(r), O_NONBLOCK)).toBe(24);
    // A partial record is not handed out until it is whole.
    const bytes = encodeLatmusRecord(rec(1, 2, 3));
    expect(drv.write(bytes.subarray(0, 10), O_NONBLOCK)).toBe(10);
    const got: LatmusSample[] = [];
    const it = xb.recordBatches(LatmusRecord);
    const first = await it.next();
    for (const r of first.value!) {
      got.push({ sum_lat: r.sum_lat, min_lat: r.min_lat, max_lat: r.max_lat, overruns: r.overruns, samples: r.samples });
    }
    expect(got).toEqual(sent);
    const pending = it.next();
    expect(drv.write(bytes.subarray(10), O_NONBLOCK)).toBe(14);
    const second = await pending;
    expect(second.value!.length).toBe(1);
    expect(second.value!.at(0).max_lat).toBe(3);
    expect(drv.shutdown()).toBe(0); // the driver ends the stream (a put alone ends nothing: issue 9)
    drv.put();
    expect((await it.next()).done).toBe(true); // the stream ended and the ring is empty
  });
});

describe("accounting", () => {
  test("best, worst, averages and covered time", () => {
    const s = new LatmusStats(1000);
    s.add(rec(10_000, 20_000, 50_000));
    s.add(rec(8_000, 30_000, 40_000, 98, 2));
    expect(s.intervals).toBe(2);
    expect(s.samples).toBe(198);
    expect(s.overruns).toBe(2);
    expect(s.elapsedNs).toBe(200 * 1_000_000); // samples + overruns periods of 1 ms
    expect(s.bestNs).toBe(8_000);
    expect(s.worstNs).toBe(50_000);
    expect(s.avgNs).toBeCloseTo((20_000 * 100 + 30_000 * 98) / 198, 6);
    expect(s.last).toMatchObject({ minNs: 8_000, maxNs: 40_000, avgNs: 30_000, overruns: 2, samples: 98 });
    expect(s.history.length).toBe(2);
    expect(Array.from(s.history.max.subarray(0, 2))).toEqual([50_000, 40_000]);
    expect(Array.from(s.history.t.subarray(0, 2))).toEqual([0.1, 0.2]);
  });

  test("the history grows past its first allocation", () => {
    const s = new LatmusStats(1000);
    for (let i = 0; i < 1000; i++) s.add(rec(i, i + 1, i + 2));
    expect(s.history.length).toBe(1000);
    expect(s.history.max[999]).toBe(1001);
    expect(s.worstNs).toBe(1001);
    expect(s.bestNs).toBe(0);
  });
});

describe("display lines", () => {
  test("header, data and summary lines as latmus prints them", () => {
    expect(headerLines(meta, 61)).toEqual([
      "RTT|  00:01:01  (user, 1000 us period, priority 90, CPU1)",
      "RTH|----lat min|----lat avg|----lat max|-overrun|---msw|---lat best|--lat worst",
    ]);
    expect(headerLines({ ...meta, policy: SCHED_OTHER, priority: 0, cpu: -1 }, 0)[0]).toBe(
      "RTT|  00:00:00  (user, 1000 us period, priority 0 (SCHED_OTHER), any CPU)",
    );
    const s = new LatmusStats(1000);
    s.add(rec(1_024, 1_372, 4_591));
    expect(intervalLine(s)).toBe("RTD|      1.024|      1.372|      4.591|       0|     -|      1.024|      4.591");
    s.add({ sum_lat: 100 * 2_000 + 1, min_lat: 900, max_lat: 123_456_789, overruns: 3, samples: 97 });
    expect(intervalLine(s)).toBe("RTD|      0.900|      2.062| 123456.789|       3|     -|      0.900| 123456.789");
    const lines = summaryLines(s, { ...meta, durationS: 30 }, { dropped: 4, records: 2, stoppedBy: "signal" });
    // avg: (137200 + 200001) ns / 197 samples = 1711.68 ns
    expect(lines[0]).toBe("---|-----------|-----------|-----------|--------|------|-------------------------");
    expect(lines[1]).toBe("RTS|      0.900|      1.712| 123456.789|       3|     -|    00:00:00/00:00:30");
    expect(lines[2]).toBe("RTS| 2 intervals of 100 ms, 197 samples, 3 overruns, 4 records dropped (ring full)");
    expect(lines[3]).toBe("RTS| sampler: user thread, SCHED_FIFO priority 90, CPU1; stopped by signal");
    expect(hms(3600 * 100 + 59)).toBe("100:00:59");
  });
});

describe("JSON lines", () => {
  test("start, interval and summary objects", () => {
    expect(JSON.parse(startJson(meta))).toEqual({
      type: "start", backend: "user", period_us: 1000, interval_us: 100_000, policy: "SCHED_FIFO", priority: 90, cpu: 1, duration_s: 0,
    });
    const s = new LatmusStats(1000);
    s.add({ sum_lat: 1_000_001, min_lat: 5_000, max_lat: 20_000, overruns: 1, samples: 99 });
    expect(JSON.parse(intervalJson(s))).toEqual({
      type: "interval", seq: 1, elapsed_s: 0.1, samples: 99, overruns: 1,
      min_ns: 5_000, avg_ns: 10101.02, max_ns: 20_000, sum_ns: 1_000_001, best_ns: 5_000, worst_ns: 20_000,
    });
    expect(JSON.parse(summaryJson(s, meta, { dropped: 2, records: 1, stoppedBy: "duration" }))).toEqual({
      type: "summary", backend: "user", intervals: 1, elapsed_s: 0.1, samples: 99, overruns: 1, records: 1, dropped: 2,
      best_ns: 5_000, avg_ns: 10101.02, worst_ns: 20_000, policy: "SCHED_FIFO", priority: 90, cpu: 1, stopped_by: "duration",
    });
    // No records: nulls, never NaN (which JSON cannot carry).
    const empty = JSON.parse(summaryJson(new LatmusStats(1000), meta, { dropped: 0, records: 0, stoppedBy: "signal" }));
    expect(empty).toMatchObject({ intervals: 0, best_ns: null, avg_ns: null, worst_ns: null });
  });
});

describe("SVG plot", () => {
  test("well-formed, titled, with both histogram series and the three time series", () => {
    const s = new LatmusStats(1000);
    for (let i = 0; i < 50; i++) s.add(rec(10_000 + i, 20_000 + 100 * i, 40_000 + (i % 7) * 5_000, 100 - (i % 10 ? 0 : 2), i % 10 ? 0 : 2));
    const svg = renderLatmusSvg(s, meta, { dropped: 3, records: 50, stoppedBy: "duration" });
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toMatch(/<title>[^<]*histogram of per-interval max and avg latency/);
    expect(svg).toContain("Histogram of per-interval max and avg latency (50 intervals)");
    for (const id of ["series-min", "series-avg", "series-max"]) expect(svg).toMatch(new RegExp(`<g id="${id}" data-points="50"`));
    // Every interval lands in exactly one bin of each histogram series.
    for (const id of ["hist-max", "hist-avg"]) {
      const group = svg.match(new RegExp(`<g id="${id}"[^>]*>([\\s\\S]*?)</g>`))![1]!;
      const counts = [...group.matchAll(/: (\d+) intervals<\/title>/g)].map((m) => Number(m[1]));
      expect(counts.reduce((a, b) => a + b, 0)).toBe(50);
    }
    expect((svg.match(/overruns in the interval ending at/g) ?? []).length).toBe(5);
    expect(svg).toContain("latency (µs)");
    expect(svg).toContain("elapsed time (s)");
    expect(svg).toContain("3 records dropped");
  });

  test("an empty run still renders, and says so", () => {
    const svg = renderLatmusSvg(new LatmusStats(1000), meta, { dropped: 0, records: 0, stoppedBy: "signal" });
    expect(xmlProblems(svg)).toEqual([]);
    expect((svg.match(/>no data</g) ?? []).length).toBe(2);
  });

  test("the checker catches what it must", () => {
    expect(xmlProblems("<a><b></a></b>")).not.toEqual([]);
    expect(xmlProblems('<a x="1 & 2"/>')).not.toEqual([]);
    expect(xmlProblems("<a>1 < 2</a>")).not.toEqual([]);
    expect(xmlProblems("<a/><b/>")).not.toEqual([]);
  });

  test("histogram bins cover every value", () => {
    const b = histogramBins([10, 20, 35.5], [1, 2, 3], 3);
    expect(b.step).toBeGreaterThan(0);
    expect(b.lo).toBeLessThanOrEqual(1);
    expect(b.lo + b.count * b.step).toBeGreaterThan(35.5);
    expect([...b.max].reduce((x, y) => x + y)).toBe(3);
    expect([...b.avg].reduce((x, y) => x + y)).toBe(3);
  });
});

describe("the C sampler", () => {
  test("bad arguments are EINVAL/EBADF and leave nothing running", () => {
    using xb = XBuf.create({ inbound: 4096, outbound: 0 });
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(XBufError);
        return (e as XBufError).code;
      }
      return "no error";
    };
    expect(code(() => UserLatmus.start(xb.fd, { periodUs: 0, intervalUs: 1000 }))).toBe("EINVAL");
    expect(code(() => UserLatmus.start(xb.fd, { periodUs: 1_000_001, intervalUs: 2_000_000 }))).toBe("EINVAL");
    expect(code(() => UserLatmus.start(xb.fd, { periodUs: 1000, intervalUs: 999 }))).toBe("EINVAL");
    expect(code(() => UserLatmus.start(xb.fd, { periodUs: 1000, intervalUs: 1000, priority: 100 }))).toBe("EINVAL");
    expect(code(() => UserLatmus.start(xb.fd, { periodUs: 1000, intervalUs: 1000, cpu: 4096 }))).toBe("EINVAL");
    expect(code(() => UserLatmus.start(123456, { periodUs: 1000, intervalUs: 1000 }))).toBe("EBADF");
  });

  test("one honest record per interval; stop, drain, then the stream ends", async () => {
    using xb = XBuf.create({ inbound: 24 * 64, outbound: 0 });
    const lm = UserLatmus.start(xb.fd, { periodUs: 500, intervalUs: 50_000, priority: 0, cpu: 0 });
    const started = lm.info();
    expect(started).toMatchObject({ periodUs: 500, intervalUs: 50_000, policy: SCHED_OTHER, priority: 0, cpu: 0, running: true, error: 0 });
    let seen = 0;
    let stopped = false;
    for await (const batch of xb.recordBatches(LatmusRecord)) {
      for (let i = 0; i < batch.length; i++) {
        const r = batch.at(i);
        seen++;
        // Every period of the interval is either measured or counted as missed.
        expect(r.samples + r.overruns).toBeGreaterThanOrEqual(100);
        expect(r.samples).toBeGreaterThan(0);
        expect(r.min_lat).toBeGreaterThanOrEqual(0); // an absolute sleep never wakes early
        expect(r.min_lat).toBeLessThanOrEqual(r.max_lat);
        expect(r.sum_lat).toBeGreaterThanOrEqual(r.min_lat * r.samples);
        expect(r.sum_lat).toBeLessThanOrEqual(r.max_lat * r.samples);
      }
      if (seen >= 4 && !stopped) {
        stopped = true;
        const last = lm.stop(); // the loop goes on: it drains, then sees EPIPE
        expect(last.running).toBe(false);
      }
    }
    const info = lm.info();
    expect(seen).toBe(info.records); // every record written was read, none after the stop
    expect(info.dropped).toBe(0);
    expect(info.samples + info.overruns).toBeGreaterThanOrEqual(100 * seen);
  });

  test("a full ring drops whole records and counts them", async () => {
    using xb = XBuf.create({ inbound: 24 * 2 + 10, outbound: 0 });
    const lm = UserLatmus.start(xb.fd, { periodUs: 1000, intervalUs: 1000, priority: 0 });
    await new Promise((r) => setTimeout(r, 100));
    const info = lm.stop();
    expect(info.records).toBe(2); // room for two, and the sampler never blocked waiting
    expect(info.dropped).toBeGreaterThan(0);
    expect(xb.rings().inbound.fill).toBe(48);
  });

  test("SCHED_FIFO when allowed, else SCHED_OTHER, and the info says which", () => {
    using xb = XBuf.create({ inbound: 4096, outbound: 0 });
    const lm = UserLatmus.start(xb.fd, { periodUs: 1000, intervalUs: 100_000, priority: 42 });
    const info = lm.stop();
    if (info.policy === SCHED_FIFO) expect(info.priority).toBe(42);
    else expect(info).toMatchObject({ policy: SCHED_OTHER, priority: 0 });
  });
});

describe("runLatmus", () => {
  test("a timed run: one line per interval, then the summary", async () => {
    const out: string[] = [];
    const r = await runLatmus(
      { backend: "user", periodUs: 1000, intervalUs: 100_000, durationS: 0.5, cpu: -1, priority: 0, json: false },
      { out: (l) => out.push(l) },
    );
    expect(r.stats.intervals).toBe(5);
    expect(r.end.stoppedBy).toBe("duration");
    expect(out[0]).toBe("RTT|  00:00:00  (user, 1000 us period, priority 0 (SCHED_OTHER), any CPU)");
    expect(out.filter((l) => l.startsWith("RTD|")).length).toBe(5);
    expect(out.at(-3)).toMatch(/^RTS\|.*\|    00:00:00\/00:00:00$/);
    expect(out.at(-2)).toMatch(/^RTS\| 5 intervals of 100 ms, \d+ samples, \d+ overruns, 0 records dropped/);
  });

  test("stopped before the first record: nothing to drain, an empty summary", async () => {
    const out: string[] = [];
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const r = await runLatmus(
      { backend: "user", periodUs: 1000, intervalUs: 1_000_000, durationS: 0, cpu: -1, priority: 0, json: true },
      { out: (l) => out.push(l), signal: ac.signal },
    );
    expect(r.stats.intervals).toBe(0);
    expect(out.map((l) => JSON.parse(l).type)).toEqual(["start", "summary"]);
    expect(JSON.parse(out[1]!)).toMatchObject({ intervals: 0, records: 0, stopped_by: "signal" });
  });
});
