/**
 * xbuf latmus: the latency monitor's command line, EVL's options first
 * (libevl benchmarks/latmus.c): where a letter or a long name is EVL's, it
 * means what it means there.
 */
import { existsSync, writeFileSync } from "node:fs";
import { LatmusExit, LatmusUnavailable, runLatmus, type LatmusOptions } from "../latmus/run.ts";
import { renderLatmusSvg } from "../latmus/plot.ts";
import { gnuplotEnv, gnuplotText } from "../latmus/gnuplot.ts";
import { isolatedCpus } from "../latmus/cpus.ts";
import { HCELLS_DEFAULT, HCELLS_MAX, XBUF_LATMUS_MAX_PERIOD_US, type LatmusContext } from "../latmus/driver.ts";
import { num, parse, UsageError } from "./args.ts";
import { progress } from "./progress.ts";

/** An EVL option that needs EVL's core: one line, exit 2, no usage. */
export class NeedsEvl extends Error {}

const NEEDS_EVL: Record<string, string> = {
  t: "-t/--tune calibrates the EVL core timer's gravity: there is no EVL core here",
  tune: "-t/--tune calibrates the EVL core timer's gravity: there is no EVL core here",
  r: "-r/--reset resets the EVL core timer's gravity: there is no EVL core here",
  reset: "-r/--reset resets the EVL core timer's gravity: there is no EVL core here",
  s: "-s/--sirq measures EVL's synthetic in-band IRQ: there is no EVL core here",
  sirq: "-s/--sirq measures EVL's synthetic in-band IRQ: there is no EVL core here",
  Z: "-Z/--oob-gpio needs EVL's out-of-band GPIO and a latmon board",
  "oob-gpio": "-Z/--oob-gpio needs EVL's out-of-band GPIO and a latmon board",
  z: "-z/--inband-gpio needs a latmon board (EVL's GPIO response-time test)",
  "inband-gpio": "-z/--inband-gpio needs a latmon board (EVL's GPIO response-time test)",
  I: "-I/--gpio-in configures EVL's GPIO test, which needs a latmon board",
  "gpio-in": "-I/--gpio-in configures EVL's GPIO test, which needs a latmon board",
  O: "-O/--gpio-out configures EVL's GPIO test, which needs a latmon board",
  "gpio-out": "-O/--gpio-out configures EVL's GPIO test, which needs a latmon board",
};

export type LatmusCliOptions = LatmusOptions & {
  svg?: string;
  gnuplot?: string;
  background: boolean;
  /** Notes for stderr (EVL's messages about the options). */
  warnings: string[];
};

/** EVL's -T: <t>[d|h|m|s], seconds by default. */
export function parseTimeout(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([dhms]?)$/.exec(s.trim());
  if (!m) throw new UsageError(`--timeout must be <t>[d|h|m|s] with t >= 0, got '${s}'`);
  const mult = { d: 86400, h: 3600, m: 60, s: 1, "": 1 }[m[2] as "d" | "h" | "m" | "s" | ""];
  const v = Number(m[1]) * mult;
  if (v > 365 * 86400) throw new UsageError(`--timeout must be at most 365d, got '${s}'`);
  return v;
}

/** Parse latmus's options (throws UsageError, NeedsEvl). */
export function latmusOptions(args: string[]): LatmusCliOptions {
  // EVL's optional arguments: -v[=N] / --verbose[=N]; node's parser has none.
  let verbosity = 1;
  const rest: string[] = [];
  for (const a of args) {
    const v = /^(?:-v|--verbose)(?:=?(\d+))?$/.exec(a);
    if (v) verbosity = v[1] === undefined ? 1 : Number(v[1]);
    else rest.push(a);
  }
  for (const a of rest) {
    const long = /^--([a-z-]+)/.exec(a)?.[1];
    const short = /^-([A-Za-z])/.exec(a)?.[1];
    const why = (long && NEEDS_EVL[long]) || (!long && short && NEEDS_EVL[short]);
    if (why) throw new NeedsEvl(why);
  }
  const { values } = parse(
    rest,
    {
      // EVL's
      irq: { type: "boolean", short: "i" },
      kernel: { type: "boolean", short: "k" },
      user: { type: "boolean", short: "u" },
      measure: { type: "boolean", short: "m" },
      quiet: { type: "boolean", short: "q" },
      background: { type: "boolean", short: "b" },
      "keep-going": { type: "boolean", short: "K" },
      period: { type: "string", short: "p" },
      timeout: { type: "string", short: "T" },
      "max-abort": { type: "string", short: "A" },
      "maxlat-abort": { type: "string" },
      lines: { type: "string", short: "l" },
      plot: { type: "string", short: "g" },
      histogram: { type: "string", short: "H" },
      priority: { type: "string", short: "P" },
      cpu: { type: "string", short: "c" },
      "force-cpu": { type: "string", short: "C" },
      // xbuf's
      duration: { type: "string" },
      interval: { type: "string" },
      backend: { type: "string" },
      json: { type: "boolean", short: "j" },
      svg: { type: "string" },
      samples: { type: "string" },
    },
    { min: 0, max: 0, names: "" },
  );
  const warnings: string[] = [];
  const periodUs = num("--period", values.period, 1000, { min: 1, max: XBUF_LATMUS_MAX_PERIOD_US, integer: true });
  const intervalMs = num("--interval", values.interval, 1000, { min: 0.001, max: 3_600_000 });
  const intervalUs = Math.round(intervalMs * 1000);
  if (intervalUs < periodUs) throw new UsageError(`--interval (${intervalMs} ms) must be at least the period (${periodUs} us)`);
  const t = values.timeout ?? values.duration;
  const durationS = t === undefined ? 0 : parseTimeout(String(t));
  const priority = num("--priority", values.priority, 90, { min: 0, max: 99, integer: true });
  const hcells = num("--histogram", values.histogram, HCELLS_DEFAULT, { min: 1, max: HCELLS_MAX, integer: true });
  const lines = num("--lines", values.lines, 21, { min: 0, max: 1_000_000, integer: true });
  const abortArg = values["max-abort"] ?? values["maxlat-abort"];
  const maxAbortUs = abortArg === undefined ? 0 : num("--max-abort", abortArg, 0, { min: 1, max: 2_000_000, integer: true });
  // -c: as EVL, a CPU that is not isolated gives way to an isolated one if there is any; -C takes it as is.
  let cpu = -1;
  if (values["force-cpu"] !== undefined) cpu = num("--force-cpu", values["force-cpu"], -1, { min: 0, max: 1023, integer: true });
  else if (values.cpu !== undefined) {
    cpu = num("--cpu", values.cpu, -1, { min: 0, max: 1023, integer: true });
    const iso = [...isolatedCpus()].sort((a, b) => a - b);
    if (iso.length && !iso.includes(cpu)) {
      warnings.push(`CPU${cpu} is not isolated, picking CPU${iso[0]} (-C${cpu} forces it)`);
      cpu = iso[0]!;
    }
  }
  const contexts = (["user", "irq", "kernel"] as const).filter((c) => values[c]);
  if (contexts.length > 1) throw new UsageError("only one of -u, -k or -i");
  const backend = values.backend ?? "auto";
  if (backend !== "user" && backend !== "kernel" && backend !== "auto") {
    throw new UsageError(`--backend must be 'user', 'kernel' or 'auto', got '${backend}'`);
  }
  const context: LatmusContext = contexts[0] ?? (backend === "kernel" ? "irq" : "user");
  if (backend !== "auto" && backend !== (context === "user" ? "user" : "kernel")) {
    throw new UsageError(`--${context} runs on the ${context === "user" ? "user" : "kernel"} backend, not --backend ${backend}`);
  }
  if (values.quiet) verbosity = 0;
  if (!durationS && !verbosity) {
    warnings.push("--quiet requires --timeout, ignoring --quiet");
    verbosity = 1;
  }
  if (values.background && verbosity) {
    warnings.push("--background requires --quiet, taming verbosity down");
    verbosity = 0;
  }
  for (const [name, v] of [["--plot", values.plot], ["--svg", values.svg], ["--samples", values.samples]] as const) {
    if (v !== undefined && !String(v).length) throw new UsageError(`${name} needs a file name`);
  }
  if (values.plot !== undefined && values.plot !== "-" && existsSync(String(values.plot))) {
    throw new LatmusUnavailable(`declining to overwrite ${values.plot}`);
  }
  // The deterministic mode (tests, demos): XBUF_LATMUS_FAKE_NS="500,1500,..." replaces the clock's latencies.
  const fakeEnv = process.env.XBUF_LATMUS_FAKE_NS;
  const fake = fakeEnv ? fakeEnv.split(",").map((x) => Number(x)) : undefined;
  if (fake && (fake.some((x) => !Number.isInteger(x) || x < 0 || x >= 2 ** 32) || fake.length > 4096)) {
    throw new UsageError("XBUF_LATMUS_FAKE_NS must list at most 4096 latencies in ns, 0 to 2^32 - 1");
  }
  return {
    ...(fake ? { fake } : {}),
    backend,
    context,
    periodUs,
    intervalUs,
    durationS,
    cpu,
    priority,
    json: !!values.json,
    hcells,
    lines,
    verbosity,
    ...(maxAbortUs ? { maxAbortUs } : {}),
    ...(values.samples !== undefined ? { samplesFile: String(values.samples) } : {}),
    ...(values.svg !== undefined ? { svg: String(values.svg) } : {}),
    ...(values.plot !== undefined ? { gnuplot: String(values.plot) } : {}),
    background: !!values.background,
    warnings,
  };
}

/** EVL's -b: the same command again, detached, quiet; this one returns at once. */
async function background(args: string[]): Promise<number> {
  const { spawn } = await import("node:child_process");
  const rest = args.filter((a) => a !== "-b" && a !== "--background");
  const deno = (globalThis as { Deno?: { execPath(): string; mainModule: string } }).Deno;
  const cmd = deno
    ? [deno.execPath(), ["run", "-A", new URL(deno.mainModule).pathname, "latmus", "-q", ...rest]]
    : [process.execPath, [process.argv[1]!, "latmus", "-q", ...rest]];
  const child = spawn(cmd[0] as string, cmd[1] as string[], { detached: true, stdio: "ignore" });
  child.unref();
  return 0;
}

export async function latmus(args: string[]): Promise<number> {
  let opts: LatmusCliOptions;
  try {
    opts = latmusOptions(args);
  } catch (e) {
    if (e instanceof NeedsEvl || e instanceof LatmusUnavailable) {
      process.stderr.write(`xbuf latmus: ${e.message}\n`);
      return e instanceof NeedsEvl ? 2 : 1;
    }
    throw e;
  }
  for (const w of opts.warnings) process.stderr.write(`${w}\n`);
  if (opts.background) return background(args);
  const show = progress({ stdoutIsData: true });
  const version = `none (no EVL core: xbuf ${process.env.npm_package_version ?? "0.1.0"})`;
  const start = new Date();
  let result;
  try {
    result = await runLatmus(opts, {
      out: (line) => process.stdout.write(line + "\n"),
      note: (line) => process.stderr.write(`xbuf latmus: ${line}\n`),
      ...(show ? { progress: show } : {}),
      beforeSummary: ({ stats, meta, hist }) => {
        if (!opts.gnuplot) return;
        const text = gnuplotText(stats, meta, hist, gnuplotEnv(start, version));
        if (opts.gnuplot === "-") process.stdout.write(text);
        else writeFileSync(opts.gnuplot, text, { flag: "wx" });
      },
    });
  } catch (e) {
    if (e instanceof LatmusUnavailable) {
      process.stderr.write(`xbuf latmus: ${e.message}\n`);
      return 1;
    }
    if (e instanceof LatmusExit) {
      process.stderr.write(`${e.message}\n`);
      return e.code;
    }
    throw e;
  }
  if (opts.svg) {
    writeFileSync(opts.svg, renderLatmusSvg(result.stats, result.meta, result.end, result.hist));
    if (process.stderr.isTTY) process.stderr.write(`xbuf latmus: plot written to ${opts.svg}\n`);
  }
  return result.end.stoppedBy === "error" ? 1 : 0;
}
