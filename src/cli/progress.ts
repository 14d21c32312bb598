/**
 * Live status on stderr, for people: only when stderr is a terminal (and,
 * for commands whose output goes to stdout, only when that output does not
 * go to the same terminal). Quiet when piped. At most ~5 updates a second.
 */
export type Progress = (status: string) => void;

export function progress(options: { stdoutIsData: boolean }): Progress | undefined {
  if (!process.stderr.isTTY) return undefined;
  if (options.stdoutIsData && process.stdout.isTTY) return undefined;
  let last = 0;
  let shown = false;
  return (status: string) => {
    if (!status) {
      if (shown) process.stderr.write("\r\x1b[K");
      shown = false;
      return;
    }
    const now = performance.now();
    if (shown && now - last < 200) return;
    last = now;
    shown = true;
    process.stderr.write(`\r\x1b[K${status}`);
  };
}

export function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}
