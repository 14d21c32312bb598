/** latmus: record decoding, accounting, text and JSON lines, the SVG, the C sampler. */
import { describe, expect, test } from "vitest";
import { XBuf, XBufError } from "../../src/index.ts";
import {
  LatmusRecord, encodeLatmusRecord, LatmusStats, UserLatmus, SCHED_FIFO, SCHED_OTHER,
  headerLines, intervalLine, summaryLines, noteLines, startJson, intervalJson, summaryJson, hms,
  renderLatmusSvg, runLatmus, type LatmusMeta, type LatmusSample,
} from "../../src/latmus/index.ts";
import {
  LatmusHistogram, LatmusPrinter, LatmusExit, FrameReader, encodeFrame, F_INTERVAL, F_HIST, F_SAMPLES, F_END, FF_PARTIAL,
  gnuplotText, ctime, type GnuplotEnv,
} from "../../src/latmus/index.ts";
import { readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { Driver, O_NONBLOCK } from "./helpers.ts";

const meta: LatmusMeta = {
  backend: "user", context: "user", periodUs: 1000, intervalUs: 100_000, policy: SCHED_FIFO, priority: 90, cpu: 1, durationS: 0,
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
      "RTT|  00:01:01  (user, 1000 us period, priority 90, CPU1-noisol)",
      "RTH|----lat min|----lat avg|----lat max|-overrun|---msw|---lat best|--lat worst",
    ]);
    expect(headerLines({ ...meta, policy: SCHED_OTHER, priority: 0, cpu: -1 }, 0)[0]).toBe(
      "RTT|  00:00:00  (user, 1000 us period, priority 0 (SCHED_OTHER), any CPU)",
    );
    const s = new LatmusStats(1000);
    s.add(rec(1_024, 1_372, 4_591));
    expect(intervalLine(s)).toBe("RTD|      1.024|      1.372|      4.591|       0|     -|      1.024|      4.591");
    s.add({ sum_lat: 100 * 2_000 + 1, min_lat: 900, max_lat: 123_456_789, overruns: 3, samples: 97 });
    // EVL's averages are whole ns (an integer division): 200001 / 97 = 2061.86 -> 2.061.
    expect(intervalLine(s)).toBe("RTD|      0.900|      2.061| 123456.789|       3|     -|      0.900| 123456.789");
    s.add(rec(1_000, 1_500, 2_000, 100, 2));
    // -overrun: the run's total so far, as EVL prints all_overruns.
    expect(intervalLine(s)).toMatch(/^RTD\|      1\.000\|      1\.500\|      2\.000\|       5\|/);
    const lines = summaryLines(s, { ...meta, durationS: 30 });
    // avg: (137200 + 200001 + 150000) ns / 297 samples = 1640.4 -> 1640 ns
    expect(lines).toEqual([
      "---|-----------|-----------|-----------|--------|------|-------------------------",
      "RTS|      0.900|      1.640| 123456.789|       5|     -|    00:00:00/00:00:30",
    ]);
    expect(summaryLines(new LatmusStats(1000), meta)).toEqual([]); // EVL prints no summary without samples
    const notes = noteLines(s, { ...meta, durationS: 30 }, { dropped: 4, records: 3, stoppedBy: "signal" });
    expect(notes).toEqual([
      "3 intervals of 100 ms, 297 samples, 5 overruns, 4 records dropped (ring full)",
      "sampler: user thread, SCHED_FIFO priority 90, CPU1-noisol; stopped by signal",
    ]);
    // EVL leaves the priority out of an irq header.
    expect(headerLines({ ...meta, context: "irq", cpu: -1 }, 0)[0]).toBe("RTT|  00:00:00  (irq, 1000 us period, any CPU)");
    expect(hms(3600 * 100 + 59)).toBe("100:00:59");
  });
});

describe("JSON lines", () => {
  test("start, interval and summary objects", () => {
    expect(JSON.parse(startJson(meta))).toEqual({
      type: "start", backend: "user", context: "user", period_us: 1000, interval_us: 100_000, policy: "SCHED_FIFO", priority: 90, cpu: 1, duration_s: 0, hcells: 0,
    });
    const s = new LatmusStats(1000);
    s.add({ sum_lat: 1_000_001, min_lat: 5_000, max_lat: 20_000, overruns: 1, samples: 99 });
    expect(JSON.parse(intervalJson(s))).toEqual({
      type: "interval", seq: 1, elapsed_s: 0.1, samples: 99, overruns: 1,
      min_ns: 5_000, avg_ns: 10101.02, max_ns: 20_000, sum_ns: 1_000_001, best_ns: 5_000, worst_ns: 20_000,
    });
    expect(JSON.parse(summaryJson(s, meta, { dropped: 2, records: 1, stoppedBy: "duration" }))).toEqual({
      type: "summary", backend: "user", context: "user", intervals: 1, elapsed_s: 0.1, samples: 99, overruns: 1, records: 1, dropped: 2,
      best_ns: 5_000, avg_ns: 10101.02, worst_ns: 20_000, peak_s: 0, policy: "SCHED_FIFO", priority: 90, cpu: 1, stopped_by: "duration",
    });
    // No records: nulls, never NaN (which JSON cannot carry).
    const empty = JSON.parse(summaryJson(new LatmusStats(1000), meta, { dropped: 0, records: 0, stoppedBy: "signal" }));
    expect(empty).toMatchObject({ intervals: 0, best_ns: null, avg_ns: null, worst_ns: null });
  });
});

describe("SVG plot", () => {
  const known = () => {
    const h = new LatmusHistogram(200);
    for (let c = 10; c < 40; c++) h.add(c, c < 20 ? 1000 : 10); // a body and a tail
    h.add(150, 1);
    h.add(200, 2); // two outliers past the last cell
    return h;
  };

  test("well-formed: the real histogram on a log scale, p50/p99/p99.9/max marked, and the time series", () => {
    const s = new LatmusStats(1000);
    for (let i = 0; i < 50; i++) s.add(rec(10_000 + i, 20_000 + 100 * i, 40_000 + (i % 7) * 5_000, 100 - (i % 10 ? 0 : 2), i % 10 ? 0 : 2));
    s.worstNs = 250_000;
    const h = known();
    const svg = renderLatmusSvg(s, meta, { dropped: 3, records: 50, stoppedBy: "duration" }, h);
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain(`Histogram of every sample&apos;s latency (${h.total} samples, 1 µs cells, log scale)`);
    // One bar per non-empty cell plus the outliers' bar; every sample counted once.
    const group = svg.match(/<g id="hist-samples"[^>]*>([\s\S]*?)<\/g>/)![1]!;
    const counts = [...group.matchAll(/: (\d+) samples<\/title>/g)].map((m) => Number(m[1]));
    expect(counts.length).toBe(30 + 1 + 1);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(h.total);
    expect(group).toContain("≥ 200 µs (outliers): 2 samples");
    // Log scale: decade lines 1, 10, 100, 1000.
    for (const d of ["1", "10", "100", "1000"]) expect(svg).toMatch(new RegExp(`>${d}</text>`));
    const p = h.percentiles(s.worstNs);
    for (const [label, ns] of [["p50", p.p50], ["p99", p.p99], ["p99.9", p.p999], ["max", p.max]] as const) {
      expect(svg).toContain(`data-mark="${label}" data-ns="${ns}"`);
    }
    for (const id of ["series-min", "series-avg", "series-max"]) expect(svg).toMatch(new RegExp(`<g id="${id}" data-points="50"`));
    expect((svg.match(/overruns in the interval ending at/g) ?? []).length).toBe(5);
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
});

describe("histogram and percentiles", () => {
  test("1 µs cells, outliers apart, percentiles at the cell's upper edge capped by the max", () => {
    const h = new LatmusHistogram(10);
    h.add(2, 50); // [2, 3) µs
    h.add(3, 40);
    h.add(7, 9);
    h.add(10, 1); // >= 10 µs
    expect(h.total).toBe(100);
    expect(h.outliers).toBe(1);
    expect(h.percentileNs(0.5, 12_345)).toBe(3_000);
    expect(h.percentileNs(0.9, 12_345)).toBe(4_000);
    expect(h.percentileNs(0.99, 12_345)).toBe(8_000);
    expect(h.percentileNs(0.999, 12_345)).toBe(12_345); // in the outliers: the max bounds them
    expect(h.percentileNs(0.5, 2_500)).toBe(2_500); // never above the max
    expect(new LatmusHistogram(5).percentileNs(0.5, NaN)).toBeNaN();
    // EVL's view: the outliers in the last cell.
    expect(Array.from(h.evlCells())).toEqual([0, 0, 50, 40, 0, 0, 0, 9, 0, 1]);
  });
});

describe("EVL's gnuplot file", () => {
  const env: GnuplotEnv = {
    start: new Date(2024, 0, 5, 9, 3, 7),
    version: "none (no EVL core: xbuf 0.1.0)",
    files: { version: "Linux version 6.1.0 (x) #1 SMP\n", cmdline: "quiet\n", clocksource: "tsc\n" },
  };

  test("header, then cell count from the first to the last non-empty cell, '+' when the max is past it", () => {
    const s = new LatmusStats(1000);
    s.add({ sum_lat: 3 * 1_500 + 2_200 + 7_900, min_lat: 1_500, max_lat: 7_900, overruns: 0, samples: 5 });
    s.add({ sum_lat: 2_500 + 1_000_000, min_lat: 2_500, max_lat: 1_000_000, overruns: 3, samples: 2 });
    const h = new LatmusHistogram(8);
    h.add(1, 3);
    h.add(2, 2);
    h.add(7, 1);
    h.add(8, 1); // 1 ms: an outlier of 8 cells
    const text = gnuplotText(s, { ...meta, cpu: 0, isolated: true, priority: 90 }, h, env);
    expect(text).toBe(
      [
        "# test started on: Fri Jan  5 09:03:07 2024",
        "# Linux version 6.1.0 (x) #1 SMP",
        "# quiet",
        "# libevl version: none (no EVL core: xbuf 0.1.0)",
        "# sampling period: 1000 microseconds",
        "# clocksource: tsc",
        "# context: user",
        "# thread priority: 90",
        "# thread affinity: CPU0",
        "# duration (hhmmss): 00:00:00",
        "# peak (hhmmss): 00:00:00",
        "# OVERRUNS: 3",
        "# min latency: 1.500",
        "# avg latency: 145.300",
        "# max latency: 1000.000",
        "# sample count: 7",
        "1 3",
        "2 2",
        "3 0",
        "4 0",
        "5 0",
        "6 0",
        "7+ 2",
        "",
      ].join("\n"),
    );
    // irq: no thread lines; no '+' when the max is inside the histogram; nothing without samples.
    const s2 = new LatmusStats(1000);
    s2.add({ sum_lat: 4_000, min_lat: 2_000, max_lat: 2_000, overruns: 0, samples: 2 });
    const h2 = new LatmusHistogram(8);
    h2.add(2, 2);
    const t2 = gnuplotText(s2, { ...meta, context: "irq" }, h2, { ...env, files: {} });
    expect(t2).not.toContain("thread");
    expect(t2.endsWith("# sample count: 2\n2 2\n")).toBe(true);
    expect(gnuplotText(new LatmusStats(1000), meta, h2, env)).toBe("");
    expect(ctime(new Date(1993, 5, 30, 21, 49, 8))).toBe("Wed Jun 30 21:49:08 1993\n");
  });
});

describe("frames", () => {
  test("every frame type decodes from a driver's writes, a frame split across views included", async () => {
    using xb = XBuf.create({ inbound: 1 << 14, outbound: 0 });
    const drv = new Driver(xb.fd);
    const cells = new Uint8Array(8 + 2 * 8);
    const dv = new DataView(cells.buffer);
    dv.setUint32(0, 200, true);
    dv.setUint32(4, 2, true);
    dv.setUint32(8, 3, true);
    dv.setUint32(12, 17, true);
    dv.setUint32(16, 200, true);
    dv.setUint32(20, 1, true);
    const samples = new Uint8Array(new Uint32Array([5, 6, 7]).buffer);
    const end = new Uint8Array(48);
    new DataView(end.buffer).setBigUint64(0, 18n, true);
    const frames = [
      encodeFrame(F_INTERVAL, 0, encodeLatmusRecord(rec(1000, 2000, 3000, 18))),
      encodeFrame(F_HIST, 0, cells),
      encodeFrame(F_SAMPLES, 0, samples),
      encodeFrame(9, 0, new Uint8Array(4)), // unknown: skipped by size
      encodeFrame(F_INTERVAL, FF_PARTIAL, encodeLatmusRecord(rec(1, 1, 1, 1))),
      encodeFrame(F_END, 0, end),
    ];
    const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of frames) (all.set(f, at), (at += f.length));
    const got: string[] = [];
    const reader = new FrameReader({
      interval: (r, partial) => got.push(`interval ${r.samples} ${r.max_lat}${partial ? " partial" : ""}`),
      hist: (c, cell, count) => got.push(`hist ${c} ${cell} ${count}`),
      samples: (bytes, n) => got.push(`samples ${n} ${Array.from(new Uint32Array(bytes.slice().buffer))}`),
      end: (e) => got.push(`end ${e.samples}`),
    });
    expect(drv.write(all.subarray(0, 45), O_NONBLOCK)).toBe(45); // mid-frame
    const it = xb.views();
    expect(reader.feed((await it.next()).value!)).toBe(false);
    expect(drv.write(all.subarray(45), O_NONBLOCK)).toBe(all.length - 45);
    expect(reader.feed((await it.next()).value!)).toBe(true);
    await it.return();
    expect(got).toEqual(["interval 18 3000", "hist 200 3 17", "hist 200 200 1", "samples 3 5,6,7", "interval 1 1 partial", "end 18"]);
    expect(reader.unknown).toBe(1);
    drv.put();
  });
});

describe("the front-end's lines: pagination, -A, the sanity check", () => {
  const run = (lines: number, verbosity: number, n: number) => {
    const out: string[] = [];
    const p = new LatmusPrinter(meta, new LatmusStats(1000), { out: (l) => out.push(l) }, { json: false, verbosity, lines, abortNs: 0 });
    for (let i = 0; i < n; i++) p.interval(rec(1000, 2000, 3000), false);
    p.interval(rec(1000, 2000, 3000, 5), true);
    return out.map((l) => l.slice(0, 3));
  };

  test("-l N: the header before data lines 1, N + 1, 2N + 1...; -l 0 never; -q no line at all", () => {
    expect(run(3, 1, 7)).toEqual(["RTT", "RTH", "RTD", "RTD", "RTD", "RTT", "RTH", "RTD", "RTD", "RTD", "RTT", "RTH", "RTD"]);
    expect(run(0, 1, 4)).toEqual(["RTD", "RTD", "RTD", "RTD"]);
    expect(run(21, 0, 4)).toEqual([]);
  });

  test("a weird line is printed (even quiet), then exit 103", () => {
    const out: string[] = [];
    const p = new LatmusPrinter(meta, new LatmusStats(1000), { out: (l) => out.push(l) }, { json: false, verbosity: 0, lines: 21, abortNs: 0 });
    p.interval(rec(1000, 2000, 3000), false);
    let err: unknown;
    try {
      p.interval({ sum_lat: 100 * 9_000, min_lat: 8_000, max_lat: 5_000, overruns: 0, samples: 100 }, false); // min > max
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LatmusExit);
    expect((err as LatmusExit).code).toBe(103);
    expect((err as LatmusExit).message).toBe("results look weird, aborting.");
    expect(out).toEqual(["RTD|      8.000|      9.000|      5.000|       0|     -|      1.000|      5.000"]);
  });
});

describe("deterministic runs (fake latencies) through the user sampler", () => {
  // 21 samples of each: 500, 1500, 2500, 7000 ns and 1200 ns, over 105 periods of 100 µs.
  const fake = [500, 1500, 2500, 7000, 1200];
  const base = {
    backend: "user" as const, periodUs: 100, intervalUs: 1000, durationS: 105 * 100e-6, cpu: -1, priority: 0, json: true, hcells: 5, fake,
  };

  test("histogram cells, percentiles and intervals in the JSON summary; the gnuplot file", async () => {
    const out: string[] = [];
    let gp = "";
    const r = await runLatmus(base, {
      out: (l) => out.push(l),
      beforeSummary: ({ stats, meta, hist }) => (gp = gnuplotText(stats, meta, hist, { start: new Date(0), version: "x", files: {} })),
    });
    expect(r.final).toMatchObject({ samples: 105, lost: 0, dropped: 0, records: 11, error: 0 });
    const objs = out.map((l) => JSON.parse(l));
    expect(objs.filter((o) => o.type === "interval").length).toBe(11);
    expect(objs.filter((o) => o.partial).length).toBe(1);
    const sum = objs.at(-1);
    expect(sum).toMatchObject({
      type: "summary", samples: 105, intervals: 10, partial_intervals: 1, best_ns: 500, worst_ns: 7000, stopped_by: "duration",
      histogram: { cell_us: 1, cells: 5, counts: [21, 42, 21, 0, 0], outliers: 21, total: 105 },
      // p50: the 53rd sample, in [1, 2) µs; p99 and p99.9 in the outliers: the max.
      percentiles: { p50_ns: 2000, p99_ns: 7000, p99_9_ns: 7000, max_ns: 7000 },
    });
    expect(gp.split("\n").slice(-7)).toEqual(["# sample count: 105", "0 21", "1 42", "2 21", "3 0", "4+ 21", ""]);
  });

  test("-A: past the threshold, exit 102 at once", async () => {
    let err: unknown;
    try {
      await runLatmus({ ...base, json: false, maxAbortUs: 5, durationS: 1 }, { out: () => {} });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LatmusExit);
    expect((err as LatmusExit).code).toBe(102);
    expect((err as LatmusExit).message).toBe("latency threshold is exceeded (5000 >= 7.000), aborting.");
  });

  test("--samples: every raw sample in order, binary and CSV", async () => {
    const bin = `${tmpdir()}/latmus-${process.pid}-${Date.now()}.bin`;
    const csv = bin.replace(/\.bin$/, ".csv");
    try {
      const r = await runLatmus({ ...base, samplesFile: bin }, { out: () => {} });
      expect(r.end).toMatchObject({ samplesWritten: 105, lost: 0 });
      const raw = new Uint32Array(new Uint8Array(readFileSync(bin)).buffer);
      expect(Array.from(raw)).toEqual(Array.from({ length: 105 }, (_, i) => fake[i % 5]));
      await runLatmus({ ...base, samplesFile: csv }, { out: () => {} });
      const lines = readFileSync(csv, "utf8").trimEnd().split("\n");
      expect(lines[0]).toBe("sample,latency_ns");
      expect(lines.slice(1, 4)).toEqual(["0,500", "1,1500", "2,2500"]);
      expect(lines.length).toBe(106);
    } finally {
      rmSync(bin, { force: true });
      rmSync(csv, { force: true });
    }
  });
});

describe("--samples at a 10 µs period", () => {
  test("10 s of raw samples through the ring, 0 lost: the file holds every sample the sampler took", { timeout: 40_000 }, async () => {
    const bin = `${tmpdir()}/latmus-10us-${process.pid}-${Date.now()}.bin`;
    try {
      const r = await runLatmus(
        { backend: "user", periodUs: 10, intervalUs: 1_000_000, durationS: 10, cpu: -1, priority: 0, json: true, samplesFile: bin },
        { out: () => {} },
      );
      const size = statSync(bin).size;
      console.log(`10 us for 10 s: ${r.stats.samples} samples, ${r.stats.overruns} overruns, ${r.end.samplesWritten} written, ${r.end.lost} lost, ${r.end.dropped} records dropped`);
      expect(r.final).not.toBeNull();
      expect(r.end.lost).toBe(0);
      expect(r.final!.lost).toBe(0);
      expect(r.end.samplesWritten).toBe(r.final!.samples);
      expect(r.stats.samples).toBe(r.final!.samples); // no interval record lost either
      expect(size).toBe(4 * r.final!.samples);
      expect(r.stats.samples + r.stats.overruns).toBeGreaterThanOrEqual(1_000_000); // every period of the 10 s
      expect(r.hist.total).toBe(r.final!.samples);
    } finally {
      rmSync(bin, { force: true });
    }
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
    // The sampler counts the 500 periods: 5 intervals, and maybe a partial one when the last wake-up overran.
    expect(r.stats.intervals + r.stats.partials).toBeGreaterThanOrEqual(4);
    expect(r.stats.samples + r.stats.overruns).toBeGreaterThanOrEqual(500);
    expect(r.end.stoppedBy).toBe("duration");
    expect(out[0]).toBe("RTT|  00:00:00  (user, 1000 us period, priority 0 (SCHED_OTHER), any CPU)");
    expect(out.filter((l) => l.startsWith("RTD|")).length).toBe(r.stats.intervals);
    expect(out.at(-1)).toMatch(/^RTS\|.*\|    00:00:0\d\/00:00:00$/); // measured time: a late last wake-up may add to it
    expect(r.hist.total).toBe(r.stats.samples); // every sample in the histogram
  });

  test("stopped before the first interval ends: the partial interval, then the summary", async () => {
    const out: string[] = [];
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const r = await runLatmus(
      { backend: "user", periodUs: 1000, intervalUs: 1_000_000, durationS: 0, cpu: -1, priority: 0, json: true },
      { out: (l) => out.push(l), signal: ac.signal },
    );
    expect(r.stats.intervals).toBe(0);
    expect(out.map((l) => JSON.parse(l).type)).toEqual(["start", "interval", "summary"]);
    expect(JSON.parse(out[1]!)).toMatchObject({ partial: true });
    expect(JSON.parse(out[2]!)).toMatchObject({ intervals: 0, partial_intervals: 1, records: 1, stopped_by: "signal" });
    expect(r.hist.total).toBe(r.stats.samples);
  });
});
