/** xbuf latmus: the latency monitor's command line. */
import { writeFileSync } from "node:fs";
import { LatmusUnavailable, runLatmus, type LatmusOptions } from "../latmus/run.ts";
import { renderLatmusSvg } from "../latmus/plot.ts";
import { XBUF_LATMUS_MAX_PERIOD_US } from "../latmus/driver.ts";
import { num, parse, UsageError } from "./args.ts";
import { progress } from "./progress.ts";

/** Parse latmus's options (throws UsageError). */
export function latmusOptions(args: string[]): LatmusOptions & { plot?: string } {
  const { values } = parse(
    args,
    {
      period: { type: "string", short: "p" },
      interval: { type: "string", short: "i" },
      duration: { type: "string", short: "T" },
      cpu: { type: "string", short: "c" },
      priority: { type: "string", short: "P" },
      backend: { type: "string", short: "b" },
      json: { type: "boolean", short: "j" },
      plot: { type: "string" },
    },
    { min: 0, max: 0, names: "" },
  );
  const periodUs = num("--period", values.period, 1000, { min: 1, max: XBUF_LATMUS_MAX_PERIOD_US, integer: true });
  const intervalMs = num("--interval", values.interval, 1000, { min: 0.001, max: 3_600_000 });
  const intervalUs = Math.round(intervalMs * 1000);
  if (intervalUs < periodUs) throw new UsageError(`--interval (${intervalMs} ms) must be at least the period (${periodUs} us)`);
  const durationS = num("--duration", values.duration, 0, { min: 0, max: 365 * 86400 });
  const cpu = num("--cpu", values.cpu, -1, { min: 0, max: 1023, integer: true });
  const priority = num("--priority", values.priority, 90, { min: 0, max: 99, integer: true });
  const backend = values.backend ?? "auto";
  if (backend !== "user" && backend !== "kernel" && backend !== "auto") {
    throw new UsageError(`--backend must be 'user', 'kernel' or 'auto', got '${backend}'`);
  }
  if (values.plot !== undefined && !String(values.plot).length) throw new UsageError("--plot needs a file name");
  return {
    backend,
    periodUs,
    intervalUs,
    durationS,
    cpu: values.cpu === undefined ? -1 : cpu,
    priority,
    json: !!values.json,
    ...(values.plot !== undefined ? { plot: String(values.plot) } : {}),
  };
}

export async function latmus(args: string[]): Promise<number> {
  const opts = latmusOptions(args);
  const show = progress({ stdoutIsData: true });
  let result;
  try {
    result = await runLatmus(opts, {
      out: (line) => process.stdout.write(line + "\n"),
      ...(show ? { progress: show } : {}),
    });
  } catch (e) {
    if (e instanceof LatmusUnavailable) {
      process.stderr.write(`xbuf latmus: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  if (opts.plot) {
    writeFileSync(opts.plot, renderLatmusSvg(result.stats, result.meta, result.end));
    if (process.stderr.isTTY) process.stderr.write(`xbuf latmus: plot written to ${opts.plot}\n`);
  }
  return result.end.stoppedBy === "error" ? 1 : 0;
}
