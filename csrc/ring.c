// SPDX-License-Identifier: MIT
/*
 * ring.c - the ring engine: borrow a span, commit it, sleep and wake.
 *
 * Both sides of a cross-buffer run this same code on their own ends, and
 * both roles run the same loop: xb_begin() borrows a span (bytes to read
 * for a consumer, room to write for a producer), xb_end_commit() returns
 * it, xb_copy() is begin + memcpy + commit for read(2)/write(2)-style
 * calls. The protocol, the layout and the ring arithmetic (clamped fill,
 * room, the short-read rule) are xbuf/abi.h's; the barrier tags used
 * below (P1, P2, C1, C2, W1, K1) are defined there.
 *
 * Fast path: no syscall. A reader or writer that finds what it needs
 * borrows a span under its end's process-local mutex, and the commit
 * publishes it with one release store. A wake (a futex wake, or
 * XBUF_IOC_KICK for an in-kernel peer) happens only when the peer
 * announced itself as waiting.
 *
 * How an end sleeps, wakes and claims is its backend's (struct
 * xb_backend_ops in internal.h: user.c, kernel.c), reached only through
 * the end's ops: the engine calls no backend and no upper layer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

#define load_acquire(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define load_seq_cst(p)		__atomic_load_n((p), __ATOMIC_SEQ_CST)
#define load_relaxed(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
/*
 * A display counter of our own endpoint: a plain load and store, since
 * only the end's lock holder writes it (a fetch-add, lock xadd on x86,
 * would cost a locked cycle on a line the peer reads, per message).
 */
#define counter_inc(p)		__atomic_store_n((p), load_relaxed(p) + 1, __ATOMIC_RELAXED)

uint64_t xb_fill(const struct xb_end *e)
{
	const struct xbuf_shm_endpoint *prod, *cons;

	if (!e->data)
		return 0;
	prod = e->role == XB_PRODUCER ? e->self : e->peer;
	cons = e->role == XB_PRODUCER ? e->peer : e->self;
	return xbuf_abi_fill(e->capacity, load_acquire(&prod->pos), load_acquire(&cons->pos));
}

/*
 * Load the peer's position (seq_cst: C1 or P2, and W1's second look) and
 * keep it in peer_seen, the end's process-local copy, with release: a
 * thread that takes a span on the copy's word is ordered after this load.
 */
static uint64_t peer_look(struct xb_end *e)
{
	uint64_t pos = load_seq_cst(&e->peer->pos);

	__atomic_store_n(&e->peer_seen, pos, __ATOMIC_RELEASE);
	return pos;
}

/*
 * What a read of count bytes would take right now; 0 = it would wait.
 * partial: O_NONBLOCK semantics, take whatever is there. Otherwise a short
 * read happens only when a writer is stuck (xbuf_abi_writer_stuck(): it
 * sleeps and the room left after our fill is less than the smallest write
 * waiting for room), so only our taking what is there can unblock it
 * (EVL's deadlock rule).
 */
static uint64_t readable_now(struct xb_end *e, size_t count, bool partial)
{
	uint64_t cons = load_relaxed(&e->self->pos);
	/*
	 * The producer's position as we last loaded it first: it is a lower
	 * bound of what it published (C1 was done then; the cache's release
	 * and acquire carry it to this thread), and while it answers, the
	 * producer's line stays where it is. Otherwise C1: pairs with P1 in
	 * xb_end_commit() of the producer (seq_cst for W1).
	 */
	uint64_t fill = xbuf_abi_fill(e->capacity, load_acquire(&e->peer_seen), cons);
	uint32_t waiters;

	if (fill >= count)
		return count;
	fill = xbuf_abi_fill(e->capacity, peer_look(e), cons);
	if (fill >= count)
		return count;
	if (!fill)
		return 0;
	if (partial)
		return fill;
	/*
	 * The producer stores `wanted` (release) before it increments
	 * `waiters`: load waiters first (acquire), in its own statement, so
	 * the wanted we read is at least that sleeper's.
	 */
	waiters = load_acquire(&e->peer->waiters);
	if (xbuf_abi_writer_stuck(e->capacity, fill, waiters, load_relaxed(&e->peer->wanted)))
		return fill;
	return 0;
}

/* What a write of count bytes may take right now: all of it, or 0 = it would wait. */
static uint64_t writable_now(struct xb_end *e, size_t count)
{
	uint64_t prod = load_relaxed(&e->self->pos);

	/* The consumer's position as last loaded: a lower bound of what it freed (see above). */
	if (xbuf_abi_room(e->capacity, prod, load_acquire(&e->peer_seen)) >= count)
		return count;
	/*
	 * P2: pairs with C2 in xb_end_commit() of the consumer (seq_cst for
	 * W1). A consumer position ahead of ours, or more than a ring behind,
	 * leaves no room (xbuf_abi_room()): never overwrite what may be unread.
	 */
	return xbuf_abi_room(e->capacity, prod, peer_look(e)) >= count ? count : 0;
}

/* What end e's role may take of count bytes right now; 0 = it would wait. */
static uint64_t ready_now(struct xb_end *e, size_t count, bool partial)
{
	return e->role == XB_CONSUMER ? readable_now(e, count, partial) : writable_now(e, count);
}

/* The poll event of an end's role. */
static int role_event(const struct xb_end *e)
{
	return e->role == XB_CONSUMER ? XBUF_POLLIN : XBUF_POLLOUT;
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
		for (i = 0; i < n; i++)
			if (ready_now(ends[i], count ? count : 1, false) || ends[i]->ops->peer_gone(ends[i]))
				return true;
		for (i = 0; i < 64; i++)
			cpu_relax();
	} while (now_ns() < deadline);
	return false;
}

/*
 * What a call of e's role for count bytes gets right now: n > 0 bytes,
 * 0 = it would wait, or -EPIPE. Once nobody will ever move the other end
 * again (the peer let go or died), like a pipe: a reader gets what is left
 * (at most count), then EPIPE, and a writer EPIPE at once, whatever the
 * mode, rather than wait or EAGAIN for ever. The published bytes always
 * come first: no caller says EPIPE while fill > 0.
 */
static int64_t settle_now(struct xb_end *e, size_t count, bool partial)
{
	uint64_t n;

	/*
	 * The application side left (the backend's peer_gone() says when):
	 * every driver call fails with EIDRM, as after EVL's xbuf_release()
	 * (its waits flushed with EVL_T_RMID). A clean departure shows in
	 * two words (no holder of the app end, the creator closed), so even
	 * a call that could complete fails; a death is seen by a call that
	 * would wait, and wakes those that sleep; after either, this end
	 * fails at once until a process claims the app end again.
	 */
	if (xb_end_side(e) == XBUF_SIDE_DRIVER) {
		uint32_t owner = load_acquire(&e->peer->owner);
		const struct xbuf_shm_side *app = (const void *)((const char *)e->el->base +
						XBUF_APP_PAGE * e->el->info.page_size);

		if (owner == load_relaxed(&e->peer_dead))
			return -EIDRM;	/* seen gone, and no process claimed the app end since */
		if ((!owner || owner == XBUF_OWNER_GONE) &&
		    load_acquire(&app->creator) == XBUF_OWNER_GONE)
			return -EIDRM;
	}
	/*
	 * The driver ended the stream (evl_shutdown_xbuf(): the owner words of
	 * its ends are XBUF_OWNER_GONE): an application write fails at once,
	 * as into a pipe nobody reads, on both backends (the module's
	 * write(2) too), rather than fill a ring nobody will drain. A death
	 * is seen when the write would wait.
	 */
	if (e->role == XB_PRODUCER && xb_end_side(e) == XBUF_SIDE_APP &&
	    load_acquire(&e->peer->owner) == XBUF_OWNER_GONE)
		return -EPIPE;
	n = ready_now(e, count, partial);
	if (n || !e->ops->peer_gone(e))
		return (int64_t)n;
	if (xb_end_side(e) == XBUF_SIDE_DRIVER) {
		uint32_t dead = load_acquire(&e->peer->owner);	/* a pid, or 0: the creator died */
		struct xb_end *o = xb_end_of(e->el, XBUF_SIDE_DRIVER, !e->ring);

		__atomic_store_n(&e->peer_dead, dead, __ATOMIC_RELAXED);
		if (load_acquire(&o->peer->owner) == dead)	/* the same process held the other app end */
			__atomic_store_n(&o->peer_dead, dead, __ATOMIC_RELAXED);
		return -EIDRM;
	}
	/* Gone: its last bytes are published (P1 before the owner word moved, or its death). */
	n = e->role == XB_CONSUMER ? xb_fill(e) : 0;
	if (n > count)
		n = count;	/* it published more since ready_now() looked */
	return n ? (int64_t)n : -EPIPE;
}

/*
 * Would a blocking call of e's role for count bytes complete now? Its
 * event, 0, or -EPIPE (the peer is gone and nothing is left to read):
 * a read of the tail a dead producer left completes, so it is ready.
 */
int xb_ready(struct xb_end *e, int events, size_t count)
{
	int64_t n = settle_now(e, count ? count : 1, false);

	(void)events;	/* the end's role says which */
	return n > 0 ? role_event(e) : (int)n;
}

/*
 * An end's `wanted`: the smallest count among its sleepers. A producer's
 * is the room its writers wait for (the short-read rule reads it), a
 * consumer's the fill its readers wait for. Both tell the peer's commit
 * whether a wake can help (peer_can_proceed()).
 */
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
 * Register a sleeper on an end (W1), with the end's lock held. `wanted`
 * goes out before `waiters` (a peer that sees us sees our need). A
 * producer that starts waiting for room also bumps its seq and wakes
 * sleeping consumers: they may now owe it a short read.
 */
static void waiter_enter(struct xb_handle *h, struct xb_end *e, struct xb_waitnode *node,
			 uint64_t count)
{
	node->count = count;
	node->next = e->sleepers;
	e->sleepers = node;
	publish_wanted(e);	/* before `waiters`: a peer that sees us sees our need */
	__atomic_fetch_add(&e->self->waiters, 1, __ATOMIC_SEQ_CST);	/* W1: pairs with K1 */
	if (load_relaxed(&e->self->fence) == XBUF_FENCE_MEMBARRIER)
		xb_fence_heavy();	/* W1's half of K1's asymmetric form: a light commit's barrier */
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
	publish_wanted(e);
}

/*
 * The end's lock, biased. Any number of threads may share an end (EVL),
 * but most ends are moved by one thread, and a mutex costs it two locked
 * instructions per call, each of which waits for the store buffer to
 * drain, where the previous commit's position store sits until the peer,
 * reading that line, gives it back: a bare ring's release store becomes
 * a full barrier's wait, twice per message.
 *
 * So the first thread to lock an end has it biased to itself: it enters
 * and leaves with plain stores to `bias_in`, no locked instruction. The
 * first other thread to want the end revokes the bias for good, under the
 * mutex: it stores BIAS_OFF, then membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)
 * (fence.c), which stands for the biased thread's half of the handshake
 * (a store of bias_in, then a load of bias_state: a Dekker pair with only
 * a compiler barrier on the biased side), then waits for bias_in to drop.
 * From then on everyone, the biased thread included, takes the mutex.
 * Without that membarrier command (fence.c says), ends are never biased.
 * Errors as an error-checking mutex's: -EBUSY when this thread is inside
 * the end already (it holds a borrow on it).
 */
enum { BIAS_NONE = XB_BIAS_NONE, BIAS_ON = XB_BIAS_ON, BIAS_OFF = XB_BIAS_OFF };

static bool biased_to_me(const struct xb_end *e)
{
	return pthread_equal(__atomic_load_n(&e->bias, __ATOMIC_RELAXED), pthread_self());
}

/* Give a waiting revoker time: the biased thread is inside (a borrow may last). */
static void bias_backoff(unsigned *round)
{
	struct timespec ts = { 0, 1000L << (*round < 10 ? *round : 10) };	/* 1 us .. 1 ms */

	if (*round < 4)
		sched_yield();
	else
		nanosleep(&ts, NULL);
	(*round)++;
}

static int end_lock_mutex(struct xb_end *e, bool try)
{
	unsigned round = 0;
	int ret;

	if (biased_to_me(e) && load_relaxed(&e->bias_in))
		return -EBUSY;	/* inside already, on the bias */
	ret = try ? pthread_mutex_trylock(&e->lock) : pthread_mutex_lock(&e->lock);
	if (ret)
		return ret == EDEADLK || ret == EBUSY ? -EBUSY : -ret;
	if (load_relaxed(&e->bias_state) == BIAS_ON) {
		__atomic_store_n(&e->bias_state, BIAS_OFF, __ATOMIC_RELAXED);
		xb_fence_private();	/* pairs with the biased thread's compiler barrier in end_lock_as() */
	}
	/* A biased entry that began before the revocation runs to its end first. */
	while (load_acquire(&e->bias_in)) {
		if (try) {
			pthread_mutex_unlock(&e->lock);
			return -EBUSY;
		}
		bias_backoff(&round);
	}
	return 0;
}

static int end_lock_as(struct xb_end *e, bool try)
{
	uint32_t state = load_acquire(&e->bias_state);

	if (state == BIAS_NONE) {
		/* The first taker: bias the end to this thread (its mutex orders the two stores). */
		if (pthread_mutex_lock(&e->lock) == 0) {
			if (load_relaxed(&e->bias_state) == BIAS_NONE) {
				__atomic_store_n(&e->bias, pthread_self(), __ATOMIC_RELAXED);
				__atomic_store_n(&e->bias_state, xb_fence_private_ready() ? BIAS_ON : BIAS_OFF,
						 __ATOMIC_RELEASE);
			}
			pthread_mutex_unlock(&e->lock);
		}
		state = load_acquire(&e->bias_state);
	}
	if (state == BIAS_ON && biased_to_me(e)) {
		if (load_relaxed(&e->bias_in))
			return -EBUSY;	/* this thread holds a borrow on this end */
		__atomic_store_n(&e->bias_in, 1, __ATOMIC_RELAXED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);	/* a revoker's membarrier() is the barrier */
		if (load_relaxed(&e->bias_state) == BIAS_ON)
			return 0;
		__atomic_store_n(&e->bias_in, 0, __ATOMIC_RELEASE);	/* revoked meanwhile */
	}
	return end_lock_mutex(e, try);
}

static int end_lock(struct xb_end *e)
{
	return end_lock_as(e, false);
}

static void end_unlock(struct xb_end *e)
{
	if (biased_to_me(e) && load_relaxed(&e->bias_in)) {
		__atomic_store_n(&e->bias_in, 0, __ATOMIC_RELEASE);	/* a revoker's acquire pairs */
		return;
	}
	pthread_mutex_unlock(&e->lock);
}

/* Back in after a sleep: this thread was out of the end, so it cannot be inside. */
static void end_relock(struct xb_end *e)
{
	while (end_lock(e))
		;
}

int xb_end_lock(struct xb_end *e)
{
	return end_lock(e);
}

void xb_end_unlock(struct xb_end *e)
{
	end_unlock(e);
}

static void end_take(struct xb_end *e, uint64_t n)
{
	e->borrowed = n;
	e->holding = true;
	__atomic_store_n(&e->holder, pthread_self(), __ATOMIC_RELAXED);
}

/*
 * Borrow a span of e: count bytes to read (fewer in XB_NONBLOCK mode, or
 * when a writer is stuck), or room for all count bytes to write. One loop
 * for both roles: check, spin for the budget, register as a waiter (W1),
 * check again, sleep in the backend; the end's lock is held from here to
 * xb_end_commit() on success, dropped on failure.
 */
ssize_t xb_begin(struct xb_handle *h, struct xb_end *e, size_t count,
		 enum xb_mode mode, void **data)
{
	struct xb_waitnode node;
	bool waiting = false, spun = false;
	int64_t got;
	uint64_t n;
	int ret;

	if (count == 0)
		return 0;	/* EVL: before any other check, ENOBUFS included */
	if (!e->data)
		return -ENOBUFS;
	/* Above the capacity: a write, or a blocking read, could never complete. */
	if (count > e->capacity && (e->role == XB_PRODUCER || mode != XB_NONBLOCK))
		return -EINVAL;
	ret = end_lock(e);
	if (ret)
		return ret;
	ret = e->fast ? -EBUSY : e->ops->claim(e);	/* the binding's fast path owns it: xb_fast_claim() */
	if (ret)
		goto out_unlock;

	for (;;) {
		uint32_t token = 0;
		struct xb_sleep_on on;

		if (waiting) {
			/* Only a registered waiter sleeps: its token and seq come before the look. */
			token = e->ops->wait_token();
			on = (struct xb_sleep_on){
				.seq = &e->peer->seq,
				.val = load_acquire(&e->peer->seq),	/* before the position: see W1 */
				.peer = e->peer,
				.end = e,
				.events = role_event(e),
				.count = count,
			};
		}
		got = settle_now(e, count, mode == XB_NONBLOCK);
		if (got < 0) {
			ret = (int)got;	/* -EPIPE: gone, and nothing left to read; -EIDRM: the app left */
			goto out_settle;
		}
		n = (uint64_t)got;
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
			continue;	/* check again, now that the peer must see us (W1) */
		}
		end_unlock(e);
		ret = e->ops->sleep(h, &on, 1, token, NULL);
		end_relock(e);
		/*
		 * -EPIPE: the sleep saw the peer gone before we did (it died
		 * after our last look). Look again: settle_now() hands out what
		 * it published first, then says EPIPE itself.
		 */
		if (ret && ret != -EPIPE)
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

/*
 * The wake rule: can the sleeping peer of e proceed now that our position
 * is `pos`? Its sleepers published `wanted` (the smallest count they need)
 * before `waiters`, and we loaded `waiters` (seq_cst, K1) before this, so
 * the wanted we read is at least as low as any sleeper's we saw. 0 is
 * "unknown" (an in-kernel driver reader, or a libxbuf before the rule):
 * wake. A consumer sleeps for `wanted` bytes of fill; a producer for
 * `wanted` bytes of room. Their other conditions (a writer stuck: the
 * short read; a peer gone) are woken where they arise: a producer that
 * starts waiting, a claim or a release bumps seq and wakes at once. A
 * producer's own commit can make its own stuck writers' short read due,
 * so it wakes then too.
 */
static bool peer_can_proceed(const struct xb_end *e, uint64_t pos)
{
	uint32_t wanted = load_acquire(&e->peer->wanted);
	uint64_t peer_pos;

	if (!wanted)
		return true;
	peer_pos = load_acquire(&e->peer->pos);	/* clamped below, as every peer word */
	if (e->role == XB_PRODUCER) {
		uint64_t fill = xbuf_abi_fill(e->capacity, pos, peer_pos);

		return fill >= wanted ||
		       xbuf_abi_writer_stuck(e->capacity, fill, load_acquire(&e->self->waiters),
					     load_relaxed(&e->self->wanted));
	}
	return xbuf_abi_room(e->capacity, peer_pos, pos) >= wanted;
}

/* K1's wake: bump our seq (the peer compares it in its futex wait) and wake it. */
static void wake_peer(struct xb_handle *h, struct xb_end *e)
{
	__atomic_fetch_add(&e->self->seq, 1, __ATOMIC_RELEASE);
	e->ops->wake(h, e);
	counter_inc(&e->self->wakeups);
}

/*
 * Return a borrow: advance our position by n (publishing n bytes for a
 * producer, freeing n bytes for a consumer) and wake the peer if it sleeps
 * and can now proceed (the wake rule, peer_can_proceed()).
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
		 * so is the load of `waiters` below (or the asymmetric form):
		 * K1, which pairs with W1 in
		 * waiter_enter() (a user-space peer), or with the W1 smp_mb() of
		 * an in-kernel sleeper in kmod/xbuf_ring.c, which the kernel
		 * backend's wake (XBUF_IOC_KICK) then wakes: either we see its
		 * waiter or it sees our pos.
		 */
		uint32_t waiters;

		if (xb_fence_light() && load_relaxed(&e->peer->fence) == XBUF_FENCE_MEMBARRIER) {
			/*
			 * K1's asymmetric form (fence.c): the peer's sleepers
			 * fence with membarrier() after W1, which stands for our
			 * barrier; the compiler must still not hoist the load.
			 */
			__atomic_store_n(&e->self->pos, pos, __ATOMIC_RELEASE);
			__atomic_signal_fence(__ATOMIC_SEQ_CST);
			waiters = load_acquire(&e->peer->waiters);
		} else {
			__atomic_store_n(&e->self->pos, pos, __ATOMIC_SEQ_CST);
			waiters = __atomic_load_n(&e->peer->waiters, __ATOMIC_SEQ_CST);
		}
		counter_inc(&e->self->ops);
		if (waiters && peer_can_proceed(e, pos))
			wake_peer(h, e);
	}
	e->holding = false;
	e->borrowed = 0;
	end_unlock(e);
	return 0;
}

/*
 * The binding's fast path (docs/ABI.md, "The fast path of a binding"):
 * handle h takes end e for code that moves e's position itself, through
 * the mapping. From then on the C calls that borrow e (begin, read,
 * write) answer -EBUSY in this process, until h is closed; readiness
 * (xb_poll) and sleeping still work on e, and xb_fast_wake() wakes its
 * peer. -EBUSY as well if another handle has it, if a borrow of e is
 * outstanding (or another thread is inside a call on it right now), or if
 * another process holds the end (the backend's claim).
 */
int xb_fast_claim(struct xb_handle *h, struct xb_end *e)
{
	int ret;

	if (!e->data)
		return -ENOBUFS;
	if (end_lock_as(e, true))
		return -EBUSY;
	if (e->fast)
		ret = e->fast == h ? 0 : -EBUSY;
	else if (!(ret = e->ops->claim(e)))
		__atomic_store_n(&e->fast, h, __ATOMIC_RELAXED);
	end_unlock(e);
	return ret;
}

/* h is being closed: its fast-path ends go back to the C calls. */
void xb_fast_drop(struct xb_handle *h)
{
	int ring, role;

	for (ring = 0; ring < 2; ring++)
		for (role = 0; role < 2; role++) {
			struct xb_end *e = &h->el->end[ring][role];

			if (__atomic_load_n(&e->fast, __ATOMIC_RELAXED) != h)
				continue;
			end_relock(e);
			if (e->fast == h)
				__atomic_store_n(&e->fast, NULL, __ATOMIC_RELAXED);
			end_unlock(e);
		}
}

/* The fast path's K1 found the peer of e asleep and able to proceed (it checked the wake rule). */
void xb_fast_wake(struct xb_handle *h, struct xb_end *e)
{
	wake_peer(h, e);
}

/*
 * read(2)/write(2) on an end: borrow, copy out of (consumer) or into
 * (producer) buf, commit. The bytes are copied under the end's lock, so
 * a write's bytes are never interleaved with another's.
 */
ssize_t xb_copy(struct xb_handle *h, struct xb_end *e, void *buf, size_t count,
		enum xb_mode mode)
{
	void *data;
	ssize_t n = xb_begin(h, e, count, mode, &data);

	if (n <= 0)
		return n;
	if (e->role == XB_CONSUMER)
		memcpy(buf, data, (size_t)n);
	else
		memcpy(data, buf, (size_t)n);
	xb_end_commit(h, e, (size_t)n);	/* cannot fail: this thread holds the borrow */
	return n;
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
		end_relock(ends[i]);
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
 * One entry of a sleep on e's peer, then the look at the ring: the peer's
 * seq is loaded before the position (W1), so a commit after the look
 * moves it and the sleep does not start. Returns xb_ready().
 */
static int arm_and_look(struct xb_sleep_on *on, struct xb_end *e, size_t count)
{
	on->seq = &e->peer->seq;
	on->val = load_acquire(&e->peer->seq);
	on->peer = e->peer;
	on->end = e;
	on->events = role_event(e);
	on->count = count ? count : 1;
	return xb_ready(e, on->events, count);
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
	int i, nends = 0, ready, gone;

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
		uint32_t token = el->ops->wait_token();	/* before the look at the rings */
		struct xb_sleep_on on[2];

		ready = 0;
		gone = 0;
		for (i = 0; i < nends; i++) {
			int r;

			r = arm_and_look(&on[i], ends[i], count);
			if (r < 0)
				gone = r;
			else
				ready |= r;
		}
		/* Ready events first (a tail to read); EPIPE only when none is. */
		if (!ready && gone)
			ready = gone;
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
		ready = el->ops->sleep(h, on, nends, token, timeout_ms > 0 ? &deadline : NULL);
		if (ready == -ETIMEDOUT) {
			ready = 0;
			break;
		}
		/* -EPIPE: look again, the drain first (as in xb_begin()). */
		if (ready < 0 && ready != -EPIPE)
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
	e->el = el;
	e->peer_dead = XB_NOT_SEEN;	/* the app side not seen gone */
	e->ring = ring;
	e->role = role;
	e->self = role == XB_PRODUCER ? &pages[side]->prod : &pages[side]->cons;
	e->peer = role == XB_PRODUCER ? &pages[other]->cons : &pages[other]->prod;
	e->capacity = ri->capacity;
	e->mask = ri->data_size ? ri->data_size - 1 : 0;
	e->data = ri->data_size ? (unsigned char *)el->base + ri->data_map_off : NULL;
	e->peer_seen = load_acquire(&e->peer->pos);	/* a past position of the peer's: a lower bound */
}

void xb_end_release(struct xb_end *e)
{
	e->ops->release(e);
}

/*
 * Readiness over several ends, each of its own handle (evl_poll_xbuf(), the
 * driver side): revents[i] gets XBUF_POLLIN / XBUF_POLLOUT when a 1-byte
 * read or write on ends[i] would complete, or err[i] the error any call on
 * it would return now (-EIDRM: the application left; -EBUSY). Returns how
 * many ends are ready or failed, 0 on timeout, -EINTR. At most
 * XB_SLEEP_MAX ends: one sleep waits on all their peers at once.
 */
int xb_poll_ends(struct xb_handle **hs, struct xb_end **ends, int *revents, int *err,
		 int n, int timeout_ms)
{
	struct xb_waitnode nodes[XB_SLEEP_MAX];
	struct xb_sleep_on on[XB_SLEEP_MAX];
	struct timespec deadline;
	bool waiting = false, spun = false;
	int i, got = 0, ret = 0;

	if (n < 1 || n > XB_SLEEP_MAX)
		return -EINVAL;
	if (timeout_ms > 0)
		deadline_after(&deadline, timeout_ms);
	for (;;) {
		uint32_t token = ends[0]->ops->wait_token();	/* before the look at the rings */

		got = 0;
		for (i = 0; i < n; i++) {
			int r;

			r = arm_and_look(&on[i], ends[i], 1);
			revents[i] = r > 0 ? r : 0;
			err[i] = r < 0 ? r : 0;
			got += r != 0;
		}
		if (got || timeout_ms == 0)
			break;
		if (!spun) {
			spun = true;
			if (spin_until_ready(ends, n, 1))
				continue;
		}
		if (!waiting) {
			for (i = 0; i < n; i++) {
				int r = end_lock(ends[i]);

				if (!r) {
					r = ends[i]->ops->claim(ends[i]);
					if (!r)
						waiter_enter(hs[i], ends[i], &nodes[i], 1);
					end_unlock(ends[i]);
				}
				if (r) {
					/* Not ours to wait on (EBUSY): report it, leave the others. */
					err[i] = r;
					while (i--) {
						end_relock(ends[i]);
						waiter_leave(ends[i], &nodes[i]);
						end_unlock(ends[i]);
					}
					for (i = 0; i < n; i++)
						revents[i] = err[i] ? 0 : revents[i];
					return 1;
				}
			}
			waiting = true;
			continue;
		}
		ret = ends[0]->ops->sleep(hs[0], on, n, token, timeout_ms > 0 ? &deadline : NULL);
		if (ret == -ETIMEDOUT) {
			ret = 0;
			break;
		}
		if (ret < 0 && ret != -EPIPE)
			break;	/* -EINTR */
		ret = 0;
	}
	if (waiting)
		for (i = 0; i < n; i++) {
			end_relock(ends[i]);
			waiter_leave(ends[i], &nodes[i]);
			end_unlock(ends[i]);
		}
	return ret < 0 ? ret : got;
}
