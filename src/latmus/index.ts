/** latmus: timer latency measured by a driver, read zero-copy through a cross-buffer. */
export { LatmusRecord, encodeLatmusRecord, type LatmusSample } from "./record.ts";
export { UserLatmus, policyName, SCHED_FIFO, SCHED_OTHER, type LatmusInfo, type LatmusStartOptions } from "./driver.ts";
export { LatmusStats, LatmusHistory } from "./stats.ts";
export {
  headerLines, intervalLine, summaryLines, startJson, intervalJson, summaryJson, hms, HEADER_EVERY,
  type LatmusMeta, type LatmusEnd,
} from "./format.ts";
export { renderLatmusSvg, histogramBins, niceStep, escapeXml } from "./plot.ts";
export { runLatmus, LatmusUnavailable, KERNEL_DEVICE, type LatmusOptions, type LatmusIO, type LatmusResult } from "./run.ts";
