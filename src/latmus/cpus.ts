/** CPU lists of sysfs ("0-2,5"), as EVL's latmus reads them. */
import { readFileSync } from "node:fs";

export function parseCpuList(text: string): Set<number> {
  const out = new Set<number>();
  for (const part of text.trim().split(",")) {
    if (!part) continue;
    const [a, b] = part.split("-").map((x) => Number.parseInt(x, 10));
    if (!Number.isFinite(a!)) continue;
    for (let c = a!; c <= (Number.isFinite(b!) ? b! : a!); c++) out.add(c);
  }
  return out;
}

/** /sys/devices/system/cpu/isolated (empty when missing). */
export function isolatedCpus(): Set<number> {
  try {
    return parseCpuList(readFileSync("/sys/devices/system/cpu/isolated", "utf8"));
  } catch {
    return new Set();
  }
}
