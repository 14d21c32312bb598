/**
 * Re-render BENCHMARKS.md and bench/chart.svg from bench/results.json, with
 * no new measurement: after an edit of bench/report.ts's text. The figures
 * stay those of the run that wrote results.json.
 *
 *   bun bench/render.ts
 */
import { readFileSync, writeFileSync } from "node:fs";
import { renderChart, renderMarkdown, type Summary } from "./report.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const { summary } = JSON.parse(readFileSync(`${ROOT}bench/results.json`, "utf8")) as { summary: Summary };
writeFileSync(`${ROOT}bench/chart.svg`, renderChart(summary));
writeFileSync(`${ROOT}BENCHMARKS.md`, renderMarkdown(summary));
