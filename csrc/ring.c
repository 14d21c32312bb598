// SPDX-License-Identifier: MIT
/*
 * ring.c - the ring engine: borrow a span, commit it, sleep and wake.
 *
 * Both sides of a cross-buffer run this same code on their own ends. The
 * protocol and the layout are drawn in xbuf_abi.h; the barrier tags used
 * below (P1, P2, C1, C2, W1, K1) are defined there.
 *
 * Fast path: no syscall. A reader or writer that finds what it needs
 * borrows a span under its end's process-local mutex, and the commit
 * publishes it with one release store. A wake (a futex wake, or
 * XBUF_IOC_KICK for an in-kernel peer) happens only when the peer
 * announced itself as waiting.
 *
 * How an end sleeps, wakes and claims is its backend's (struct
 * xb_backend_ops in internal.h): the user-space one is at the end of
 * this file, the kernel one in kernel.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

#define load_acquire(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define load_seq_cst(p)		__atomic_load_n((p), __ATOMIC_SEQ_CST)
#define load_relaxed(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define counter_inc(p)		__atomic_fetch_add((p), 1, __ATOMIC_RELAXED)

static void futex_wake_shared(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/*
 * Bytes a consumer may read, given the producer's (untrusted) position:
 * clamped to [0, capacity] so a lying peer can only garble its own data.
 */
static uint64_t consumer_fill(const struct xb_end *e, uint64_t prod, uint64_t cons)
{
	uint64_t fill = prod - cons;

	if ((int64_t)fill < 0)
		return 0;
	return fill > e->capacity ? e->capacity : fill;
}

/*
 * Bytes a producer may write, given the consumer's (untrusted) position. A
 * consumer claiming to be past the producer, or more than a ring behind,
 * leaves no room: never overwrite what may be unread.
 */
static uint64_t producer_room(const struct xb_end *e, uint64_t prod, uint64_t cons)
{
	uint64_t used = prod - cons;

	return used > e->capacity ? 0 : e->capacity - used;
}

uint64_t xb_fill(const struct xb_end *e)
{
	const struct xbuf_shm_endpoint *prod, *cons;

	if (!e->data)
		return 0;
	prod = e->role == XB_PRODUCER ? e->self : e->peer;
	cons = e->role == XB_PRODUCER ? e->peer : e->self;
	return consumer_fill(e, load_acquire(&prod->pos), load_acquire(&cons->pos));
}

/*
 * What a read of count bytes would take right now; 0 = it would wait.
 * partial: O_NONBLOCK semantics, take whatever is there. Otherwise a short
 * read happens only when a writer is stuck: it sleeps and the room left
 * after our fill is less than the smallest write waiting for room, so only
 * our taking what is there can unblock it (EVL's deadlock rule).
 */
static uint64_t readable_now(const struct xb_end *e, size_t count, bool partial)
{
	uint64_t cons = load_relaxed(&e->self->pos);
	/* C1: pairs with P1 in xb_end_commit() of the producer (seq_cst for W1). */
	uint64_t fill = consumer_fill(e, load_seq_cst(&e->peer->pos), cons);

	if (fill >= count)
		return count;
	if (!fill)
		return 0;
	if (partial)
		return fill;
	if (load_acquire(&e->peer->waiters) && e->capacity - fill < load_relaxed(&e->peer->wanted))
		return fill;
	return 0;
}

static bool writable_now(const struct xb_end *e, size_t count)
{
	uint64_t prod = load_relaxed(&e->self->pos);
	/* P2: pairs with C2 in xb_end_commit() of the consumer (seq_cst for W1). */
	uint64_t cons = load_seq_cst(&e->peer->pos);

	return producer_room(e, prod, cons) >= count;
}

/*
 * Adaptive waiting: before a caller sleeps, it polls the ring for a while.
 * A futex sleep and the wake-up of a thread on another CPU cost tens of
 * microseconds on the machines we measured (about 50 us on a 2-core VM);
 * a peer that answers sooner is caught without either. The default spin
 * is 50 us; XBUF_SPIN_US sets it (0: sleep at once). Read once.
 */
static int64_t spin_ns = -1;

static int64_t spin_budget(void)
{
	int64_t ns = __atomic_load_n(&spin_ns, __ATOMIC_RELAXED);

	if (ns < 0) {
		const char *env = getenv("XBUF_SPIN_US");
		long us = env && *env ? strtol(env, NULL, 10) : 50;

		ns = us > 0 ? (int64_t)(us < 1000000 ? us : 1000000) * 1000 : 0;
		__atomic_store_n(&spin_ns, ns, __ATOMIC_RELAXED);
	}
	return ns;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Poll until one of ends is ready for count, or the spin budget is spent. */
static bool spin_until_ready(struct xb_end **ends, int n, size_t count)
{
	int64_t budget = spin_budget(), deadline;
	int i;

	if (!budget)
		return false;
	deadline = now_ns() + budget;
	do {
		for (i = 0; i < n; i++) {
			bool ready = ends[i]->role == XB_CONSUMER ? readable_now(ends[i], count ? count : 1, false) != 0
								 : writable_now(ends[i], count ? count : 1);

			if (ready || ends[i]->ops->peer_gone(ends[i]))
				return true;
		}
		for (i = 0; i < 64; i++)
			cpu_relax();
	} while (now_ns() < deadline);
	return false;
}

int xb_ready(struct xb_end *e, int events, size_t count)
{
	if (events & XBUF_POLLIN)
		return readable_now(e, count ? count : 1, false) ? XBUF_POLLIN : 0;
	return writable_now(e, count ? count : 1) ? XBUF_POLLOUT : 0;
}

/* A producer's `wanted`: the smallest count among its sleeping writers. */
static void publish_wanted(struct xb_end *e)
{
	uint64_t min = UINT64_MAX;
	struct xb_waitnode *n;

	for (n = e->sleepers; n; n = n->next)
		if (n->count < min)
			min = n->count;
	if (min != UINT64_MAX)
		__atomic_store_n(&e->self->wanted, (uint32_t)min, __ATOMIC_RELEASE);
}

/*
 * Register a sleeper on an end (W1), with the end's lock held. A producer
 * that starts waiting for room also bumps its seq and wakes sleeping
 * consumers: they may now owe it a short read.
 */
static void waiter_enter(struct xb_handle *h, struct xb_end *e, struct xb_waitnode *node,
			 uint64_t count)
{
	node->count = count;
	node->next = e->sleepers;
	e->sleepers = node;
	if (e->role == XB_PRODUCER)
		publish_wanted(e);	/* before `waiters`: a reader that sees us sees our need */
	__atomic_fetch_add(&e->self->waiters, 1, __ATOMIC_SEQ_CST);	/* W1: pairs with K1 */
	if (e->role == XB_PRODUCER) {
		__atomic_fetch_add(&e->self->seq, 1, __ATOMIC_SEQ_CST);
		if (load_acquire(&e->peer->waiters)) {
			e->ops->wake(h, e);
			counter_inc(&e->self->wakeups);
		}
	}
}

/* Unregister a sleeper, with the end's lock held. */
static void waiter_leave(struct xb_end *e, struct xb_waitnode *node)
{
	struct xb_waitnode **pp;

	for (pp = &e->sleepers; *pp; pp = &(*pp)->next)
		if (*pp == node) {
			*pp = node->next;
			break;
		}
	__atomic_fetch_sub(&e->self->waiters, 1, __ATOMIC_RELEASE);
	if (e->role == XB_PRODUCER)
		publish_wanted(e);
}

static int end_lock(struct xb_end *e)
{
	int ret = pthread_mutex_lock(&e->lock);

	if (ret == EDEADLK)
		return -EBUSY;	/* this thread holds a borrow on this end */
	return -ret;
}

static void end_unlock(struct xb_end *e)
{
	pthread_mutex_unlock(&e->lock);
}

static void end_take(struct xb_end *e, uint64_t n)
{
	e->borrowed = n;
	e->holding = true;
	__atomic_store_n(&e->holder, pthread_self(), __ATOMIC_RELAXED);
}

ssize_t xb_read_begin(struct xb_handle *h, struct xb_end *e, size_t count,
		      enum xb_mode mode, const void **data)
{
	struct xb_waitnode node;
	bool waiting = false, spun = false;
	uint64_t n;
	int ret;

	if (!e->data)
		return -ENOBUFS;
	if (count == 0)
		return 0;
	if (mode != XB_NONBLOCK && count > e->capacity)
		return -EINVAL;
	ret = end_lock(e);
	if (ret)
		return ret;
	ret = e->ops->claim(e);
	if (ret)
		goto out_unlock;

	for (;;) {
		uint32_t gen = __atomic_load_n(&xb_local_gen, __ATOMIC_ACQUIRE);
		struct xb_sleep_on on = {
			.seq = &e->peer->seq,
			.val = load_acquire(&e->peer->seq),	/* before the position: see W1 */
			.peer = e->peer,
			.events = XBUF_POLLIN,
			.count = count,
		};

		n = readable_now(e, count, mode == XB_NONBLOCK);
		/*
		 * Nobody will ever write more (the producer let go or died):
		 * like a pipe, hand out what is left, then EPIPE, whatever the
		 * mode, rather than wait or EAGAIN for ever.
		 */
		if (!n && e->ops->peer_gone(e)) {
			n = xb_fill(e);
			if (!n) {
				ret = -EPIPE;
				goto out_settle;
			}
		}
		if (n)
			break;
		if (mode != XB_BLOCK) {
			if (mode == XB_NONBLOCK)
				counter_inc(&e->self->eagain);
			ret = -EAGAIN;
			goto out_settle;
		}
		if (!spun) {
			spun = true;
			if (spin_until_ready(&e, 1, count))
				continue;
		}
		if (!waiting) {
			waiter_enter(h, e, &node, count);
			waiting = true;
			continue;	/* check again, now that the producer must see us */
		}
		end_unlock(e);
		ret = e->ops->sleep(h, &on, 1, gen, NULL);
		pthread_mutex_lock(&e->lock);
		if (ret)
			goto out_leave;
	}
	if (waiting)
		waiter_leave(e, &node);
	*data = e->data + (load_relaxed(&e->self->pos) & e->mask);
	end_take(e, n);
	return (ssize_t)n;

out_settle:
	if (!waiting)
		goto out_unlock;
out_leave:
	waiter_leave(e, &node);
out_unlock:
	end_unlock(e);
	return ret;
}

ssize_t xb_write_begin(struct xb_handle *h, struct xb_end *e, size_t count,
		       enum xb_mode mode, void **data)
{
	struct xb_waitnode node;
	bool waiting = false, spun = false;
	int ret;

	if (!e->data)
		return -ENOBUFS;
	if (count == 0)
		return 0;
	if (count > e->capacity)
		return -EINVAL;
	ret = end_lock(e);
	if (ret)
		return ret;
	ret = e->ops->claim(e);
	if (ret)
		goto out_unlock;

	for (;;) {
		uint32_t gen = __atomic_load_n(&xb_local_gen, __ATOMIC_ACQUIRE);
		struct xb_sleep_on on = {
			.seq = &e->peer->seq,
			.val = load_acquire(&e->peer->seq),
			.peer = e->peer,
			.events = XBUF_POLLOUT,
			.count = count,
		};

		if (writable_now(e, count))
			break;
		/* Nobody will ever make room: EPIPE, as a pipe without readers. */
		if (e->ops->peer_gone(e)) {
			ret = -EPIPE;
			goto out_settle;
		}
		if (mode != XB_BLOCK) {
			if (mode == XB_NONBLOCK)
				counter_inc(&e->self->eagain);
			ret = -EAGAIN;
			goto out_settle;
		}
		if (!spun) {
			spun = true;
			if (spin_until_ready(&e, 1, count))
				continue;
		}
		if (!waiting) {
			waiter_enter(h, e, &node, count);
			waiting = true;
			continue;
		}
		end_unlock(e);
		ret = e->ops->sleep(h, &on, 1, gen, NULL);
		pthread_mutex_lock(&e->lock);
		if (ret)
			goto out_leave;
	}
	if (waiting)
		waiter_leave(e, &node);
	*data = e->data + (load_relaxed(&e->self->pos) & e->mask);
	end_take(e, count);
	return (ssize_t)count;

out_settle:
	if (!waiting)
		goto out_unlock;
out_leave:
	waiter_leave(e, &node);
out_unlock:
	end_unlock(e);
	return ret;
}

/*
 * Return a borrow: advance our position by n (publishing n bytes for a
 * producer, freeing n bytes for a consumer) and wake the peer if it sleeps.
 */
int xb_end_commit(struct xb_handle *h, struct xb_end *e, size_t n)
{
	if (!e->holding || !pthread_equal(__atomic_load_n(&e->holder, __ATOMIC_RELAXED), pthread_self()))
		return -EINVAL;
	if (n > e->borrowed)
		return -EINVAL;
	if (n) {
		uint64_t pos = load_relaxed(&e->self->pos) + n;

		/*
		 * P1 (producer): pairs with C1 in readable_now(); C2 (consumer):
		 * pairs with P2 in writable_now(). Sequentially consistent, and
		 * so is the load of `waiters` below: K1, which pairs with W1 in
		 * waiter_enter() (a user-space peer), or with the W1 smp_mb() of
		 * an in-kernel sleeper in kmod/xbuf_ring.c, which the kernel
		 * backend's wake (XBUF_IOC_KICK) then wakes: either we see its
		 * waiter or it sees our pos.
		 */
		__atomic_store_n(&e->self->pos, pos, __ATOMIC_SEQ_CST);
		counter_inc(&e->self->ops);
		if (__atomic_load_n(&e->peer->waiters, __ATOMIC_SEQ_CST)) {
			__atomic_fetch_add(&e->self->seq, 1, __ATOMIC_RELEASE);
			e->ops->wake(h, e);
			counter_inc(&e->self->wakeups);
		}
	}
	e->holding = false;
	e->borrowed = 0;
	end_unlock(e);
	return 0;
}

static void deadline_after(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void poll_leave(struct xb_end **ends, struct xb_waitnode *nodes, int n)
{
	for (int i = 0; i < n; i++) {
		pthread_mutex_lock(&ends[i]->lock);
		waiter_leave(ends[i], &nodes[i]);
		end_unlock(ends[i]);
	}
}

/* Join the sleepers of each end (a poller counts as a blocked caller). */
static int poll_enter(struct xb_handle *h, struct xb_end **ends, struct xb_waitnode *nodes,
		      int n, size_t count)
{
	for (int i = 0; i < n; i++) {
		int ret = end_lock(ends[i]);

		if (!ret) {
			ret = ends[i]->ops->claim(ends[i]);
			if (!ret)
				waiter_enter(h, ends[i], &nodes[i], count ? count : 1);
			end_unlock(ends[i]);
		}
		if (ret) {
			poll_leave(ends, nodes, i);
			return ret;
		}
	}
	return 0;
}

/*
 * Wait until a blocking read (XBUF_POLLIN) and/or write (XBUF_POLLOUT) of
 * count bytes would complete, without taking the end: readiness only.
 * spin: poll the ring for the spin budget before sleeping (see spin_budget()).
 */
int xb_poll(struct xb_handle *h, int events, size_t count, int timeout_ms, bool spin)
{
	struct xb_element *el = h->el;
	struct xb_end *ends[2] = { NULL, NULL };
	struct xb_waitnode nodes[2];
	struct timespec deadline;
	bool waiting = false, spun = false;
	int i, nends = 0, ready;

	if (!events || (events & ~(XBUF_POLLIN | XBUF_POLLOUT)))
		return -EINVAL;
	if (events & XBUF_POLLIN)
		ends[nends++] = xb_end_of(el, h->side, xb_read_ring(h->side));
	if (events & XBUF_POLLOUT)
		ends[nends++] = xb_end_of(el, h->side, xb_write_ring(h->side));
	for (i = 0; i < nends; i++) {
		if (!ends[i]->data)
			return -ENOBUFS;
		if (count > ends[i]->capacity)
			return -EINVAL;
	}
	if (timeout_ms > 0)
		deadline_after(&deadline, timeout_ms);

	for (;;) {
		uint32_t gen = __atomic_load_n(&xb_local_gen, __ATOMIC_ACQUIRE);
		struct xb_sleep_on on[2];

		ready = 0;
		for (i = 0; i < nends; i++) {
			on[i].seq = &ends[i]->peer->seq;
			on[i].val = load_acquire(&ends[i]->peer->seq);
			on[i].peer = ends[i]->peer;
			on[i].events = ends[i]->role == XB_CONSUMER ? XBUF_POLLIN : XBUF_POLLOUT;
			on[i].count = count ? count : 1;
			ready |= xb_ready(ends[i], ends[i]->role == XB_CONSUMER ? XBUF_POLLIN : XBUF_POLLOUT, count);
		}
		if (ready || timeout_ms == 0)
			break;
		if (!spun) {
			spun = true;
			if (spin && spin_until_ready(ends, nends, count))
				continue;
		}
		if (!waiting) {
			ready = poll_enter(h, ends, nodes, nends, count);
			if (ready)
				return ready;
			waiting = true;
			continue;
		}
		ready = el->ops->sleep(h, on, nends, gen, timeout_ms > 0 ? &deadline : NULL);
		if (ready == -ETIMEDOUT) {
			ready = 0;
			break;
		}
		if (ready < 0)
			break;
	}
	if (waiting)
		poll_leave(ends, nodes, nends);
	return ready;
}

void xb_end_init(struct xb_end *e, struct xb_element *el, int ring, int role, int side)
{
	struct xbuf_shm_side *pages[2] = {
		[XBUF_SIDE_APP] = (void *)((char *)el->base + XBUF_APP_PAGE * el->info.page_size),
		[XBUF_SIDE_DRIVER] = (void *)((char *)el->base + XBUF_DRIVER_PAGE * el->info.page_size),
	};
	int other = side == XBUF_SIDE_APP ? XBUF_SIDE_DRIVER : XBUF_SIDE_APP;
	const struct xbuf_shm_ring_info *ri = &el->info.ring[ring];
	pthread_mutexattr_t attr;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&e->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	e->ops = el->ops;
	e->ring = ring;
	e->role = role;
	e->self = role == XB_PRODUCER ? &pages[side]->prod : &pages[side]->cons;
	e->peer = role == XB_PRODUCER ? &pages[other]->cons : &pages[other]->prod;
	e->capacity = ri->capacity;
	e->mask = ri->data_size ? ri->data_size - 1 : 0;
	e->data = ri->data_size ? (unsigned char *)el->base + ri->data_map_off : NULL;
}

void xb_end_release(struct xb_end *e)
{
	e->ops->release(e);
}

/*
 * The user-space backend: both sides are processes sharing the object.
 */

/*
 * Has the process at the other end let go of it, or died? Costs no syscall
 * for a live peer: the watcher thread (peer.c) tells deaths.
 */
static bool peer_gone(const struct xbuf_shm_endpoint *peer)
{
	uint32_t owner = load_acquire(&peer->owner);

	return owner && owner != (uint32_t)xb_self_pid() &&
	       (owner == XBUF_OWNER_GONE || xb_peer_dead((pid_t)owner));
}

static bool user_peer_gone(const struct xb_end *e)
{
	return peer_gone(e->peer);
}

/*
 * Sleep until one of the peers' seq moves, the process-local generation
 * moves (close, peer death), or the deadline passes. `gen` must have been
 * read before the caller's last check of the ring, so nothing in between
 * is missed. Returns 0 to re-check, or -EPIPE, -EBADF, -EINTR, -ETIMEDOUT.
 */
static int user_sleep(struct xb_handle *h, const struct xb_sleep_on *on, int n,
		      uint32_t gen, const struct timespec *deadline)
{
	struct futex_waitv w[3] = { 0 };
	int i;

	if (__atomic_load_n(&h->closed, __ATOMIC_ACQUIRE))
		return -EBADF;
	for (i = 0; i < n; i++) {
		if (peer_gone(on[i].peer))
			return -EPIPE;
		w[i].uaddr = (uintptr_t)on[i].seq;
		w[i].val = on[i].val;
		w[i].flags = FUTEX_32;	/* shared: the word lives in a MAP_SHARED mapping */
	}
	w[n].uaddr = (uintptr_t)&xb_local_gen;
	w[n].val = gen;
	w[n].flags = FUTEX_32 | FUTEX_PRIVATE_FLAG;

	if (syscall(SYS_futex_waitv, w, n + 1, 0, deadline, CLOCK_MONOTONIC) >= 0)
		return 0;
	switch (errno) {
	case EAGAIN:		/* a word moved before we slept */
		return 0;
	case EINTR:
		return -EINTR;
	case ETIMEDOUT:
		return -ETIMEDOUT;
	default:
		return -errno;
	}
}

/*
 * Claim the end for this process: its pid goes into the endpoint's owner
 * word, which is how the peer detects our death. A live process holding
 * it already makes the end busy; a dead one's claim is taken over.
 */
static int user_claim(struct xb_end *e)
{
	uint32_t me = (uint32_t)xb_self_pid();
	uint32_t cur;

	if (e->claimed)
		return 0;
	cur = load_acquire(&e->self->owner);
	for (;;) {
		if (cur != 0 && cur != XBUF_OWNER_GONE && cur != me && !xb_peer_dead((pid_t)cur))
			return -EBUSY;
		if (__atomic_compare_exchange_n(&e->self->owner, &cur, me, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			break;
	}
	e->claimed = true;
	return 0;
}

/*
 * Give up this process's claim on the end (the last handle of its side
 * went). The peer's sleepers are told: like a pipe's, its blocked calls
 * then fail with EPIPE, until a new process takes the end.
 */
static void user_release(struct xb_end *e)
{
	uint32_t me = (uint32_t)xb_self_pid();

	if (!e->claimed)
		return;
	e->claimed = false;
	if (!__atomic_compare_exchange_n(&e->self->owner, &me, XBUF_OWNER_GONE, false,
					 __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		return;
	__atomic_fetch_add(&e->self->seq, 1, __ATOMIC_SEQ_CST);
	futex_wake_shared(&e->self->seq);
}

/* The peer sleeps in futex_waitv() on our seq, which the caller bumped. */
static void user_wake(struct xb_handle *h, struct xb_end *e)
{
	(void)h;
	futex_wake_shared(&e->self->seq);
}

/* Sleepers wait on xb_local_gen too: xb_handle_cancel()'s wake-up is enough. */
static void user_cancel(struct xb_handle *h)
{
	(void)h;
}

const struct xb_backend_ops xb_user_ops = {
	.backend	= XBUF_BACKEND_USER,
	.claim		= user_claim,
	.release	= user_release,
	.sleep		= user_sleep,
	.wake		= user_wake,
	.peer_gone	= user_peer_gone,
	.cancel		= user_cancel,
};
