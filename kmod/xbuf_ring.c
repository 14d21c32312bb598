// SPDX-License-Identifier: GPL-2.0
/*
 * xbuf_ring.c - the ring engine of the kernel backend: both ends of both
 * directions, with EVL's semantics.
 *
 * Positions are free-running u64 byte counts; the byte at position p lives
 * at data[p & mask], and the data area is mapped twice back to back (in the
 * kernel's vmap as in user space), so [p & mask, (p & mask) + n) with
 * n <= capacity is contiguous: no copy ever splits at the wrap.
 *
 * Trust: the driver-side positions live in kernel memory (drv_pos) and are
 * mirrored into the driver page, which user space only maps read-only. The
 * app-side positions live in the app page, which the application may write
 * at will. The arithmetic on them is xbuf/abi.h's, shared with the
 * library: a consumer's fill is clamped to [0, capacity] (xbuf_abi_fill()),
 * and a producer finds no room when the consumer position is ahead of its
 * own or more than a ring behind (xbuf_abi_room()), so it never overwrites
 * what may be unread. Garbage there can only disturb this element's own
 * traffic, never make the kernel touch memory outside the data area.
 *
 * Memory-ordering protocol (xbuf/abi.h names the pairs P1/C1, C2/P2,
 * W1/K1; the user-space side of each pair is in csrc/ring.c):
 *
 *   producer: copy bytes; smp_store_release(prod.pos)            P1
 *   consumer: smp_load_acquire(prod.pos); copy bytes             C1 (pairs with P1)
 *   consumer: copy bytes; smp_store_release(cons.pos)            C2
 *   producer: smp_load_acquire(cons.pos); overwrite bytes        P2 (pairs with C2)
 *   waiter:   waiters++; smp_mb(); recheck positions; sleep      W1
 *   waker:    store pos; smp_mb(); if (peer waiters) wake        K1 (pairs with W1)
 *   a producer that starts waiting stores `wanted` (smallest count of
 *   its sleeping writers) before `waiters`, bumps its seq and wakes the
 *   consumer: a blocking read is short only when a writer is stuck, i.e.
 *   it sleeps, fill > 0 and capacity - fill < wanted (EVL's deadlock rule).
 *
 * The driver end copies outside its raw spinlock (EVL's way): under the
 * lock, O(1) work only: reserve [drv_rsv, drv_rsv + n) and count the copy
 * in flight (drv_busy); copy with the lock dropped; under the lock again,
 * the last copy in flight publishes drv_pos = drv_rsv (P1/C2 then K1), so
 * positions move in order and never over a range still being copied.
 * The sleeper lists and their `wanted` live under sleep_lock (only
 * sleepers, in task context, take it); the raw lock's holders only read
 * `wanted`. The app end copies under app_lock with page faults disabled:
 * a fault drops the lock, faults the user pages in and retries, so a slow
 * fault (userfaultfd) never stalls another user of the element.
 *
 * In the kernel, "sleep" is a wait queue: wait_event*() re-checks its
 * condition after set_current_state(), a full barrier, and the waker's
 * waitqueue_active() test follows its own smp_mb() (the wq_has_sleeper()
 * pattern). User space cannot sleep on our pages (they are VM_PFNMAP, so no
 * futex): it sleeps in read(2)/write(2)/poll(2)/XBUF_IOC_WAIT, and wakes
 * an in-kernel peer that waits (driver page `waiters` != 0) with
 * XBUF_IOC_KICK after advancing a position through the mapping.
 */
#include <linux/errno.h>
#include <linux/export.h>
#include <linux/fcntl.h>
#include <linux/jiffies.h>
#include <linux/minmax.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include "xbuf_internal.h"

/* Endpoint words are plain memory shared with user space. */
static inline void xbk_ep_inc64(__u64 *p)
{
	WRITE_ONCE(*p, READ_ONCE(*p) + 1);
}

static inline void xbk_ep_inc32(__u32 *p)
{
	WRITE_ONCE(*p, READ_ONCE(*p) + 1);
}

static inline void xbk_ep_dec32(__u32 *p)
{
	WRITE_ONCE(*p, READ_ONCE(*p) - 1);
}

/*
 * The stream's end (evl_shutdown_xbuf()), as the application side sees
 * it. Load it before the positions: the acquire pairs with the
 * smp_store_release() in evl_shutdown_xbuf(), which follows the
 * positions the driver's finished calls published, so an end seen means
 * every byte before it is seen too (drain first, then EPIPE).
 */
static inline bool xbk_drv_gone(struct xbk_ring *r)
{
	return smp_load_acquire(&r->drv_ended);
}

/* The application left (xbk_ring_app_gone()): driver calls get -EIDRM. */
static inline bool xbk_app_left(struct xbk_ring *r)
{
	return READ_ONCE(r->xbuf->app_gone);
}

/*
 * A driver call after evl_shutdown_xbuf() starts a new stream where the
 * old one stopped: both directions, so the application waits again
 * instead of getting EPIPE. Any context.
 */
static void xbk_drv_resume(struct evl_xbuf *xbuf)
{
	unsigned long flags;
	int dir;

	for (dir = 0; dir < 2; dir++) {
		struct xbk_ring *r = &xbuf->ring[dir];

		if (likely(!READ_ONCE(r->drv_ended)))
			continue;
		raw_spin_lock_irqsave(&r->lock, flags);
		WRITE_ONCE(r->drv_ended, false);
		WRITE_ONCE(r->drv_ep->owner, 0);
		raw_spin_unlock_irqrestore(&r->lock, flags);
	}
}

/* Bytes a driver-end reader may take: from the reservation head on. */
static u64 xbk_drv_avail(struct xbk_ring *r)
{
	/* C1: pairs with P1 smp_store_release(&app_ep->pos) in xbk_app_write() and csrc/ring.c. */
	u64 prod = smp_load_acquire(&r->app_ep->pos);

	return xbuf_abi_fill(r->capacity, prod, READ_ONCE(r->drv_rsv));
}

/* Bytes a driver-end writer may reserve. */
static u64 xbk_drv_room(struct xbk_ring *r)
{
	/* P2: pairs with C2 smp_store_release(&app_ep->pos) in xbk_app_read() and csrc/ring.c. */
	u64 cons = smp_load_acquire(&r->app_ep->pos);

	return xbuf_abi_room(r->capacity, READ_ONCE(r->drv_rsv), cons);
}

/*
 * Both positions of a ring, as any observer sees them. The driver position
 * is ours; the app position is untrusted: only xbuf/abi.h's clamped
 * arithmetic is applied to it.
 */
static void xbk_ring_pos(struct xbk_ring *r, u64 *prod, u64 *cons)
{
	/*
	 * Acquire both: C1 pairs with the producer's P1 release, P2 with the
	 * consumer's C2 release (xbk_drv_*(), xbk_app_*(), csrc/ring.c).
	 */
	if (r->dir == XBUF_INBOUND) {
		*prod = smp_load_acquire(&r->drv_pos);
		*cons = smp_load_acquire(&r->app_ep->pos);
	} else {
		*prod = smp_load_acquire(&r->app_ep->pos);
		*cons = smp_load_acquire(&r->drv_pos);
	}
}

/* Bytes the consumer of a ring may read, in [0, capacity]. */
u64 xbk_ring_fill(struct xbk_ring *r)
{
	u64 prod, cons;

	if (!r->capacity)
		return 0;
	xbk_ring_pos(r, &prod, &cons);

	return xbuf_abi_fill(r->capacity, prod, cons);
}

/* Bytes the producer of a ring may write: none if the positions disagree. */
static u64 xbk_ring_room(struct xbk_ring *r)
{
	u64 prod, cons;

	if (!r->capacity)
		return 0;
	xbk_ring_pos(r, &prod, &cons);

	return xbuf_abi_room(r->capacity, prod, cons);
}

/* A writer sleeping for room, on drv_sleepers or app_sleepers. */
struct xbk_sleeper {
	struct list_head next;
	u64 count;
};

/*
 * Inbound: an in-kernel writer is stuck (xbuf_abi_writer_stuck(): it
 * sleeps and the room left is less than the smallest write waiting): only
 * a short read can unblock it. The waiters count is read first; the writer
 * stored drv_wanted before raising it.
 */
static bool xbk_drv_writer_stuck(struct xbk_ring *r, u64 fill)
{
	u32 waiters = atomic_read(&r->drv_waiters);

	smp_rmb();	/* pairs with smp_mb__before_atomic() in xbk_sleeper_enter() */

	return xbuf_abi_writer_stuck(r->capacity, fill, waiters,
				     READ_ONCE(r->drv_wanted));
}

/*
 * Outbound: same for application writers: write(2)/XBUF_IOC_WAIT sleepers
 * (trusted), or user-space sleepers announced in the app page (a hint: a
 * lying app only gets short reads on its own traffic).
 */
static bool xbk_app_writer_stuck(struct xbk_ring *r, u64 fill)
{
	u32 waiters = atomic_read(&r->app_waiters);

	smp_rmb();	/* pairs with smp_mb__before_atomic() in xbk_sleeper_enter() */
	if (xbuf_abi_writer_stuck(r->capacity, fill, waiters,
				  READ_ONCE(r->app_wanted)))
		return true;

	return xbuf_abi_writer_stuck(r->capacity, fill,
				     READ_ONCE(r->app_ep->waiters),
				     READ_ONCE(r->app_ep->wanted));
}

/* A blocking read(2) of count bytes would complete (count 0: any byte). */
static bool xbk_app_read_ready(struct xbk_ring *r, u64 count)
{
	u64 fill = xbk_ring_fill(r);

	if (!fill)
		return false;

	return fill >= count || xbk_drv_writer_stuck(r, fill);
}

static bool xbk_drv_read_ready(struct xbk_ring *r, u64 count)
{
	u64 fill = xbk_drv_avail(r);

	if (!fill)
		return false;

	return fill >= count || xbk_app_writer_stuck(r, fill);
}

/*
 * Recompute the smallest count of a sleeper list; under r->sleep_lock,
 * never under the raw lock (O(sleepers)). Published before `waiters` is
 * raised (xbk_sleeper_enter()) and after it is lowered.
 */
static void xbk_update_wanted(struct list_head *sleepers, u64 *wanted,
			       struct xbuf_shm_endpoint *ep)
{
	struct xbk_sleeper *s;
	u64 min = U64_MAX;

	list_for_each_entry(s, sleepers, next)
		min = min_t(u64, min, s->count);
	if (min == U64_MAX)
		return;		/* nobody left: `waiters` says so */

	WRITE_ONCE(*wanted, min);
	WRITE_ONCE(ep->wanted, (__u32)min);	/* capacity <= 2^30 */
}

/*
 * A writer starts sleeping: publish `wanted` before the caller raises
 * `waiters`, as xbuf/abi.h says (W1 follows in the caller).
 */
static void xbk_sleeper_enter(struct xbk_ring *r, struct list_head *sleepers,
			       u64 *wanted, struct xbuf_shm_endpoint *ep,
			       struct xbk_sleeper *me, u64 count)
{
	spin_lock(&r->sleep_lock);
	me->count = count;
	list_add(&me->next, sleepers);
	xbk_update_wanted(sleepers, wanted, ep);
	spin_unlock(&r->sleep_lock);
	/* Pairs with smp_rmb() in xbk_drv_writer_stuck()/xbk_app_writer_stuck(). */
	smp_mb__before_atomic();
}

static void xbk_sleeper_leave(struct xbk_ring *r, struct list_head *sleepers,
			       u64 *wanted, struct xbuf_shm_endpoint *ep,
			       struct xbk_sleeper *me)
{
	spin_lock(&r->sleep_lock);
	list_del(&me->next);
	xbk_update_wanted(sleepers, wanted, ep);
	spin_unlock(&r->sleep_lock);
}

static inline bool xbk_has_room(struct xbk_ring *r, u64 count)
{
	return xbk_ring_room(r) >= max_t(u64, count, 1);
}

static void xbk_app_wake_work(struct irq_work *work)
{
	struct xbk_ring *r = container_of(work, struct xbk_ring, app_wake_work);

	wake_up_all(&r->app_wq);
}

/*
 * Wake the app end. From hard irq (hrtimer callbacks), or from any caller
 * with irqs disabled, through irq_work: wake_up_all() takes a spinlock_t,
 * which sleeps on PREEMPT_RT.
 */
static void xbk_wake_app(struct xbk_ring *r)
{
	if (!in_task() || irqs_disabled())
		irq_work_queue(&r->app_wake_work);
	else
		wake_up_all(&r->app_wq);
}

/*
 * K1 on the driver end, called under r->lock right after the position
 * store: tells whether the app end must be woken.
 */
static bool xbk_drv_k1(struct xbk_ring *r)
{
	/*
	 * K1: pairs with W1, i.e. the set_current_state() of wait_event*()
	 * in xbk_app_read()/xbk_app_write()/xbk_ring_wait(), the smp_mb() after
	 * poll_wait() in xbk_elem_poll(), and the waiters++/smp_mb() of a
	 * user-space waiter in csrc/ring.c.
	 */
	smp_mb();
	if (!READ_ONCE(r->app_ep->waiters) && !waitqueue_active(&r->app_wq))
		return false;

	xbk_ep_inc32(&r->drv_ep->seq);
	xbk_ep_inc64(&r->drv_ep->wakeups);

	return true;
}

/* K1 on the app end, called under r->app_lock right after the position store. */
static void xbk_app_k1(struct xbk_ring *r)
{
	/* K1: pairs with the W1 smp_mb() in xbk_drv_write()/xbk_drv_read(). */
	smp_mb();
	if (!atomic_read(&r->drv_waiters))
		return;

	xbk_ep_inc32(&r->app_ep->seq);
	xbk_ep_inc64(&r->app_ep->wakeups);
	wake_up_all(&r->drv_wq);
}

/*
 * The last copy in flight publishes what was reserved (P1 for a producer,
 * C2 for a consumer); then K1. Under r->lock.
 */
static bool xbk_drv_commit(struct xbk_ring *r)
{
	if (--r->drv_busy)
		return false;	/* a copy still runs: its commit publishes ours too */

	/*
	 * P1: pairs with C1 smp_load_acquire(&r->drv_pos) in xbk_app_read()
	 * and with the acquire of the driver page prod.pos in csrc/ring.c;
	 * C2: pairs with P2 smp_load_acquire(&r->drv_pos) in xbk_app_write()
	 * and with the acquire of the driver page cons.pos in csrc/ring.c.
	 */
	smp_store_release(&r->drv_pos, r->drv_rsv);
	smp_store_release(&r->drv_ep->pos, r->drv_rsv);

	return xbk_drv_k1(r);
}

/* The driver end's waiting state goes; under r->lock. */
static void xbk_drv_unwait(struct xbk_ring *r)
{
	atomic_dec(&r->drv_waiters);
	xbk_ep_dec32(&r->drv_ep->waiters);
}

/*
 * Driver end, producer (inbound): evl_write_xbuf(). All or nothing.
 */
static ssize_t xbk_drv_write(struct xbk_ring *r, const void *buf,
			      size_t count, int f_flags)
{
	bool nonblock = f_flags & O_NONBLOCK, waiting = false, wake;
	struct xbk_sleeper me;
	unsigned long flags;
	u64 pos, cons;
	int ret;

	if (!count)
		return 0;
	if (xbk_app_left(r))
		return -EIDRM;
	if (!r->capacity)
		return -ENOBUFS;
	if (count > r->capacity)
		return -EINVAL;
	if (!nonblock && xbk_cannot_block())
		return -EPERM;
	xbk_drv_resume(r->xbuf);

	for (;;) {
		raw_spin_lock_irqsave(&r->lock, flags);
		/* P2: pairs with C2 smp_store_release(&app_ep->pos) in xbk_app_read() and csrc/ring.c. */
		cons = smp_load_acquire(&r->app_ep->pos);
		if (xbuf_abi_room(r->capacity, r->drv_rsv, cons) >= count) {
			pos = r->drv_rsv;
			r->drv_rsv = pos + count;
			r->drv_busy++;
			if (waiting)
				xbk_drv_unwait(r);
			raw_spin_unlock_irqrestore(&r->lock, flags);
			break;
		}

		if (nonblock) {
			xbk_ep_inc64(&r->drv_ep->eagain);
			raw_spin_unlock_irqrestore(&r->lock, flags);
			return -EAGAIN;
		}

		if (!waiting) {
			/*
			 * A producer that starts waiting publishes `wanted`,
			 * then `waiters`, bumps its seq and wakes the consumer,
			 * which may then take a short read (EVL's deadlock
			 * prevention). Room is checked again before sleeping.
			 */
			raw_spin_unlock_irqrestore(&r->lock, flags);
			waiting = true;
			xbk_sleeper_enter(r, &r->drv_sleepers, &r->drv_wanted,
					   r->drv_ep, &me, count);
			raw_spin_lock_irqsave(&r->lock, flags);
			atomic_inc(&r->drv_waiters);
			xbk_ep_inc32(&r->drv_ep->waiters);
			xbk_ep_inc32(&r->drv_ep->seq);
			raw_spin_unlock_irqrestore(&r->lock, flags);
			xbk_wake_app(r);
			continue;
		}
		raw_spin_unlock_irqrestore(&r->lock, flags);

		/* W1: pairs with K1 smp_mb() in xbk_app_k1() and XBUF_IOC_KICK users. */
		smp_mb();
		/* The app leaving wakes us: the WRITE_ONCE() before wake_up_all() in xbk_ring_app_gone(). */
		ret = wait_event_interruptible(r->drv_wq,
					       xbk_drv_room(r) >= count || xbk_app_left(r));
		if (!ret && xbk_app_left(r))
			ret = -EIDRM;
		if (ret)
			goto out_unwait;
	}

	if (waiting)
		xbk_sleeper_leave(r, &r->drv_sleepers, &r->drv_wanted, r->drv_ep, &me);

	memcpy(r->data + (pos & r->mask), buf, count);

	raw_spin_lock_irqsave(&r->lock, flags);
	xbk_ep_inc64(&r->drv_ep->ops);
	wake = xbk_drv_commit(r);
	raw_spin_unlock_irqrestore(&r->lock, flags);
	if (wake)
		xbk_wake_app(r);

	return count;

out_unwait:
	raw_spin_lock_irqsave(&r->lock, flags);
	xbk_drv_unwait(r);
	raw_spin_unlock_irqrestore(&r->lock, flags);
	xbk_sleeper_leave(r, &r->drv_sleepers, &r->drv_wanted, r->drv_ep, &me);

	return ret;
}

/*
 * Driver end, consumer (outbound): evl_read_xbuf(). Blocking reads are
 * exact unless an application writer waits for room.
 */
static ssize_t xbk_drv_read(struct xbk_ring *r, void *buf, size_t count,
			     int f_flags)
{
	bool nonblock = f_flags & O_NONBLOCK, waiting = false, wake;
	unsigned long flags;
	u64 pos, prod, avail, n;
	int ret;

	if (!count)
		return 0;
	if (xbk_app_left(r))
		return -EIDRM;
	if (!r->capacity)
		return -ENOBUFS;
	if (!nonblock && count > r->capacity)
		return -EINVAL;
	if (!nonblock && xbk_cannot_block())
		return -EPERM;
	xbk_drv_resume(r->xbuf);

	for (;;) {
		raw_spin_lock_irqsave(&r->lock, flags);
		pos = r->drv_rsv;
		/* C1: pairs with P1 smp_store_release(&app_ep->pos) in xbk_app_write() and csrc/ring.c. */
		prod = smp_load_acquire(&r->app_ep->pos);
		avail = xbuf_abi_fill(r->capacity, prod, pos);
		n = min_t(u64, avail, count);
		if (n == count || (n && (nonblock || xbk_app_writer_stuck(r, avail)))) {
			r->drv_rsv = pos + n;
			r->drv_busy++;
			if (waiting)
				xbk_drv_unwait(r);
			raw_spin_unlock_irqrestore(&r->lock, flags);
			break;
		}

		if (nonblock) {
			xbk_ep_inc64(&r->drv_ep->eagain);
			raw_spin_unlock_irqrestore(&r->lock, flags);
			return -EAGAIN;
		}

		if (!waiting) {
			waiting = true;
			atomic_inc(&r->drv_waiters);
			xbk_ep_inc32(&r->drv_ep->waiters);
		}
		raw_spin_unlock_irqrestore(&r->lock, flags);

		/* W1: pairs with K1 smp_mb() in xbk_app_k1() and XBUF_IOC_KICK users. */
		smp_mb();
		/* The app leaving wakes us: the WRITE_ONCE() before wake_up_all() in xbk_ring_app_gone(). */
		ret = wait_event_interruptible(r->drv_wq,
					       xbk_drv_read_ready(r, count) || xbk_app_left(r));
		if (!ret && xbk_app_left(r))
			ret = -EIDRM;
		if (ret)
			goto out_unwait;
	}

	memcpy(buf, r->data + (pos & r->mask), n);

	raw_spin_lock_irqsave(&r->lock, flags);
	xbk_ep_inc64(&r->drv_ep->ops);
	wake = xbk_drv_commit(r);
	raw_spin_unlock_irqrestore(&r->lock, flags);
	if (wake)
		xbk_wake_app(r);

	return n;

out_unwait:
	raw_spin_lock_irqsave(&r->lock, flags);
	xbk_drv_unwait(r);
	raw_spin_unlock_irqrestore(&r->lock, flags);

	return ret;
}

/*
 * The app end sleeps without holding app_lock. Its waiters count is both
 * kernel-private (trusted) and mirrored into the app page for user space.
 */
static void xbk_app_wait_begin(struct xbk_ring *r, struct xbk_sleeper *me,
				u64 count)
{
	if (me)
		xbk_sleeper_enter(r, &r->app_sleepers, &r->app_wanted, r->app_ep,
				   me, count);
	atomic_inc(&r->app_waiters);
	atomic_inc((atomic_t *)&r->app_ep->waiters);
	if (me) {
		/* A producer starting to wait bumps its seq; the driver may short-read. */
		atomic_inc((atomic_t *)&r->app_ep->seq);
		wake_up_all(&r->drv_wq);
	}
	/* W1: pairs with K1 smp_mb() in xbk_drv_k1(). */
	smp_mb__after_atomic();
}

static void xbk_app_wait_end(struct xbk_ring *r, struct xbk_sleeper *me)
{
	atomic_dec((atomic_t *)&r->app_ep->waiters);
	atomic_dec(&r->app_waiters);
	if (me)
		xbk_sleeper_leave(r, &r->app_sleepers, &r->app_wanted, r->app_ep, me);
}

/* Application end, consumer (inbound): read(2). */
ssize_t xbk_app_read(struct evl_xbuf *xbuf, char __user *ubuf, size_t count,
		      bool nonblock)
{
	struct xbk_ring *r = &xbuf->ring[XBUF_INBOUND];
	u64 cons, prod, avail, n;
	bool ended;
	int ret;

	if (!count)
		return 0;
	if (!r->capacity)
		return -ENOBUFS;
	if (!nonblock && count > r->capacity)
		return -EINVAL;
	ret = xbk_claimed_elsewhere(xbuf, XBUF_KCLAIM_IN);
	if (ret)
		return ret;

	for (;;) {
		if (mutex_lock_interruptible(&r->app_lock))
			return -ERESTARTSYS;

		ended = xbk_drv_gone(r);	/* before the position: see there */
		cons = READ_ONCE(r->app_ep->pos);
		/* C1: pairs with P1 smp_store_release(&r->drv_pos) in xbk_drv_write(). */
		prod = smp_load_acquire(&r->drv_pos);
		avail = xbuf_abi_fill(r->capacity, prod, cons);
		n = min_t(u64, avail, count);
		/* The stream ended: what is left (a short read), then EPIPE, like a pipe. */
		if (n == count || (n && (nonblock || ended || xbk_drv_writer_stuck(r, avail))))
			goto copy;

		if (ended) {
			mutex_unlock(&r->app_lock);
			return -EPIPE;
		}
		if (nonblock) {
			xbk_ep_inc64(&r->app_ep->eagain);
			mutex_unlock(&r->app_lock);
			return -EAGAIN;
		}
		mutex_unlock(&r->app_lock);

		xbk_app_wait_begin(r, NULL, 0);
		ret = wait_event_interruptible(r->app_wq,
					       xbk_app_read_ready(r, count) || xbk_drv_gone(r));
		xbk_app_wait_end(r, NULL);
		if (ret)
			return ret;
		continue;
copy:
		/* Never sleep on a fault with app_lock held: fault in, retry. */
		if (!copy_to_user_nofault(ubuf, r->data + (cons & r->mask), n))
			break;
		mutex_unlock(&r->app_lock);
		if (fault_in_safe_writeable(ubuf, n))
			return -EFAULT;
	}

	/* C2: pairs with P2 smp_load_acquire(&app_ep->pos) in xbk_drv_write(). */
	smp_store_release(&r->app_ep->pos, cons + n);
	xbk_ep_inc64(&r->app_ep->ops);
	xbk_app_k1(r);
	mutex_unlock(&r->app_lock);

	return n;
}

/* Application end, producer (outbound): write(2). All or nothing. */
ssize_t xbk_app_write(struct evl_xbuf *xbuf, const char __user *ubuf,
		       size_t count, bool nonblock)
{
	struct xbk_ring *r = &xbuf->ring[XBUF_OUTBOUND];
	struct xbk_sleeper me;
	u64 pos, cons;
	int ret;

	if (!count)
		return 0;
	if (!r->capacity)
		return -ENOBUFS;
	if (count > r->capacity)
		return -EINVAL;
	ret = xbk_claimed_elsewhere(xbuf, XBUF_KCLAIM_OUT);
	if (ret)
		return ret;

	for (;;) {
		if (mutex_lock_interruptible(&r->app_lock))
			return -ERESTARTSYS;

		/* Nobody will read it: EPIPE at once, like a pipe. */
		if (xbk_drv_gone(r)) {
			mutex_unlock(&r->app_lock);
			return -EPIPE;
		}
		pos = READ_ONCE(r->app_ep->pos);
		/* P2: pairs with C2 smp_store_release(&r->drv_pos) in xbk_drv_read(). */
		cons = smp_load_acquire(&r->drv_pos);
		if (xbuf_abi_room(r->capacity, pos, cons) >= count)
			goto copy;

		if (nonblock) {
			xbk_ep_inc64(&r->app_ep->eagain);
			mutex_unlock(&r->app_lock);
			return -EAGAIN;
		}
		mutex_unlock(&r->app_lock);

		xbk_app_wait_begin(r, &me, count);
		ret = wait_event_interruptible(r->app_wq,
					       xbk_has_room(r, count) || xbk_drv_gone(r));
		xbk_app_wait_end(r, &me);
		if (ret)
			return ret;
		continue;
copy:
		/*
		 * Not published on failure: the bytes stay invisible, nothing
		 * is lost. Never sleep on a fault with app_lock held.
		 */
		if (!copy_from_user_nofault(r->data + (pos & r->mask), ubuf, count))
			break;
		mutex_unlock(&r->app_lock);
		if (fault_in_readable(ubuf, count))
			return -EFAULT;
	}

	/* P1: pairs with C1 smp_load_acquire(&app_ep->pos) in xbk_drv_read(). */
	smp_store_release(&r->app_ep->pos, pos + count);
	xbk_ep_inc64(&r->app_ep->ops);
	xbk_app_k1(r);
	mutex_unlock(&r->app_lock);

	return count;
}

/*
 * poll(2) mask, evaluated after poll_wait() and its smp_mb() in
 * xbk_elem_poll(): EPOLLIN when the inbound ring holds at least one byte,
 * EPOLLOUT when the outbound ring has room for at least one byte (EVL's
 * rule), EPOLLHUP once the driver ended the stream (a read drains what
 * is left, then fails with EPIPE; a write fails at once). XBUF_IOC_WAIT
 * waits for a byte count instead.
 */
__poll_t xbk_ring_poll(struct evl_xbuf *xbuf)
{
	struct xbk_ring *in = &xbuf->ring[XBUF_INBOUND];
	struct xbk_ring *out = &xbuf->ring[XBUF_OUTBOUND];
	__poll_t mask = 0;

	/* Both rings end and resume together (evl_shutdown_xbuf(), xbk_drv_resume()). */
	if (xbk_drv_gone(in))
		mask |= EPOLLHUP;

	if (in->capacity && xbk_ring_fill(in))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (out->capacity && xbk_has_room(out, 1))
		mask |= EPOLLOUT | EPOLLWRNORM;

	return mask;
}

/*
 * The ready mask, or (eos: the caller asked with XBUF_KWAIT_EOS) -EPIPE
 * once the stream ended and no event is ready: a reader is ready while a
 * tail is left (any byte: the read is short), a writer never is (its
 * write fails at once). Ready events first, as xb_poll() in
 * csrc/ring.c. Without eos the end is not reported: a library older
 * than it re-checks only its own words and would spin on an EPIPE.
 */
static long xbk_wait_ready(struct evl_xbuf *xbuf, u32 events, u64 count, bool eos)
{
	struct xbk_ring *in = &xbuf->ring[XBUF_INBOUND];
	struct xbk_ring *out = &xbuf->ring[XBUF_OUTBOUND];
	bool gone = false, ended;
	u32 ready = 0;

	if (events & XBUF_KWAIT_IN) {
		ended = eos && xbk_drv_gone(in);	/* before the fill: see there */
		if (xbk_app_read_ready(in, ended ? 1 : count))
			ready |= XBUF_KWAIT_IN;
		else
			gone |= ended;
	}
	if (events & XBUF_KWAIT_OUT) {
		if (eos && xbk_drv_gone(out))
			gone = true;
		else if (xbk_has_room(out, count))
			ready |= XBUF_KWAIT_OUT;
	}

	return ready ?: gone ? -EPIPE : 0;
}

/* XBUF_IOC_WAIT: xbuf_poll() of the library, for the kernel backend. */
long xbk_ring_wait(struct evl_xbuf *xbuf, const struct xbuf_wait_req *req,
		    const bool *cancelled)
{
	struct xbk_ring *in = &xbuf->ring[XBUF_INBOUND];
	struct xbk_ring *out = &xbuf->ring[XBUF_OUTBOUND];
	u32 events = req->events & ~XBUF_KWAIT_EOS;
	bool eos = req->events & XBUF_KWAIT_EOS;
	struct xbk_sleeper me;
	DEFINE_WAIT(win);
	DEFINE_WAIT(wout);
	long timeout, ready, ret = 0;

	if (!events || (events & ~(XBUF_KWAIT_IN | XBUF_KWAIT_OUT)) || req->__pad)
		return -EINVAL;
	if ((events & XBUF_KWAIT_IN) && !in->capacity)
		return -ENOBUFS;
	if ((events & XBUF_KWAIT_OUT) && !out->capacity)
		return -ENOBUFS;
	if (((events & XBUF_KWAIT_IN) && req->count > in->capacity) ||
	    ((events & XBUF_KWAIT_OUT) && req->count > out->capacity))
		return -EINVAL;

	ready = xbk_wait_ready(xbuf, events, req->count, eos);
	if (ready || !req->timeout_ns)
		return ready;

	timeout = req->timeout_ns < 0 ? MAX_SCHEDULE_TIMEOUT :
		  (long)min_t(u64, nsecs_to_jiffies64(req->timeout_ns) + 1,
			      MAX_SCHEDULE_TIMEOUT - 1);

	if (events & XBUF_KWAIT_IN)
		xbk_app_wait_begin(in, NULL, 0);
	if (events & XBUF_KWAIT_OUT)
		xbk_app_wait_begin(out, &me, max_t(u64, req->count, 1));

	for (;;) {
		if (events & XBUF_KWAIT_IN)
			prepare_to_wait(&in->app_wq, &win, TASK_INTERRUPTIBLE);
		if (events & XBUF_KWAIT_OUT)
			prepare_to_wait(&out->app_wq, &wout, TASK_INTERRUPTIBLE);
		ready = xbk_wait_ready(xbuf, events, req->count, eos);
		if (ready || !timeout)
			break;
		/* Pairs with the WRITE_ONCE() before the wake-ups in xbk_ring_cancel(). */
		if (READ_ONCE(*cancelled)) {
			ret = -ECANCELED;
			break;
		}
		if (signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		timeout = schedule_timeout(timeout);
	}

	if (events & XBUF_KWAIT_IN) {
		finish_wait(&in->app_wq, &win);
		xbk_app_wait_end(in, NULL);
	}
	if (events & XBUF_KWAIT_OUT) {
		finish_wait(&out->app_wq, &wout);
		xbk_app_wait_end(out, &me);
	}

	return ret ?: ready;
}

/*
 * XBUF_IOC_CANCEL: end the XBUF_IOC_WAIT calls of one file. The flag is set
 * before the wake-ups, and a waiter tests it after prepare_to_wait(), so it
 * either sees the flag or is on the queue when the wake-up comes.
 */
void xbk_ring_cancel(struct evl_xbuf *xbuf, bool *cancelled)
{
	int dir;

	WRITE_ONCE(*cancelled, true);
	for (dir = 0; dir < 2; dir++)
		wake_up_all(&xbuf->ring[dir].app_wq);
}

/*
 * XBUF_IOC_KICK: the application advanced a position through the mapping
 * and saw an in-kernel waiter; the waiters re-check their conditions.
 */
void xbk_ring_kick(struct evl_xbuf *xbuf)
{
	int dir;

	/* K1 (user-space store, smp_mb, read of `waiters`) happened in csrc/ring.c. */
	for (dir = 0; dir < 2; dir++)
		wake_up_all(&xbuf->ring[dir].drv_wq);
}

/*
 * The application left (its last element file went): every driver call
 * blocked on the element returns -EIDRM now, and every later one at its
 * start (EVL's evl_flush_wait(EVL_T_RMID)). The flag is set before the
 * wake-ups, and the sleepers test it in their wait_event*() condition,
 * after set_current_state(): either they see it or the wake-up finds
 * them on the queue.
 */
void xbk_ring_app_gone(struct evl_xbuf *xbuf)
{
	int dir;

	WRITE_ONCE(xbuf->app_gone, true);
	for (dir = 0; dir < 2; dir++)
		wake_up_all(&xbuf->ring[dir].drv_wq);
}

void xbk_ring_init(struct evl_xbuf *xbuf, int dir)
{
	struct xbuf_shm_ring_info *ri = &xbuf->info->ring[dir];
	struct xbk_ring *r = &xbuf->ring[dir];

	r->dir = dir;
	r->xbuf = xbuf;
	r->drv_ended = false;
	raw_spin_lock_init(&r->lock);
	r->drv_pos = 0;
	r->drv_rsv = 0;
	r->drv_busy = 0;
	spin_lock_init(&r->sleep_lock);
	atomic_set(&r->drv_waiters, 0);
	init_waitqueue_head(&r->drv_wq);
	INIT_LIST_HEAD(&r->drv_sleepers);
	mutex_init(&r->app_lock);
	atomic_set(&r->app_waiters, 0);
	init_waitqueue_head(&r->app_wq);
	INIT_LIST_HEAD(&r->app_sleepers);
	init_irq_work(&r->app_wake_work, xbk_app_wake_work);
	r->capacity = ri->capacity;
	r->mask = ri->data_size ? ri->data_size - 1 : 0;
	r->data = ri->data_size ? (u8 *)xbuf->base + ri->data_map_off : NULL;
	if (dir == XBUF_INBOUND) {
		r->drv_ep = &xbuf->drv->prod;
		r->app_ep = &xbuf->app->cons;
	} else {
		r->drv_ep = &xbuf->drv->cons;
		r->app_ep = &xbuf->app->prod;
	}
}

void xbk_ring_destroy(struct xbk_ring *r)
{
	irq_work_sync(&r->app_wake_work);
	mutex_destroy(&r->app_lock);
}

/*
 * Neither may run in NMI context: the raw lock could be held by the code
 * the NMI interrupted.
 */
ssize_t evl_read_xbuf(struct evl_xbuf *xbuf, void *buf, size_t count,
		      int f_flags)
{
	if (in_nmi())
		return -EPERM;
	return xbk_drv_read(&xbuf->ring[XBUF_OUTBOUND], buf, count, f_flags);
}
EXPORT_SYMBOL_GPL(evl_read_xbuf);

ssize_t evl_write_xbuf(struct evl_xbuf *xbuf, const void *buf, size_t count,
		       int f_flags)
{
	if (in_nmi())
		return -EPERM;
	return xbk_drv_write(&xbuf->ring[XBUF_INBOUND], buf, count, f_flags);
}
EXPORT_SYMBOL_GPL(evl_write_xbuf);

/*
 * End the stream, both directions: the application reads what is left,
 * then EPIPE; its writes fail with EPIPE; poll(2) says EPOLLHUP. The
 * ABI's word for a peer gone, XBUF_OWNER_GONE in the driver page's
 * `owner`, tells the library and the bindings, which read the mapping.
 * Under each ring's lock, so no commit is half published; a call of the
 * driver still in flight races with the end (its bytes may come after
 * it). The driver's own blocked calls go on. Any context but NMI.
 */
int evl_shutdown_xbuf(struct evl_xbuf *xbuf)
{
	unsigned long flags;
	bool wake;
	int dir;

	if (in_nmi())
		return -EPERM;
	if (READ_ONCE(xbuf->app_gone))
		return -EIDRM;

	for (dir = 0; dir < 2; dir++) {
		struct xbk_ring *r = &xbuf->ring[dir];

		raw_spin_lock_irqsave(&r->lock, flags);
		/*
		 * After the positions of the calls that returned (published
		 * under this lock): pairs with the acquire in xbk_drv_gone(),
		 * and, for the owner word, with the acquire of the driver
		 * page's `owner` in csrc/kernel.c and src/fast.ts.
		 */
		smp_store_release(&r->drv_ended, true);
		smp_store_release(&r->drv_ep->owner, XBUF_OWNER_GONE);
		/* K1: a sleeper of the app end must look again (the wake rule's "release"). */
		wake = xbk_drv_k1(r);
		raw_spin_unlock_irqrestore(&r->lock, flags);
		if (wake)
			xbk_wake_app(r);
	}

	return 0;
}
EXPORT_SYMBOL_GPL(evl_shutdown_xbuf);
