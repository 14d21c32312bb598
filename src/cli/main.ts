#!/usr/bin/env bun
/**
 * xbuf: the command-line tool of the package.
 *
 *   xbuf ls | stat NAME | cat NAME | write NAME | latmus [options]
 *
 * Exit codes: 0 done, 1 failed, 2 bad arguments (usage and a reason on
 * stderr), 130 interrupted (cat, write; latmus ends with its summary, 0).
 */
import { XBufError } from "../errors.ts";
import { UsageError } from "./args.ts";
import { cat } from "./cat.ts";
import { latmus } from "./latmus.ts";
import { ls } from "./ls.ts";
import { stat } from "./stat.ts";
import { write } from "./write.ts";

export const USAGE = `usage: xbuf <command> [options]

commands:
  ls [--json]                 public cross-buffers (live creator) and their ring fill levels
  stat NAME [--json]          rings and counters of a cross-buffer
  cat NAME [--bytes N]        inbound traffic to stdout, until the driver lets go (or N bytes)
  write NAME                  stdin to outbound traffic, until end of file
  latmus [options]            timer latency monitor, as EVL's latmus

latmus options (EVL's latmus letters and names; see docs/LATMUS.md):
  -u, --user                  measure a user-space thread (default)
  -i, --irq                   measure the kernel module's hrtimer handler
  -k, --kernel                measure a kernel thread the module's timer wakes
  -p, --period US             sampling period, microseconds (default 1000, max 1000000)
  -T, --timeout T[d|h|m|s]    stop after T (seconds by default), 0 = until Ctrl-C
  -P, --priority N            SCHED_FIFO priority 1-99, 0 = SCHED_OTHER (default 90)
  -c, --cpu N                 pin the sampler to CPU N (an isolated one if N is not)
  -C, --force-cpu N           pin the sampler to CPU N, isolated or not
  -A, --max-abort US          exit 102 once the maximum latency exceeds US
  -l, --lines N               repeat the RTT/RTH header every N lines, 0 = never (21)
  -q, --quiet                 no header nor data line (needs -T)
  -v, --verbose[=N]           verbosity (default 1)
  -H, --histogram N           histogram cells of 1 us, 1-1000 (default 200)
  -g, --plot FILE|-           write the histogram in EVL's gnuplot format
  -b, --background            run detached (implies -q)
  -m, --measure, -K, --keep-going   accepted, as EVL's (nothing else to do here)
      --interval MS           reporting interval, milliseconds (default 1000)
      --backend user|kernel|auto   where the ring lives (default: what the context needs)
  -j, --json                  one JSON object per interval, a summary with the histogram
      --svg FILE              write the histogram and latency over time as SVG
      --samples FILE          every raw sample (u32 ns, little-endian; CSV if FILE.csv)
  -h, --help                  this text
`;

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = { ls, stat, cat, write, latmus };

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === "-h" || command === "--help" || command === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.includes("-h") || args.includes("--help")) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    if (!command) throw new UsageError("missing command");
    const run = COMMANDS[command];
    if (!run) throw new UsageError(`unknown command '${command}'`);
    return await run(args);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${USAGE}\nxbuf${command && COMMANDS[command] ? " " + command : ""}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof XBufError) {
      process.stderr.write(`xbuf${command ? " " + command : ""}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) {
  // A reader of stdout that goes away (xbuf cat NAME | head) ends us quietly.
  process.stdout.on?.("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
  });
  process.exitCode = await main(process.argv.slice(2));
}
