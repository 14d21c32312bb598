/** latmus: timer latency measured by a driver, read zero-copy through a cross-buffer. */
export { LatmusRecord, encodeLatmusRecord, type LatmusSample } from "./record.ts";
export {
  UserLatmus, policyName, SCHED_FIFO, SCHED_OTHER, HCELLS_DEFAULT, HCELLS_MAX,
  type LatmusInfo, type LatmusStartOptions, type LatmusRunOptions, type LatmusContext,
} from "./driver.ts";
export { FrameReader, encodeFrame, F_INTERVAL, F_HIST, F_SAMPLES, F_END, FF_PARTIAL, type FrameSink, type LatmusEndInfo } from "./frames.ts";
export { LatmusHistogram } from "./histogram.ts";
export { gnuplotText, gnuplotEnv, ctime, type GnuplotEnv } from "./gnuplot.ts";
export { LatmusStats, LatmusHistory } from "./stats.ts";
export {
  headerLines, intervalLine, summaryLines, noteLines, weirdLine, startJson, intervalJson, summaryJson, histogramJson, hms, HEADER_EVERY,
  type LatmusMeta, type LatmusEnd,
} from "./format.ts";
export { renderLatmusSvg, niceStep, escapeXml } from "./plot.ts";
export { runLatmus, LatmusPrinter, LatmusUnavailable, LatmusExit, contextOf, KERNEL_DEVICE, type LatmusOptions, type LatmusIO, type LatmusResult } from "./run.ts";
