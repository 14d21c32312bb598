#!/usr/bin/env bun
/**
 * xbuf: the command-line tool of the package.
 *
 *   xbuf ls | gc | stat NAME | cat NAME | write NAME | latmus [options]
 *
 * Every command first takes stale names off /dev/shm (xbuf_gc(); ls shows
 * them as stale instead).
 *
 * Exit codes: 0 done, 1 failed, 2 bad arguments (usage and a reason on
 * stderr), 130 interrupted (cat, write; latmus ends with its summary, 0).
 */
import { XBufError } from "../errors.ts";
import { UsageError } from "./args.ts";
import { cat } from "./cat.ts";
import { collect, gc } from "./gc.ts";
import { latmus } from "./latmus.ts";
import { ls } from "./ls.ts";
import { stat } from "./stat.ts";
import { write } from "./write.ts";

export const USAGE = `usage: xbuf <command> [options]

commands:
  ls [--json]                 public cross-buffers and their ring fill levels; stale
                              names (all holders died) are removed and shown as stale
  gc                          remove stale names from /dev/shm (every command does)
  stat NAME [--json]          rings and counters of a cross-buffer
  cat NAME [--bytes N]        inbound traffic to stdout, until the driver ends the stream (or N bytes)
  write NAME                  stdin to outbound traffic, until end of file
  latmus [options]            timer latency monitor, as EVL's latmus

latmus options:
  -p, --period US             sampling period, microseconds (default 1000, max 1000000)
  -i, --interval MS           reporting interval, milliseconds (default 1000)
  -T, --duration S            seconds to run, 0 = until Ctrl-C (default 0)
  -c, --cpu N                 pin the sampler thread to CPU N (default: not pinned)
  -P, --priority N            SCHED_FIFO priority 1-99, 0 = SCHED_OTHER (default 90;
                              SCHED_OTHER when the process may not use SCHED_FIFO)
  -b, --backend user|kernel|auto
                              sampler: a user-space thread, or the kernel module's
                              hrtimer (default auto: the kernel when xbuf.ko is loaded)
  -j, --json                  one JSON object per interval, then a summary object
      --plot FILE.svg         write a latency histogram and a latency-over-time chart
  -h, --help                  this text
`;

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = { ls, gc, stat, cat, write, latmus };

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
    if (command !== "ls" && command !== "gc") collect(); // no litter: whatever ran before us
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
