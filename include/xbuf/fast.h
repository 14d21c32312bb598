/* SPDX-License-Identifier: MIT */
/*
 * xbuf/fast.h - the fast path for C: one application end of a ring moved
 * by inline code over the mapping, as liburing moves its rings. No system
 * call and no lock per message; the library is called only to sleep
 * (xbuf_poll) and to wake a peer that sleeps and can now proceed
 * (xbuf_wake). It is the same path the TypeScript binding takes
 * (src/fast.ts), with the same protocol (xbuf/abi.h and docs/ABI.md: the
 * tags P1, C1, C2, P2, W1 and K1 are cited at each access).
 *
 * Why a second path: xbuf_read()/xbuf_write() take an fd, and each call
 * checks that the number still names its element (one statx(2), ~0.25 us:
 * close(2) on an element fd is safe, see xbuf.h), then looks the handle
 * up and takes the end's lock, so any number of threads may share an end.
 * Here one caller owns the end instead:
 *
 *   struct xbuf_fast in;
 *   int r = xbuf_fast_init(&in, fd, XBUF_POLLIN);    // the inbound consumer end
 *   if (r) ... -r is the errno
 *   ssize_t n = xbuf_fast_read(&in, buf, 32, 0);     // blocking, EVL's rules
 *   n = xbuf_fast_read(&in, buf, 32, XBUF_NONBLOCK); // -EAGAIN when empty
 *   xbuf_fast_fini(&in);
 *
 * Rules:
 *  - xbuf_fast_init() claims the end with xbuf_fast_claim(): from then on
 *    until fd is closed, xbuf_read()/xbuf_write()/xbuf_*_begin() of that end
 *    answer -EBUSY in this process (they would race the inline code: the
 *    mixing rule), another process gets -EBUSY as for any claim, and
 *    xbuf_poll() still works. A second xbuf_fast_init() of the same end and
 *    fd shares the claim, not the position: use one struct per end.
 *  - one thread at a time per struct xbuf_fast (it holds the position);
 *    guard it yourself if several threads must share it.
 *  - the struct holds the mapping (xbuf_map_hold()): after xbuf_close(fd)
 *    its memory stays valid until xbuf_fast_fini(), and its calls fail with
 *    -EBADF once they have to sleep or wake (the fd is gone).
 *  - return values: bytes (> 0), 0 for a count of 0 (before any check), or
 *    a negative errno: those of xbuf_read()/xbuf_write() (EAGAIN, EINVAL
 *    above the capacity, EPIPE, EINTR, EBADF).
 */
#ifndef XBUF_FAST_H
#define XBUF_FAST_H

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/types.h>
#include "xbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

struct xbuf_fast {
	int fd;
	int events;				/* XBUF_POLLIN: inbound consumer; XBUF_POLLOUT: outbound producer */
	bool consumer;
	struct xbuf_shm_endpoint *self;		/* ours, on the app page: we are the only writer of pos */
	const struct xbuf_shm_endpoint *peer;	/* the driver's: only loaded (read-only on a kernel element) */
	unsigned char *data;			/* the first copy of the data area: mapped twice, a span never wraps */
	__u64 capacity, mask;
	__u64 pos;				/* our position, as last published */
	__u64 peer_seen;			/* the peer's, as last loaded: a lower bound of its progress */
	const uint32_t *gen;			/* xbuf_wake_word(): moves on a close or a watched death */
	uint32_t alive_owner, alive_gen;	/* a peer owner xbuf_peer_gone() said lives, and gen then */
	void *hold;				/* xbuf_map_hold(): the mapping, until xbuf_fast_fini() */
	bool light;				/* xbuf_fast_fence(): K1's asymmetric form is ours to use */
};

/*
 * Take the end `events` names of element fd for this struct. 0, or the
 * negative errnos of xbuf_fast_claim() (EBADF, EINVAL, ENOBUFS, EBUSY),
 * and -EPROTO if the mapping's info page does not match the layout.
 */
static inline int xbuf_fast_init(struct xbuf_fast *f, int fd, int events)
{
	struct xbuf_shm_info want;
	const struct xbuf_shm_info *info;
	struct xbuf_rings rings;
	unsigned char *base;
	int ring, r;

	memset(f, 0, sizeof(*f));
	r = xbuf_fast_claim(fd, events);
	if (r)
		return r;
	base = (unsigned char *)xbuf_map_base(fd);
	r = base ? xbuf_rings(fd, &rings) : -EBADF;
	if (r)
		return r;
	/*
	 * Offsets from our own arithmetic, not from the info page: its page
	 * size is the only word taken from it, and the layout it implies must
	 * be the one the library mapped (the same check as the library's).
	 */
	info = (const struct xbuf_shm_info *)base;
	xbuf_abi_layout(&want, rings.isize, rings.osize, info->page_size);
	if (info->map_size != want.map_size)
		return -EPROTO;
	ring = events == XBUF_POLLIN ? XBUF_INBOUND : XBUF_OUTBOUND;
	f->hold = xbuf_map_hold(fd);
	if (!f->hold)
		return -EBADF;
	f->fd = fd;
	f->events = events;
	f->consumer = ring == XBUF_INBOUND;
	f->capacity = want.ring[ring].capacity;
	f->mask = want.ring[ring].data_size - 1;
	f->data = base + want.ring[ring].data_map_off;
	/* App page: prod (outbound) then cons (inbound); the driver page likewise. */
	f->self = f->consumer ? &((struct xbuf_shm_side *)(base + (size_t)XBUF_APP_PAGE * want.page_size))->cons
			      : &((struct xbuf_shm_side *)(base + (size_t)XBUF_APP_PAGE * want.page_size))->prod;
	f->peer = f->consumer ? &((const struct xbuf_shm_side *)(base + (size_t)XBUF_DRIVER_PAGE * want.page_size))->prod
			      : &((const struct xbuf_shm_side *)(base + (size_t)XBUF_DRIVER_PAGE * want.page_size))->cons;
	/* Claimed: C moved it last, under the end's lock, which the claim took and released. */
	f->pos = __atomic_load_n(&f->self->pos, __ATOMIC_ACQUIRE);
	f->peer_seen = __atomic_load_n(&f->peer->pos, __ATOMIC_ACQUIRE);
	f->gen = xbuf_wake_word();
	f->alive_owner = 0;
	f->alive_gen = 0;
	f->light = xbuf_fast_fence() == 1;	/* after the claim, which decided it */
	return 0;
}

/* Drop the mapping hold. The claim stays with the fd until it is closed. */
static inline void xbuf_fast_fini(struct xbuf_fast *f)
{
	if (f->hold)
		xbuf_map_release(f->hold);
	f->hold = NULL;
}

/*
 * The peer's position: one aligned 64-bit load, acquire (C1 for a
 * consumer, P2 for a producer), kept in peer_seen.
 */
static inline __u64 xbuf_fast_peer_pos(struct xbuf_fast *f)
{
	return f->peer_seen = __atomic_load_n(&f->peer->pos, __ATOMIC_ACQUIRE);
}

/* Consumer: bytes readable now (C1), clamped. */
static inline __u64 xbuf_fast_fill(struct xbuf_fast *f)
{
	return xbuf_abi_fill(f->capacity, xbuf_fast_peer_pos(f), f->pos);
}

/* Producer: bytes writable now (P2), clamped. */
static inline __u64 xbuf_fast_room(struct xbuf_fast *f)
{
	return xbuf_abi_room(f->capacity, f->pos, xbuf_fast_peer_pos(f));
}

/*
 * The same, answered from peer_seen while it shows `need` bytes (what the
 * last load showed is still there), so the peer's line is loaded only when
 * that runs short, as in a bare ring.
 */
static inline __u64 xbuf_fast_fill_for(struct xbuf_fast *f, __u64 need)
{
	__u64 fill = xbuf_abi_fill(f->capacity, f->peer_seen, f->pos);

	return fill >= need ? fill : xbuf_fast_fill(f);
}

static inline __u64 xbuf_fast_room_for(struct xbuf_fast *f, __u64 need)
{
	__u64 room = xbuf_abi_room(f->capacity, f->pos, f->peer_seen);

	return room >= need ? room : xbuf_fast_room(f);
}

/*
 * Has the peer let go or died? owner 0 (the kernel, or never held): no;
 * XBUF_OWNER_GONE: yes; a pid: asked of the library once per owner, then
 * cached while neither the owner word nor the wake word moves (gen loaded
 * before the question: a death after it is not missed).
 */
static inline bool xbuf_fast_peer_gone(struct xbuf_fast *f)
{
	uint32_t owner = __atomic_load_n(&f->peer->owner, __ATOMIC_ACQUIRE);
	uint32_t gen;
	int gone;

	if (!owner)
		return false;
	if (owner == XBUF_OWNER_GONE)
		return true;	/* its last position was stored before `owner` (the acquire above pairs) */
	gen = __atomic_load_n(f->gen, __ATOMIC_ACQUIRE);
	if (owner == f->alive_owner && gen == f->alive_gen)
		return false;
	gone = xbuf_peer_gone(f->fd, f->events);
	if (gone == 0) {
		f->alive_owner = owner;
		f->alive_gen = gen;
	}
	return gone == 1;
}

/*
 * ring.c's settle_now(): what a call for count bytes may take now (> 0), 0
 * to wait, -EPIPE once the peer is gone (a consumer gets its tail first).
 * A consumer takes count, or with partial whatever is there, or the short
 * read of EVL's rule (a driver writer stuck for room: its `waiters`
 * loaded before its `wanted`, the reverse of its W1 stores).
 */
static inline ssize_t xbuf_fast_settle(struct xbuf_fast *f, __u64 count, bool partial)
{
	__u64 fill;

	if (!f->consumer) {
		/* The driver ended the stream: a write fails at once (ring.c's settle_now()). */
		if (__atomic_load_n(&f->peer->owner, __ATOMIC_ACQUIRE) == XBUF_OWNER_GONE)
			return -EPIPE;
		if (xbuf_fast_room_for(f, count) >= count)
			return (ssize_t)count;
		return xbuf_fast_peer_gone(f) ? -EPIPE : 0;
	}
	fill = xbuf_fast_fill_for(f, count);
	if (fill >= count)
		return (ssize_t)count;
	if (fill && (partial || xbuf_abi_writer_stuck(f->capacity, fill,
						       __atomic_load_n(&f->peer->waiters, __ATOMIC_ACQUIRE),
						       __atomic_load_n(&f->peer->wanted, __ATOMIC_ACQUIRE))))
		return (ssize_t)fill;
	if (!xbuf_fast_peer_gone(f))
		return 0;
	fill = xbuf_fast_fill(f);	/* what it published before it went */
	return fill ? (ssize_t)(fill < count ? fill : count) : -EPIPE;
}

/*
 * The wake rule (ring.c peer_can_proceed()): a sleeping peer published
 * `wanted` before `waiters` (0: unknown, wake). A driver consumer sleeps
 * for `wanted` bytes of fill, a driver producer for `wanted` bytes of
 * room.
 */
static inline bool xbuf_fast_peer_can_proceed(struct xbuf_fast *f)
{
	__u32 wanted = __atomic_load_n(&f->peer->wanted, __ATOMIC_ACQUIRE);
	__u64 peer_pos, fill;

	if (!wanted)
		return true;
	peer_pos = xbuf_fast_peer_pos(f);
	if (f->consumer)
		return xbuf_abi_room(f->capacity, peer_pos, f->pos) >= wanted;
	fill = xbuf_abi_fill(f->capacity, f->pos, peer_pos);
	/* or the driver's short read is due: our own sleeper (xbuf_poll) is stuck for room */
	return fill >= wanted ||
	       xbuf_abi_writer_stuck(f->capacity, fill, __atomic_load_n(&f->self->waiters, __ATOMIC_ACQUIRE),
				     __atomic_load_n(&f->self->wanted, __ATOMIC_RELAXED));
}

/*
 * Advance our position by n: publish n bytes written (P1) or free n bytes
 * read (C2), then K1: the load of the peer's `waiters` (pairs with the
 * peer's W1: waiter_enter() in csrc/ring.c, or smp_mb() in kmod/). Its
 * full barrier is a seq_cst exchange, or, when the peer's sleepers fence
 * with membarrier() (its `fence` word) and this process is registered
 * (f->light), K1's asymmetric form: a release store and a compiler
 * barrier, as a bare ring commits.
 */
static inline void xbuf_fast_commit(struct xbuf_fast *f, __u64 n)
{
	__u32 waiters;

	f->pos += n;
	if (f->light && __atomic_load_n(&f->peer->fence, __ATOMIC_RELAXED) == XBUF_FENCE_MEMBARRIER) {
		__atomic_store_n(&f->self->pos, f->pos, __ATOMIC_RELEASE);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		waiters = __atomic_load_n(&f->peer->waiters, __ATOMIC_ACQUIRE);
	} else {
		__atomic_exchange_n(&f->self->pos, f->pos, __ATOMIC_SEQ_CST);
		waiters = __atomic_load_n(&f->peer->waiters, __ATOMIC_SEQ_CST);
	}
	__atomic_store_n(&f->self->ops, f->self->ops + 1, __ATOMIC_RELAXED);	/* display only */
	if (waiters && xbuf_fast_peer_can_proceed(f))
		xbuf_wake(f->fd, f->events);
}

/* Sleep until a call for count bytes may proceed: xbuf_poll()'s errnos, 0 to look again. */
static inline int xbuf_fast_wait(struct xbuf_fast *f, __u64 count)
{
	int r = xbuf_poll(f->fd, f->events, (size_t)count, -1);

	return r < 0 ? r : 0;
}

/* A non-blocking call found nothing: counted as the library counts it (display only). */
static inline ssize_t xbuf_fast_eagain(struct xbuf_fast *f)
{
	__atomic_store_n(&f->self->eagain, f->self->eagain + 1, __ATOMIC_RELAXED);
	return -EAGAIN;
}

/*
 * xbuf_read() on the fast path: count bytes, fewer only under EVL's short
 * read rule, when the producer went (its tail, then -EPIPE), or with
 * XBUF_NONBLOCK (whatever is there, -EAGAIN when nothing is).
 */
static inline ssize_t xbuf_fast_read(struct xbuf_fast *f, void *buf, size_t count, int flags)
{
	bool nonblock = flags & XBUF_NONBLOCK;
	ssize_t n;

	if (!count)
		return 0;
	if (!f->consumer)
		return -ENOBUFS;
	if (!nonblock && count > f->capacity)
		return -EINVAL;
	for (;;) {
		n = xbuf_fast_settle(f, count, nonblock);
		if (n > 0) {
			/* C1 done (acquire of prod.pos): the bytes are there to read. */
			memcpy(buf, f->data + (f->pos & f->mask), (size_t)n);
			xbuf_fast_commit(f, (__u64)n);	/* C2 */
			return n;
		}
		if (n < 0)
			return n;
		if (nonblock)
			return xbuf_fast_eagain(f);
		n = xbuf_fast_wait(f, count);
		if (n < 0)
			return n;
	}
}

/* xbuf_write() on the fast path: all count bytes or none. */
static inline ssize_t xbuf_fast_write(struct xbuf_fast *f, const void *buf, size_t count, int flags)
{
	ssize_t n;

	if (!count)
		return 0;
	if (f->consumer)
		return -ENOBUFS;
	if (count > f->capacity)
		return -EINVAL;
	for (;;) {
		n = xbuf_fast_settle(f, count, false);
		if (n > 0) {
			/* P2 done (acquire of cons.pos): the consumer is past these bytes. */
			memcpy(f->data + (f->pos & f->mask), buf, count);
			xbuf_fast_commit(f, count);	/* P1 */
			return (ssize_t)count;
		}
		if (n < 0)
			return n;
		if (flags & XBUF_NONBLOCK)
			return xbuf_fast_eagain(f);
		n = xbuf_fast_wait(f, count);
		if (n < 0)
			return n;
	}
}

#ifdef __cplusplus
}
#endif

#endif /* XBUF_FAST_H */
