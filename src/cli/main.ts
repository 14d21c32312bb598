#!/usr/bin/env bun
/**
 * xbuf: the command-line tool of the package.
 *
 *   xbuf ls | gc | stat NAME | cat NAME | write NAME | latmus [options] | bridge out|in ...
 *
 * Every command first takes stale names off /dev/shm (xbuf_gc(); ls shows
 * them as stale instead).
 *
 * Exit codes: 0 done, 1 failed, 2 bad arguments (usage and a reason on
 * stderr), 130 interrupted (cat, write; latmus ends with its summary, 0;
 * bridge drains what is in flight, 0, and a second Ctrl-C is 130).
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
  bridge out NAME --subject S [--stream ST [--create]] [--record N [--batch K] | --frames]
                              inbound traffic to NATS JetStream (at least once, deduplicated)
  bridge in --subject S NAME [--stream ST [--create]] [--durable D] [--frames]
                              a durable JetStream consumer into the outbound ring

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

bridge options (see docs/BRIDGE.md):
  -s, --subject S             the subject published to (out) or consumed (in)
      --stream ST             the stream (default: the one that captures S)
      --create                make the stream ST when it is missing
  -r, --record N              out: N-byte records, one message each...
  -k, --batch K               out: ...or up to K records per message
      --frames                length-prefixed frames (u32 little-endian), one message each
                              (default: bytes as they come, at most 64 KiB per message)
  -w, --window W              unacknowledged messages at most (default 256)
      --id ID                 out: identity in message ids and the resume key
                              (default NAME:SUBJECT)
      --bucket B              out: KV bucket of resume positions (default xbuf-bridge)
  -d, --durable D             in: the durable consumer (default xbuf-in-NAME)
      --server URL[,URL]      NATS server(s) (default $NATS_URL, else nats://127.0.0.1:4222)
      --creds FILE            a NATS creds file (default $NATS_CREDS)
      --token TOKEN           an auth token (default $NATS_TOKEN; the variable keeps it out of ps)
`;

/** Loaded on use: the bridge needs the NATS packages (optional peer dependencies), the rest does not. */
const bridge = async (args: string[]) => (await import("./bridge.ts")).bridge(args);

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = { ls, gc, stat, cat, write, latmus, bridge };

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
