/** Ctrl-C (SIGINT) and SIGTERM for a long-running command. */

export interface Interrupt {
  /** True once a signal came. */
  readonly interrupted: boolean;
  /** Stop listening. */
  [Symbol.dispose](): void;
}

/**
 * Until disposed, the first SIGINT or SIGTERM sets `interrupted` and calls
 * `stop` (which typically closes the cross-buffer, so the pending wait
 * rejects with EBADF and the command's loop ends).
 */
export function onInterrupt(stop: () => void): Interrupt {
  const state = {
    interrupted: false,
    [Symbol.dispose]() {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
  const handler = () => {
    state.interrupted = true;
    stop();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return state;
}
