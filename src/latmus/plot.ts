/**
 * A self-contained SVG of a latmus run: the per-sample histogram (1 µs
 * cells, log-scale counts, p50/p99/p99.9/max marked) and the latency over
 * time (min, avg, max of each interval). No scripts, no
 * external fonts or styles: any browser or rsvg-convert renders it.
 */
import { policyName, POLICY_KERNEL, SCHED_OTHER } from "./driver.ts";
import { hms, type LatmusEnd, type LatmusMeta } from "./format.ts";
import type { LatmusHistogram } from "./histogram.ts";
import type { LatmusStats } from "./stats.ts";

const W = 960;
const H = 840;
const LEFT = 90;
const RIGHT = 40;
const PLOT_W = W - LEFT - RIGHT;
const HIST = { top: 140, height: 250 };
const TIME = { top: 500, height: 240 };

const COLORS = { max: "#d62728", avg: "#1f77b4", min: "#2ca02c", overrun: "#ff7f0e", grid: "#e3e3e3", axis: "#333" };

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/** A 1-2-5 step giving about `target` ticks over `range`. */
export function niceStep(range: number, target: number): number {
  if (!(range > 0)) return 1;
  const raw = range / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** Tick label: as many decimals as the step needs. */
function tickText(v: number, step: number): string {
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return v.toFixed(Math.min(decimals, 6));
}

const f1 = (x: number) => x.toFixed(1);

function text(x: number, y: number, s: string, attrs = ""): string {
  return `<text x="${f1(x)}" y="${f1(y)}" ${attrs}>${escapeXml(s)}</text>`;
}

/** A legend row ending at the plot's right edge. */
function legend(y: number, items: [string, string, string][]): string {
  const out: string[] = [`<g class="legend" font-size="13">`];
  const width = items.reduce((w, [, label]) => w + 40 + label.length * 7.5, 0);
  let cx = LEFT + PLOT_W - width;
  for (const [color, label, kind] of items) {
    out.push(
      kind === "bar"
        ? `<rect x="${cx}" y="${y - 10}" width="14" height="12" fill="${color}" fill-opacity="0.8"/>`
        : kind === "marker"
          ? `<path d="M${cx + 7},${y - 10} l6,11 h-12 z" fill="${color}"/>`
          : `<line x1="${cx}" y1="${y - 4}" x2="${cx + 18}" y2="${y - 4}" stroke="${color}" stroke-width="2.5"/>`,
    );
    out.push(text(cx + 22, y, label));
    cx += 40 + label.length * 7.5;
  }
  out.push("</g>");
  return out.join("\n");
}

function yAxis(top: number, height: number, vmax: number, step: number, label: string, fmt: (v: number) => string): string {
  const out: string[] = [`<g class="y-axis" font-size="12" text-anchor="end">`];
  for (let v = 0; v <= vmax + step * 1e-6; v += step) {
    const y = top + height - (v / vmax) * height;
    out.push(`<line x1="${LEFT}" y1="${f1(y)}" x2="${LEFT + PLOT_W}" y2="${f1(y)}" stroke="${COLORS.grid}"/>`);
    out.push(`<line x1="${LEFT - 5}" y1="${f1(y)}" x2="${LEFT}" y2="${f1(y)}" stroke="${COLORS.axis}"/>`);
    out.push(text(LEFT - 8, y + 4, fmt(v)));
  }
  out.push(`<line x1="${LEFT}" y1="${top}" x2="${LEFT}" y2="${top + height}" stroke="${COLORS.axis}"/>`);
  out.push(text(24, top + height / 2, label, `text-anchor="middle" font-size="13" transform="rotate(-90 24 ${top + height / 2})"`));
  out.push("</g>");
  return out.join("\n");
}

function xAxis(top: number, height: number, lo: number, hi: number, step: number, label: string, fmt: (v: number) => string): string {
  const out: string[] = [`<g class="x-axis" font-size="12" text-anchor="middle">`];
  const base = top + height;
  out.push(`<line x1="${LEFT}" y1="${base}" x2="${LEFT + PLOT_W}" y2="${base}" stroke="${COLORS.axis}"/>`);
  const first = Math.ceil(lo / step - 1e-9) * step;
  for (let v = first; v <= hi + step * 1e-6; v += step) {
    const x = LEFT + ((v - lo) / (hi - lo)) * PLOT_W;
    out.push(`<line x1="${f1(x)}" y1="${base}" x2="${f1(x)}" y2="${base + 5}" stroke="${COLORS.axis}"/>`);
    out.push(text(x, base + 19, fmt(v)));
  }
  out.push(text(LEFT + PLOT_W / 2, base + 40, label, `font-size="13"`));
  out.push("</g>");
  return out.join("\n");
}

/** The histogram's marks: p50, p99, p99.9 and max, ns. */
const MARKS: [string, "p50" | "p99" | "p999" | "max", string][] = [
  ["p50", "p50", "#2ca02c"],
  ["p99", "p99", "#ff7f0e"],
  ["p99.9", "p999", "#9467bd"],
  ["max", "max", "#d62728"],
];

/**
 * The per-sample histogram: one bar per 1 µs cell from the first to the
 * last non-empty one, then the outliers' bar; counts on a log scale
 * (decades), with p50, p99, p99.9 and the max marked.
 */
function histogram(stats: LatmusStats, hist: LatmusHistogram | undefined): string {
  const { top, height } = HIST;
  const out: string[] = [];
  const total = hist?.total ?? 0;
  out.push(text(LEFT, top - 36, `Histogram of every sample's latency (${total} samples, 1 µs cells, log scale)`, `font-size="15" font-weight="bold"`));
  if (!hist || !total) {
    out.push(text(LEFT + PLOT_W / 2, top + height / 2, "no data", `text-anchor="middle" font-size="14"`));
    return out.join("\n");
  }
  const c = hist.counts;
  let first = 0;
  while (first < hist.cells && !c[first]) first++;
  let last = hist.cells - 1;
  while (last > first && !c[last]) last--;
  const outliers = hist.outliers;
  const lo = Math.min(first, last);
  const bars = last - lo + 1 + (outliers ? 1 : 0);
  let peak = 1;
  for (let i = 0; i <= hist.cells; i++) peak = Math.max(peak, c[i]!);
  const decades = Math.max(1, Math.ceil(Math.log10(peak) + 1e-9));
  const Y = (n: number) => top + height - ((Math.log10(n) + 0.3) / (decades + 0.3)) * height;
  // Log axis: 1, 10, 100, ...
  const axis: string[] = [`<g class="y-axis" font-size="12" text-anchor="end">`];
  for (let d = 0; d <= decades; d++) {
    const y = Y(10 ** d);
    axis.push(`<line x1="${LEFT}" y1="${f1(y)}" x2="${LEFT + PLOT_W}" y2="${f1(y)}" stroke="${COLORS.grid}"/>`);
    axis.push(text(LEFT - 8, y + 4, String(10 ** d)));
  }
  axis.push(`<line x1="${LEFT}" y1="${top}" x2="${LEFT}" y2="${top + height}" stroke="${COLORS.axis}"/>`);
  axis.push(text(24, top + height / 2, "samples (log)", `text-anchor="middle" font-size="13" transform="rotate(-90 24 ${top + height / 2})"`));
  axis.push("</g>");
  out.push(axis.join("\n"));
  const hiUs = lo + bars;
  const xStep = Math.max(1, niceStep(bars, 10));
  const X = (usv: number) => LEFT + ((usv - lo) / bars) * PLOT_W;
  out.push(xAxis(top, height, lo, hiUs, xStep, `latency (µs), 1 µs cells${outliers ? `, last bar: ${outliers} samples of ${hist.cells} µs and more` : ""}`, (v) => String(Math.round(v))));
  const barW = PLOT_W / bars;
  const g = [`<g id="hist-samples" fill="${COLORS.avg}" fill-opacity="0.85" data-cells="${hist.cells}" data-total="${total}">`];
  const bar = (i: number, n: number, label: string, color?: string) => {
    if (!n) return;
    const y = Y(n);
    g.push(`<rect x="${f1(LEFT + i * barW + barW * 0.05)}" y="${f1(y)}" width="${f1(Math.max(0.5, barW * 0.9))}" height="${f1(top + height - y)}"${color ? ` fill="${color}"` : ""}><title>${escapeXml(`${label}: ${n} samples`)}</title></rect>`);
  };
  for (let cell = lo; cell <= last; cell++) bar(cell - lo, c[cell]!, `${cell}–${cell + 1} µs`);
  if (outliers) bar(last - lo + 1, outliers, `≥ ${hist.cells} µs (outliers)`, COLORS.max);
  g.push("</g>");
  out.push(g.join("\n"));
  // The marks: a dashed line each, placed by value (outliers' bar beyond the last cell).
  const p = hist.percentiles(stats.worstNs);
  const marks: string[] = [`<g id="hist-marks" font-size="12">`];
  const legendItems: [string, string, string][] = [];
  MARKS.forEach(([label, key, color], k) => {
    const v = p[key];
    if (!Number.isFinite(v)) return;
    const usv = v / 1000;
    const x = usv >= hist.cells ? X(last + 1 + 0.5) : X(Math.min(usv, last + 1));
    const txt = `${label} ${usv.toFixed(3)} µs`;
    marks.push(`<line x1="${f1(x)}" y1="${top}" x2="${f1(x)}" y2="${top + height}" stroke="${color}" stroke-width="1.6" stroke-dasharray="5,3" data-mark="${label}" data-ns="${v}"/>`);
    marks.push(text(x + 4, top + 14 + k * 15, txt, `fill="${color}"`));
    legendItems.push([color, txt, "line"]);
  });
  marks.push("</g>");
  out.push(marks.join("\n"));
  out.push(legend(top - 12, legendItems));
  return out.join("\n");
}

function timeline(stats: LatmusStats, minUs: Float64Array, avgUs: Float64Array, maxUs: Float64Array): string {
  const h = stats.history;
  const n = h.length;
  const { top, height } = TIME;
  const out: string[] = [];
  out.push(text(LEFT, top - 36, "Latency over time (min, avg, max of each interval)", `font-size="15" font-weight="bold"`));
  out.push(legend(top - 12, [
    [COLORS.max, "max", "line"],
    [COLORS.avg, "avg", "line"],
    [COLORS.min, "min", "line"],
    [COLORS.overrun, "interval with overruns", "marker"],
  ]));
  if (!n) {
    out.push(text(LEFT + PLOT_W / 2, top + height / 2, "no data", `text-anchor="middle" font-size="14"`));
    return out.join("\n");
  }
  let peak = 0;
  for (let i = 0; i < n; i++) if (Number.isFinite(maxUs[i]!)) peak = Math.max(peak, maxUs[i]!);
  const yStep = niceStep(Math.max(peak, 1e-3), 6);
  const yMax = Math.ceil(peak / yStep + 1e-9) * yStep || yStep;
  out.push(yAxis(top, height, yMax, yStep, "latency (µs)", (v) => tickText(v, yStep)));
  const tEnd = h.t[n - 1]!;
  const t0 = 0;
  const xStep = niceStep(tEnd - t0, 10);
  out.push(xAxis(top, height, t0, tEnd, xStep, "elapsed time (s), each point is the end of one interval", (v) => tickText(v, xStep)));
  const X = (t: number) => LEFT + ((t - t0) / (tEnd - t0 || 1)) * PLOT_W;
  const Y = (v: number) => top + height - (v / yMax) * height;
  const line = (id: string, arr: Float64Array, color: string) => {
    const pts: string[] = [];
    for (let i = 0; i < n; i++) if (Number.isFinite(arr[i]!)) pts.push(`${f1(X(h.t[i]!))},${f1(Y(arr[i]!))}`);
    const dots = n <= 120 ? pts.map((p) => `<circle cx="${p.split(",")[0]}" cy="${p.split(",")[1]}" r="2.5"/>`).join("") : "";
    return `<g id="${id}" data-points="${pts.length}" fill="${color}"><polyline points="${pts.join(" ")}" fill="none" stroke="${color}" stroke-width="1.8"/>${dots}</g>`;
  };
  out.push(line("series-min", minUs, COLORS.min));
  out.push(line("series-avg", avgUs, COLORS.avg));
  out.push(line("series-max", maxUs, COLORS.max));
  const marks: string[] = [`<g id="overruns" fill="${COLORS.overrun}">`];
  for (let i = 0; i < n; i++) {
    if (!h.overruns[i]) continue;
    marks.push(`<path d="M${f1(X(h.t[i]!))},${top + 2} l6,11 h-12 z"><title>${escapeXml(`${h.overruns[i]} overruns in the interval ending at ${h.t[i]!.toFixed(3)} s`)}</title></path>`);
  }
  marks.push("</g>");
  out.push(marks.join("\n"));
  return out.join("\n");
}

/** The whole SVG document. */
export function renderLatmusSvg(stats: LatmusStats, meta: LatmusMeta, end: LatmusEnd, hist?: LatmusHistogram): string {
  const h = stats.history;
  const n = h.length;
  const toUs = (a: Float64Array) => {
    const b = new Float64Array(n);
    for (let i = 0; i < n; i++) b[i] = a[i]! / 1000;
    return b;
  };
  const minUs = toUs(h.min);
  const avgUs = toUs(h.avg);
  const maxUs = toUs(h.max);
  const sched =
    meta.policy === SCHED_OTHER || meta.policy === POLICY_KERNEL ? policyName(meta.policy) : `${policyName(meta.policy)} priority ${meta.priority}`;
  const cpu = meta.cpu >= 0 ? `CPU${meta.cpu}` : "any CPU";
  const ctx = meta.context === "irq" ? "timer IRQ handler" : meta.context === "kernel" ? "kernel thread" : "user thread";
  const title = `latmus: ${ctx} timer latency (${meta.backend} backend), ${meta.periodUs} µs period, ${sched}, ${cpu}`;
  const subtitle = `Top: every sample. Bottom: min, avg and max of each ${meta.intervalUs / 1000} ms interval. Latency = actual − expected wake-up time.`;
  const us = (ns: number) => (Number.isFinite(ns) ? `${(ns / 1000).toFixed(3)} µs` : "-");
  const summary =
    `Run: ${hms(stats.elapsedNs / 1e9)} (${stats.intervals} intervals, ${stats.samples} samples). ` +
    `Best ${us(stats.bestNs)}, average ${us(stats.avgNs)}, worst ${us(stats.worstNs)}; ` +
    `${stats.overruns} overruns, ${end.dropped} records dropped.`;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<title>${escapeXml(title)}: histogram of every sample's latency, and latency over time</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    text(W / 2, 32, title, `text-anchor="middle" font-size="19" font-weight="bold"`),
    text(W / 2, 56, subtitle, `text-anchor="middle" font-size="12" fill="#555"`),
    histogram(stats, hist),
    timeline(stats, minUs, avgUs, maxUs),
    text(W / 2, H - 14, summary, `text-anchor="middle" font-size="13"`),
    `</svg>`,
    "",
  ].join("\n");
}
