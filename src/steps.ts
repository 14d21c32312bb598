/**
 * The async iterator behind views() and recordBatches(): an AsyncGenerator
 * written by hand, so that a step whose data is there allocates nothing of
 * its own. An `async *` generator makes a new promise and a new
 * IteratorResult per step; this one hands out one result object, mutated,
 * through one promise resolved to it once: both are the same at every step.
 * Only a step that has to wait (the ring empty past XBuf.spinUs) makes
 * promises, and a step that gives the event loop its turn (src/turn.ts:
 * about every 10 ms, and only while a peer never let the loop wait).
 *
 * What a `for await` over it still allocates per step is the engine's
 * own: the await of the promise next() returned (a reaction and its
 * microtask job under V8), and whatever the step yields (views(): a
 * subarray object). drain() and drainRecords() are the synchronous forms
 * with neither.
 */

import { turn } from "./turn.ts";

/** poll() has nothing now: wait(), then poll again. */
export const WAIT: unique symbol = Symbol("wait");

/** One stream of steps over a ring end. */
export interface StepSource<T> {
  /** Consume what the last step handed out (at each next(), return() or throw()). */
  release(): void;
  /** The next value now; null at the end; WAIT when nothing is there yet. Throws on errors. */
  poll(): T | null | typeof WAIT;
  /** Resolves true when poll() may have something, false at the end. */
  wait(): Promise<boolean>;
}

export class Steps<T> implements AsyncGenerator<T, void, undefined> {
  /** Opens the source at the first next(): argument errors reject it, as in an async generator. */
  #open: (() => StepSource<T>) | null;
  #src: StepSource<T> | null = null;
  #finished = false;
  /** A next() waiting for data: a call meanwhile queues behind it (async generators queue too). */
  #inflight: Promise<IteratorResult<T, void>> | null = null;
  readonly #result: { done: false; value: T } = { done: false, value: undefined as T };
  readonly #ready: Promise<IteratorResult<T, void>> = Promise.resolve(this.#result);

  constructor(open: () => StepSource<T>) {
    this.#open = open;
  }

  next(): Promise<IteratorResult<T, void>> {
    if (this.#inflight) return this.#inflight.then(() => this.next());
    if (this.#finished) return Promise.resolve({ done: true, value: undefined });
    try {
      const src = this.#source();
      src.release();
      const due = turn();
      if (due) return (this.#inflight = this.#turnThenPoll(src, due));
      return this.#poll(src);
    } catch (e) {
      return this.#fail(e);
    }
  }

  #source(): StepSource<T> {
    if (this.#src) return this.#src;
    const open = this.#open!;
    this.#open = null;
    return (this.#src = open());
  }

  #poll(src: StepSource<T>): Promise<IteratorResult<T, void>> {
    const v = src.poll();
    if (v === WAIT) return (this.#inflight = this.#waitThenPoll(src));
    if (v === null) return this.return();
    this.#result.value = v;
    return this.#ready;
  }

  /** The event loop's turn first (src/turn.ts), then the step. */
  async #turnThenPoll(src: StepSource<T>, due: Promise<void>): Promise<IteratorResult<T, void>> {
    await due;
    this.#inflight = null;
    if (this.#finished) return { done: true, value: undefined };
    try {
      return await this.#poll(src);
    } catch (e) {
      return this.#fail(e);
    }
  }

  async #waitThenPoll(src: StepSource<T>): Promise<IteratorResult<T, void>> {
    try {
      for (;;) {
        if (!(await src.wait())) {
          this.#inflight = null;
          return this.return();
        }
        const v = src.poll();
        if (v === WAIT) continue;
        this.#inflight = null;
        if (v === null) return this.return();
        this.#result.value = v;
        return this.#result;
      }
    } catch (e) {
      this.#inflight = null;
      return this.#fail(e);
    }
  }

  #fail(e: unknown): Promise<never> {
    this.#end();
    return Promise.reject(e);
  }

  #end(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#open = null;
    this.#src?.release();
    this.#result.value = undefined as T;
  }

  return(): Promise<IteratorResult<T, void>> {
    this.#end();
    return Promise.resolve({ done: true, value: undefined });
  }

  throw(e: unknown): Promise<IteratorResult<T, void>> {
    return this.#fail(e);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }
}
