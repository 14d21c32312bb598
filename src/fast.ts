/**
 * The fast path: one application end of a ring moved from TypeScript,
 * through the mapping, with Atomics on Uint32Arrays over the endpoint
 * words (docs/ABI.md, "The fast path of a binding"). Fill, room, borrow,
 * commit and readiness are inline code here, with the ordering protocol of
 * include/xbuf/abi.h (tags P1, C1, C2, P2, W1, K1 cited at each access) and
 * its ring arithmetic (xbuf_abi_fill, xbuf_abi_room, xbuf_abi_writer_stuck,
 * computed exactly on 64-bit positions held as two 32-bit halves). C is
 * called only to sleep (xbuf_poll, xbuf_arm: the caller's), to wake a
 * sleeping peer that can proceed (xbuf_wake), and to tell a peer's death
 * the first time a new owner is seen (xbuf_peer_gone).
 *
 * Positions, without tearing:
 *  - our own position: this end is the only writer of it (xbuf_fast_claim
 *    makes every C call that could move it answer EBUSY), so it lives here
 *    as two uint32 numbers and is published low half first, then the high
 *    half only when it changes (every 4 GiB). The one intermediate a peer
 *    can see, at a 2^32 boundary, is the new low half with the old high
 *    half: 2^32 behind the truth, which every clamp reads as "nothing
 *    yet" (a consumer's fill < 0: empty; a producer's used > capacity: no
 *    room). The next store completes it, before K1 looks at `waiters`.
 *  - the peer's position: one 64-bit store in C (or the kernel). Read as
 *    high, low, high again; equal highs make a consistent pair for a peer
 *    whose position only grows, and a lying peer gets at most three tries,
 *    then its value is clamped like any other.
 */

/** Word indices (u32) in a struct xbuf_shm_endpoint (src/layout.ts XbufShmEndpoint; checked against C). */
export const EP = { POS_LO: 0, POS_HI: 1, SEQ: 2, WAITERS: 3, OWNER: 4, WANTED: 5, OPS_LO: 6, OPS_HI: 7, EAGAIN_LO: 8, EAGAIN_HI: 9 } as const;

const TWO32 = 4294967296;
const OWNER_GONE = 0xffffffff;

/** xbuf_abi_fill(capacity, prod, cons) on 64-bit positions given as (hi, lo) halves. */
export function fill64(capacity: number, prodHi: number, prodLo: number, consHi: number, consLo: number): number {
  let lo = prodLo - consLo;
  let hi = (prodHi - consHi) | 0;
  if (lo < 0) {
    lo += TWO32;
    hi = (hi - 1) | 0;
  }
  if (hi < 0) return 0; // (s64)(prod - cons) < 0: a producer behind us reads as empty
  if (hi > 0 || lo > capacity) return capacity;
  return lo;
}

/** xbuf_abi_room(capacity, prod, cons): a consumer ahead of us, or more than a ring behind, leaves none. */
export function room64(capacity: number, prodHi: number, prodLo: number, consHi: number, consLo: number): number {
  let lo = prodLo - consLo;
  let hi = (prodHi - consHi) | 0;
  if (lo < 0) {
    lo += TWO32;
    hi = (hi - 1) | 0;
  }
  if (hi !== 0 || lo > capacity) return 0;
  return capacity - lo;
}

/** What the fast path needs from C (the binding's native calls, bound to one fd and end). */
export interface FastHooks {
  /** xbuf_wake(fd, events): bump seq and wake the sleeping peer. */
  wake(): void;
  /** xbuf_peer_gone(fd, events): 1 gone, 0 alive, -errno. */
  peerGone(): number;
}

export class FastEnd {
  /** Our position, low and high halves (uint32 numbers): we are its only writer. */
  lo: number;
  hi: number;
  /** The peer's position as last loaded (loadPeer()). */
  peerLo = 0;
  peerHi = 0;
  readonly capacity: number;
  readonly mask: number;
  readonly consumer: boolean;
  /** A zero-copy span of this end is out (a view, a batch, a drain or produce callback): other calls get EBUSY. */
  borrowed = false;
  #self: Uint32Array;
  #peer: Uint32Array;
  #gen: Uint32Array;
  #hooks: FastHooks;
  #opsLo: number;
  #eagainLo: number;
  /** A peer owner word xbuf_peer_gone() said was alive, and the wake word then. */
  #aliveOwner = -1;
  #aliveGen = -1;

  constructor(self: Uint32Array, peer: Uint32Array, gen: Uint32Array, capacity: number, dataSize: number, consumer: boolean, hooks: FastHooks) {
    this.#self = self;
    this.#peer = peer;
    this.#gen = gen;
    this.capacity = capacity;
    this.mask = dataSize - 1;
    this.consumer = consumer;
    this.#hooks = hooks;
    // Claimed already (xbuf_fast_claim): C moved it last, under the end's lock; go on from there.
    this.lo = Atomics.load(self, EP.POS_LO);
    this.hi = Atomics.load(self, EP.POS_HI);
    this.#opsLo = self[EP.OPS_LO]!;
    this.#eagainLo = self[EP.EAGAIN_LO]!;
  }

  /** Offset of our position in the ring's view (the first copy of the data area). */
  offset(): number {
    return this.lo & this.mask;
  }

  /** Load the peer's 64-bit position into peerHi/peerLo: high, low, high again (see the header). */
  loadPeer(): void {
    const p = this.#peer;
    let hi = Atomics.load(p, EP.POS_HI);
    let lo = Atomics.load(p, EP.POS_LO);
    for (let i = 0; i < 3; i++) {
      const again = Atomics.load(p, EP.POS_HI);
      if (again === hi) break;
      hi = again;
      lo = Atomics.load(p, EP.POS_LO);
    }
    this.peerHi = hi;
    this.peerLo = lo;
  }

  /** Consumer: bytes readable now. C1: load prod.pos (seq_cst, so acquire) before reading the bytes; clamped. */
  fill(): number {
    this.loadPeer();
    return fill64(this.capacity, this.peerHi, this.peerLo, this.hi, this.lo);
  }

  /** Producer: bytes writable now. P2: load cons.pos (seq_cst) before overwriting the bytes; clamped. */
  room(): number {
    this.loadPeer();
    return room64(this.capacity, this.hi, this.lo, this.peerHi, this.peerLo);
  }

  /**
   * What a call for `count` bytes may take now; 0 = it would wait. A
   * consumer: count, or with `partial` (O_NONBLOCK) whatever is there, or
   * the short read of EVL's rule (xbuf_abi_writer_stuck: the producer's
   * `waiters` loaded before its `wanted`). A producer: count or nothing.
   */
  ready(count: number, partial: boolean): number {
    if (!this.consumer) return this.room() >= count ? count : 0;
    const fill = this.fill();
    if (fill >= count) return count;
    if (fill === 0) return 0;
    if (partial) return fill;
    const waiters = Atomics.load(this.#peer, EP.WAITERS);
    if (waiters !== 0 && this.capacity - fill < Atomics.load(this.#peer, EP.WANTED)) return fill;
    return 0;
  }

  /**
   * ring.c's settle_now(): n > 0 bytes to take, 0 = wait, -32 (EPIPE): the
   * peer is gone; a consumer gets what it published first.
   */
  settle(count: number, partial: boolean): number {
    const n = this.ready(count, partial);
    if (n !== 0 || !this.peerGone()) return n;
    if (!this.consumer) return -32;
    const fill = this.fill();
    return fill === 0 ? -32 : fill < count ? fill : count;
  }

  /**
   * Has the peer let go (owner XBUF_OWNER_GONE) or died? 0 (the kernel, or
   * never held): no. A pid: asked of C once per owner, then cached while
   * neither the owner word nor the process's wake word moves (the
   * watcher bumps it when a watched peer dies). The wake word is loaded
   * before the question, so a death after it is not missed.
   */
  peerGone(): boolean {
    const owner = Atomics.load(this.#peer, EP.OWNER);
    if (owner === 0) return false;
    if (owner === OWNER_GONE) return true;
    const gen = Atomics.load(this.#gen, 0);
    if (owner === this.#aliveOwner && gen === this.#aliveGen) return false;
    const gone = this.#hooks.peerGone();
    if (gone === 0) {
      this.#aliveOwner = owner;
      this.#aliveGen = gen;
    }
    return gone === 1;
  }

  /** An EAGAIN of a non-blocking call, counted as C counts it (display only). */
  countEagain(): void {
    const v = this.#eagainLo + 1;
    if (v === TWO32) {
      this.#eagainLo = 0;
      this.#self[EP.EAGAIN_LO] = 0;
      this.#self[EP.EAGAIN_HI] = this.#self[EP.EAGAIN_HI]! + 1;
    } else {
      this.#eagainLo = v;
      this.#self[EP.EAGAIN_LO] = v;
    }
  }

  /**
   * Advance our position by n (0 < n <= what ready() gave): publish n
   * bytes (P1) or free them (C2), then K1 and the wake rule.
   */
  commit(n: number): void {
    const self = this.#self;
    let lo = this.lo + n;
    // P1 / C2: the bytes were written / read before this store (seq_cst, so release).
    if (lo >= TWO32) {
      lo -= TWO32;
      this.lo = lo;
      this.hi = (this.hi + 1) >>> 0;
      Atomics.store(self, EP.POS_LO, lo); // 2^32 behind for a moment: reads as nothing yet
      Atomics.store(self, EP.POS_HI, this.hi);
    } else {
      this.lo = lo;
      Atomics.store(self, EP.POS_LO, lo);
    }
    const ops = this.#opsLo + 1; // completed operations: display only, plain stores
    if (ops === TWO32) {
      this.#opsLo = 0;
      self[EP.OPS_LO] = 0;
      self[EP.OPS_HI] = self[EP.OPS_HI]! + 1;
    } else {
      this.#opsLo = ops;
      self[EP.OPS_LO] = ops;
    }
    // K1: pairs with W1 of the peer (csrc/ring.c waiter_enter(), or kmod's smp_mb()):
    // seq_cst store of our position above, seq_cst load of its `waiters` here.
    if (Atomics.load(this.#peer, EP.WAITERS) !== 0 && this.#peerCanProceed()) this.#hooks.wake();
  }

  /**
   * The wake rule (csrc/ring.c peer_can_proceed()): the peer's sleepers
   * published `wanted` before `waiters` (0: unknown, wake). A consumer
   * sleeps for `wanted` bytes of fill, a producer for `wanted` bytes of
   * room; a producer's own commit may also make its own stuck writers'
   * short read due.
   */
  #peerCanProceed(): boolean {
    const wanted = Atomics.load(this.#peer, EP.WANTED);
    if (wanted === 0) return true;
    this.loadPeer();
    if (this.consumer) return room64(this.capacity, this.peerHi, this.peerLo, this.hi, this.lo) >= wanted;
    const fill = fill64(this.capacity, this.hi, this.lo, this.peerHi, this.peerLo);
    if (fill >= wanted) return true;
    return fill !== 0 && Atomics.load(this.#self, EP.WAITERS) !== 0 && this.capacity - fill < Atomics.load(this.#self, EP.WANTED);
  }
}
