/**
 * The event loop's turn.
 *
 * A step of `for await (const view of xb)` or `recordBatches()`, a read()
 * with the bytes there, a write() with room: each resolves through a
 * promise that is already resolved, so the code after its `await` runs as
 * a microtask, and a runtime runs no timer, no I/O callback and no other
 * macrotask until its microtask queue is empty. While a peer keeps the ring
 * from ever emptying (or from filling), a loop over those calls never
 * leaves the microtask queue: timers, I/O, child processes and everything
 * else of the process starve, for as long as the peer keeps up (issue 14:
 * the QEMU guest's Bun soak, whose in-kernel writers refilled the inbound
 * ring faster than Bun read it; its 1 s sampling timer never fired and the
 * run never ended).
 *
 * So every CHECK_STEPS steps that did not wait, turn() looks at the clock.
 * When the loop was last seen turning TURN_MS ago, it queues a probe (one
 * macrotask); if the probe is still queued TURN_MS later, the event loop is
 * starved, and every caller of turn() waits for the probe from then on:
 * once all of them wait, the microtask queue empties, the loop turns (its
 * timers and I/O run), the probe runs and lets them go. Shared by every
 * XBuf of the process: one caller waiting alone would not empty the queue.
 * A loop that waits now and then (the usual case) pays a counter per step,
 * a clock read per CHECK_STEPS steps and a probe per TURN_MS; a starved
 * one gives the event loop a turn about every 2 * TURN_MS.
 */
const CHECK_STEPS = 32;
const TURN_MS = 5;

/** setImmediate where the runtime has it (Bun, Node), else a 0 ms timer (Deno). */
const later: (fn: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === "function"
    ? (fn) => void (globalThis as unknown as { setImmediate: (fn: () => void) => unknown }).setImmediate(fn)
    : (fn) => void setTimeout(fn, 0);

let steps = 0;
/** When a probe last ran: the event loop was seen turning then. */
let seen = performance.now();
/** When the queued probe was queued; -1: none is. */
let probeAt = -1;
/** The turn every caller waits for, once the loop is starved. */
let due: Promise<void> | null = null;
let letGo: (() => void) | null = null;

function probe(): void {
  seen = performance.now();
  probeAt = -1;
  const go = letGo;
  due = letGo = null;
  go?.();
}

/**
 * Called once per step that may complete without waiting: null to go on
 * now, or a promise to await first (the event loop's turn is due).
 */
export function turn(): Promise<void> | null {
  if (due) return due;
  if (++steps < CHECK_STEPS) return null;
  steps = 0;
  const now = performance.now();
  if (probeAt < 0) {
    if (now - seen >= TURN_MS) {
      probeAt = now;
      later(probe);
    }
    return null;
  }
  if (now - probeAt < TURN_MS) return null;
  return (due = new Promise<void>((resolve) => (letGo = resolve)));
}
