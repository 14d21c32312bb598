/**
 * The fast path: one application end of a ring moved from TypeScript,
 * through the mapping (docs/ABI.md, "The fast path of a binding"). Fill,
 * room, borrow, commit and readiness are inline code here, with the
 * ordering protocol of include/xbuf/abi.h (tags P1, C1, C2, P2, W1, K1
 * cited at each access) and its ring arithmetic (xbuf_abi_fill,
 * xbuf_abi_room, xbuf_abi_writer_stuck). C is called only to sleep
 * (xbuf_poll, xbuf_arm: the caller's), to wake a sleeping peer that can
 * proceed (xbuf_wake), and to tell a peer's death the first time a new
 * owner is seen (xbuf_peer_gone).
 *
 * Which instruction touches which page:
 *  - the peer's words (the driver page) are read with plain Uint32Array
 *    loads, never with Atomics: on a kernel element that page is mapped
 *    read-only, and JSC (Bun) compiles Atomics.load in its DFG and FTL
 *    tiers to a `lock cmpxchg`, a store to the CPU: SIGBUS there (SIGSEGV
 *    on any PROT_READ mapping). The ordering Atomics.load gave comes from
 *    fence(): a sequentially consistent read-modify-write of a private
 *    word, after the loads it must order (an acquire for them, and a
 *    barrier that no compiler moves a memory access across);
 *  - our own words (the app page, writable on both backends) are written
 *    with Atomics: the position's last store is an Atomics.exchange, a
 *    full barrier before the K1 load of the peer's `waiters` (measured
 *    against Atomics.store, which is sequentially consistent but on arm64
 *    may be a `stlr` that a later plain load passes: the same 4.6 ns in
 *    Bun 1.4, 7.7 against 9.7 ns in Deno's V8).
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
 *  - the peer's position: only its low half is read, one aligned 32-bit
 *    load, which cannot tear. Fill and room need no more: an honest
 *    peer's position is within capacity (<= XBUF_MAX_RING_SIZE = 2^30) of
 *    ours, so the 32-bit difference is the 64-bit one exactly; a lying
 *    peer's value is clamped into [0, capacity] like any other.
 */
import { XbufShmEndpoint } from "./layout.ts";

/** Word indices (u32) in a struct xbuf_shm_endpoint, from src/layout.ts (which test/ts/layout.test.ts checks against C). */
export const EP = {
  POS_LO: XbufShmEndpoint.offsets.pos / 4, POS_HI: XbufShmEndpoint.offsets.pos / 4 + 1,
  OPS_LO: XbufShmEndpoint.offsets.ops / 4, OPS_HI: XbufShmEndpoint.offsets.ops / 4 + 1,
  EAGAIN_LO: XbufShmEndpoint.offsets.eagain / 4, EAGAIN_HI: XbufShmEndpoint.offsets.eagain / 4 + 1,
  SEQ: XbufShmEndpoint.offsets.seq / 4, WAITERS: XbufShmEndpoint.offsets.waiters / 4,
  OWNER: XbufShmEndpoint.offsets.owner / 4, WANTED: XbufShmEndpoint.offsets.wanted / 4,
} as const;

const TWO32 = 4294967296;
const OWNER_GONE = 0xffffffff;

/**
 * The fence word: private to this process (nothing else ever touches its
 * cache line), so its read-modify-write costs no coherence traffic.
 */
const FENCE = new Int32Array(typeof SharedArrayBuffer === "function" ? new SharedArrayBuffer(64) : new ArrayBuffer(64));

/**
 * A full barrier between the plain loads of the peer's words before it and
 * every memory access after it: a seq_cst read-modify-write (x86-64: a
 * locked instruction; arm64: an acquire-release atomic), which neither
 * JSC nor V8 moves a typed-array access across.
 */
export function fence(): void {
  Atomics.add(FENCE, 0, 0);
}

/**
 * xbuf_abi_fill(capacity, prod, cons) from the low halves: prod - cons
 * below 0 reads as empty, above capacity as full (the clamp).
 */
export function fill32(capacity: number, prodLo: number, consLo: number): number {
  const d = (prodLo - consLo) | 0;
  if (d < 0) return 0;
  return d > capacity ? capacity : d;
}

/** xbuf_abi_room(capacity, prod, cons) from the low halves: a consumer ahead of us, or more than a ring behind, leaves none. */
export function room32(capacity: number, prodLo: number, consLo: number): number {
  const used = (prodLo - consLo) >>> 0;
  return used > capacity ? 0 : capacity - used;
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
  /** The low half of the peer's position as last loaded (loadPeer()). */
  peerLo = 0;
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
    this.loadPeer();
  }

  /** Offset of our position in the ring's view (the first copy of the data area). */
  offset(): number {
    return this.lo & this.mask;
  }

  /**
   * Load the low half of the peer's position into peerLo (see the
   * header): a plain load (the driver page may be read-only), then the
   * fence, so the bytes it tells about are read (or overwritten) after it.
   */
  loadPeer(): void {
    this.peerLo = this.#peer[EP.POS_LO]!;
    fence();
  }

  /** Consumer: bytes readable now. C1: load prod.pos, acquire (the fence), before reading the bytes; clamped. */
  fill(): number {
    this.loadPeer();
    return fill32(this.capacity, this.peerLo, this.lo);
  }

  /** Producer: bytes writable now. P2: load cons.pos, acquire (the fence), before overwriting the bytes; clamped. */
  room(): number {
    this.loadPeer();
    return room32(this.capacity, this.lo, this.peerLo);
  }

  /**
   * What a call for `count` bytes may take now; 0 = it would wait. A
   * consumer: count, or with `partial` (O_NONBLOCK) whatever is there, or
   * the short read of EVL's rule (xbuf_abi_writer_stuck: the producer's
   * `waiters` loaded before its `wanted`). A producer: count or nothing.
   */
  ready(count: number, partial: boolean): number {
    // The peer's position as last loaded first (peerLo, fenced then): a lower bound of its
    // progress, so while it answers, the peer's line is not touched (a bare ring's pattern).
    if (!this.consumer) {
      if (room32(this.capacity, this.lo, this.peerLo) >= count) return count;
      return this.room() >= count ? count : 0;
    }
    if (fill32(this.capacity, this.peerLo, this.lo) >= count) return count;
    const fill = this.fill();
    if (fill >= count) return count;
    if (fill === 0) return 0;
    if (partial) return fill;
    const waiters = this.#peer[EP.WAITERS]!;
    if (waiters === 0) return 0;
    fence(); // `waiters` before `wanted`: the producer published them in the other order (W1)
    if (this.capacity - fill < this.#peer[EP.WANTED]!) return fill;
    return 0;
  }

  /**
   * ring.c's settle_now(): n > 0 bytes to take, 0 = wait, -32 (EPIPE): the
   * peer is gone; a consumer gets what it published first.
   */
  settle(count: number, partial: boolean): number {
    // The driver ended the stream (evl_shutdown_xbuf): a write fails at once, as ring.c's settle_now().
    if (!this.consumer && this.#peer[EP.OWNER] === OWNER_GONE) return -32;
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
    const owner = this.#peer[EP.OWNER]!;
    if (owner === 0) return false;
    if (owner === OWNER_GONE) {
      fence(); // its last position was stored before `owner`: the fill read after this sees it
      return true;
    }
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
      Atomics.exchange(self, EP.POS_HI, this.hi);
    } else {
      this.lo = lo;
      // seq_cst read-modify-write: a release for the bytes, and the full barrier of K1 below.
      Atomics.exchange(self, EP.POS_LO, lo);
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
    // the exchange of our position above (a full barrier), then the load of its `waiters`.
    if (this.#peer[EP.WAITERS]! !== 0 && this.#peerCanProceed()) this.#hooks.wake();
  }

  /**
   * The wake rule (csrc/ring.c peer_can_proceed()): the peer's sleepers
   * published `wanted` before `waiters` (0: unknown, wake). A consumer
   * sleeps for `wanted` bytes of fill, a producer for `wanted` bytes of
   * room; a producer's own commit may also make its own stuck writers'
   * short read due.
   */
  #peerCanProceed(): boolean {
    fence(); // `waiters` (loaded by the caller) before `wanted`
    const wanted = this.#peer[EP.WANTED]!;
    if (wanted === 0) return true;
    this.loadPeer();
    if (this.consumer) return room32(this.capacity, this.peerLo, this.lo) >= wanted;
    const fill = fill32(this.capacity, this.lo, this.peerLo);
    if (fill >= wanted) return true;
    return fill !== 0 && Atomics.load(this.#self, EP.WAITERS) !== 0 && this.capacity - fill < Atomics.load(this.#self, EP.WANTED);
  }
}
