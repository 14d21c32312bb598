// SPDX-License-Identifier: GPL-2.0
/*
 * latmus.c - companion driver of the latmus application, in the spirit of
 * EVL's: it measures the wake-up latency of a periodic hrtimer in kernel
 * space and sends one record per reporting interval to the application
 * through a cross-buffer, with the in-kernel API only.
 *
 *   app: fd = clone(...)  ioctl(latmus, START, {fd, period, interval})
 *        read(fd) / mmap  <-- inbound ring <-- evl_write_xbuf(O_NONBLOCK)
 *                                              from the hrtimer (hard irq)
 *
 * A record that does not fit is dropped and counted (STATS), never lost
 * silently: records are written whole or not at all.
 */
#include <linux/atomic.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/math64.h>
#include <linux/sched.h>
#include <linux/smp.h>
#include <linux/vmalloc.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <evl/xbuf.h>
#include "xbuf/kernel.h"
#define XBUF_LATMUS_EMITTER	/* the framed emitter, the user-space sampler's too */
#include "xbuf/kernel.h"

/* Raw samples the module holds while the ring is full: 0.65 s at 10 us. */
#define XBK_LATMUS_STAGE	(1u << 16)

static unsigned int max_sessions = 4;
module_param(max_sessions, uint, 0644);
MODULE_PARM_DESC(max_sessions, "latmus sessions that may run at once (default 4)");

static atomic_t xbk_latmus_running = ATOMIC_INIT(0);

struct xbk_latmus_session {
	struct mutex lock;		/* serializes START/STOP/release */
	struct evl_xbuf *xbuf;		/* non-NULL while running */
	struct evl_file *efile;
	struct hrtimer timer;
	ktime_t period;
	u32 per_interval;		/* periods one record covers */
	struct xbuf_latmus_acc acc;	/* timer callback only */
	/* Counters: read by STATS at any time. */
	atomic64_t records, dropped, shots;
	/* Framed sessions (SETUP): the sampler's own. */
	bool framed;
	u32 context;
	struct xbuf_latmus_out out;
	u32 *fake;
	u32 fake_count;
	u64 periods, done;
	int finishing;			/* FINISH asked: READ_ONCE in the sampler */
	int finished;			/* END written (or the ring failed) */
	struct task_struct *task;	/* XBUF_LATMUS_CTX_KTHREAD */
};

static void xbk_latmus_publish(struct xbk_latmus_session *s)
{
	atomic64_set(&s->records, s->out.records);
	atomic64_set(&s->dropped, s->out.dropped);
	atomic64_set(&s->shots, s->out.samples);
}

/*
 * The run is over (END written, or the ring failed): end the stream, so
 * the reader drains, then gets EPIPE, whatever it waits with. Sampler
 * context (hard irq or the kernel thread): evl_shutdown_xbuf() may.
 */
static void xbk_latmus_over(struct xbk_latmus_session *s)
{
	WRITE_ONCE(s->finished, 1);
	evl_shutdown_xbuf(s->xbuf);
}

/* One wake-up of a framed sampler: 0 go on, 1 the run is over (END written or a dead ring). */
static int xbk_latmus_framed(struct xbk_latmus_session *s, s64 lat, u64 missed)
{
	int ret;

	if (READ_ONCE(s->finishing) || (s->periods && s->done >= s->periods)) {
		ret = xbuf_latmus_out_finish(&s->out, 0);
		xbk_latmus_publish(s);
		if (!ret)
			return 0;	/* no room yet: again next period */
		xbk_latmus_over(s);
		return 1;
	}
	if (s->fake_count) {
		/* Deterministic: the table says the latency, and so the periods missed (as in user space). */
		lat = s->fake[s->out.samples % s->fake_count];
		missed = div64_u64((u64)lat, (u64)ktime_to_ns(s->period));
	}
	s->done += missed + 1;
	ret = xbuf_latmus_out_sample(&s->out, lat, missed);
	xbk_latmus_publish(s);
	if (ret < 0) {
		xbk_latmus_over(s);
		return 1;
	}
	return 0;
}

static void xbk_latmus_emit(struct xbk_latmus_session *s)
{
	struct xbuf_latmus_record rec;
	ssize_t ret;

	xbuf_latmus_acc_record(&s->acc, &rec);
	ret = evl_write_xbuf(s->xbuf, &rec, sizeof(rec), O_NONBLOCK);
	if (ret == sizeof(rec))
		atomic64_inc(&s->records);
	else
		atomic64_inc(&s->dropped);

	xbuf_latmus_acc_reset(&s->acc);
}

/*
 * Hard irq context (HRTIMER_MODE_ABS_HARD). The record rule is the one
 * of xbuf/kernel.h, the user-space sampler's too: hrtimer_forward()
 * counts the periods it skips plus the one ahead, so missed = that - 1,
 * and a record is due once samples + overruns cover the interval.
 */
static enum hrtimer_restart xbk_latmus_timer(struct hrtimer *timer)
{
	struct xbk_latmus_session *s = container_of(timer, struct xbk_latmus_session, timer);
	ktime_t now = hrtimer_cb_get_time(timer);
	s64 lat = ktime_to_ns(ktime_sub(now, hrtimer_get_expires(timer)));
	u64 fwd;

	fwd = hrtimer_forward(timer, now, s->period);
	if (s->framed)
		return xbk_latmus_framed(s, lat, fwd ? fwd - 1 : 0) ? HRTIMER_NORESTART : HRTIMER_RESTART;
	atomic64_inc(&s->shots);
	if (xbuf_latmus_acc_add(&s->acc, lat, fwd ? fwd - 1 : 0, s->per_interval))
		xbk_latmus_emit(s);

	return HRTIMER_RESTART;
}

/* XBUF_LATMUS_CTX_KTHREAD: a kernel thread the timer wakes, as EVL's --kernel. */
static int xbk_latmus_kthread(void *arg)
{
	struct xbk_latmus_session *s = arg;
	ktime_t next = ktime_add(ktime_get(), s->period);
	s64 period = ktime_to_ns(s->period);

	while (!kthread_should_stop()) {
		s64 lat;
		u64 missed;

		set_current_state(TASK_UNINTERRUPTIBLE);
		schedule_hrtimeout_range(&next, 0, HRTIMER_MODE_ABS_HARD);
		if (kthread_should_stop())
			break;
		lat = ktime_to_ns(ktime_sub(ktime_get(), next));
		missed = lat > 0 ? div64_u64((u64)lat, (u64)period) : 0;
		next = ktime_add_ns(next, (missed + 1) * (u64)period);
		if (!xbk_latmus_framed(s, lat, missed))
			continue;
		while (!kthread_should_stop()) {	/* done: wait for STOP */
			set_current_state(TASK_INTERRUPTIBLE);
			if (kthread_should_stop())
				break;
			schedule();
		}
	}
	__set_current_state(TASK_RUNNING);
	return 0;
}

static void xbk_latmus_free(struct xbk_latmus_session *s)
{
	kvfree(s->out.stage);
	kfree(s->out.hist);
	kfree(s->out.frame);
	kfree(s->fake);
	s->out.stage = NULL;
	s->out.hist = NULL;
	s->out.frame = NULL;
	s->fake = NULL;
	s->framed = false;
}

static void xbk_latmus_stop(struct xbk_latmus_session *s)
{
	lockdep_assert_held(&s->lock);
	if (!s->xbuf)
		return;

	/* Waits for a running callback (or the thread): no evl_write_xbuf() after this. */
	if (s->task) {
		kthread_stop(s->task);
		put_task_struct(s->task);
		s->task = NULL;
	} else {
		hrtimer_cancel(&s->timer);
	}
	/* The session's end is the stream's (a put alone ends nothing: EVL). */
	evl_shutdown_xbuf(s->xbuf);
	evl_put_xbuf(s->efile);
	s->xbuf = NULL;
	s->efile = NULL;
	atomic_dec(&xbk_latmus_running);
	xbk_latmus_free(s);
}

static void xbk_latmus_start_here(void *arg)
{
	struct xbk_latmus_session *s = arg;

	hrtimer_start(&s->timer, ktime_add(ktime_get(), s->period), HRTIMER_MODE_ABS_PINNED_HARD);
}

/* SETUP: a framed session, in the timer's handler or a kernel thread. */
static long xbk_latmus_setup(struct xbk_latmus_session *s,
			     const struct xbuf_latmus_setup __user *u_req)
{
	struct xbuf_latmus_setup req;
	struct evl_xbuf *xbuf;
	struct evl_file *efile;
	long ret = -ENOMEM;

	lockdep_assert_held(&s->lock);
	if (copy_from_user(&req, u_req, sizeof(req)))
		return -EFAULT;
	/* The same floor as START: no 1 MHz hard-irq timer for anyone who may open us. */
	if (req.period_us < XBUF_LATMUS_MIN_PERIOD_US || req.period_us > 1000000 || req.interval_us < req.period_us ||
	    (req.context != XBUF_LATMUS_CTX_IRQ && req.context != XBUF_LATMUS_CTX_KTHREAD) ||
	    req.hcells > XBUF_LATMUS_HCELLS_MAX || (req.flags & ~XBUF_LATMUS_SAMPLES) ||
	    req.fake_count > XBUF_LATMUS_FAKE_MAX || req.__pad ||
	    (req.cpu != -1 && (req.cpu < 0 || req.cpu >= nr_cpu_ids || !cpu_online(req.cpu))))
		return -EINVAL;
	if (s->xbuf)
		return -EBUSY;
	if (atomic_inc_return(&xbk_latmus_running) > READ_ONCE(max_sessions)) {
		atomic_dec(&xbk_latmus_running);
		return -ENOSPC;
	}

	memset(&s->out, 0, sizeof(s->out));
	s->out.frame = kmalloc(XBUF_LATMUS_FRAME_MAX, GFP_KERNEL);
	if (!s->out.frame)
		goto fail;
	if (req.hcells && !(s->out.hist = kcalloc(req.hcells + 1, sizeof(u32), GFP_KERNEL)))
		goto fail;
	if (req.flags & XBUF_LATMUS_SAMPLES) {
		s->out.stage = kvmalloc_array(XBK_LATMUS_STAGE, sizeof(u32), GFP_KERNEL);
		if (!s->out.stage)
			goto fail;
		s->out.stage_cap = XBK_LATMUS_STAGE;
	}
	s->fake_count = req.fake_count;
	if (req.fake_count) {
		s->fake = memdup_user(u64_to_user_ptr(req.fake_ptr), req.fake_count * sizeof(u32));
		if (IS_ERR(s->fake)) {
			ret = PTR_ERR(s->fake);
			s->fake = NULL;
			goto fail;
		}
	}
	ret = -EINVAL;
	xbuf = evl_get_xbuf(req.xbuf_fd, &efile);
	if (!xbuf)
		goto fail;

	s->xbuf = xbuf;
	s->efile = efile;
	s->framed = true;
	s->context = req.context;
	s->period = ns_to_ktime((u64)req.period_us * NSEC_PER_USEC);
	s->per_interval = req.interval_us / req.period_us;
	s->periods = req.periods;
	s->done = 0;
	s->finishing = 0;
	s->finished = 0;
	s->out.xbuf = xbuf;
	s->out.per_interval = s->per_interval;
	s->out.hcells = req.hcells;
	s->out.framed = 1;
	xbuf_latmus_out_init(&s->out);
	xbk_latmus_publish(s);

	if (req.context == XBUF_LATMUS_CTX_KTHREAD) {
		struct task_struct *t = kthread_create(xbk_latmus_kthread, s, "xbuf-latmus");

		if (IS_ERR(t)) {
			ret = PTR_ERR(t);
			evl_put_xbuf(efile);
			s->xbuf = NULL;
			s->efile = NULL;
			goto fail;
		}
		if (req.cpu >= 0)
			kthread_bind(t, req.cpu);
		sched_set_fifo(t);	/* MAX_RT_PRIO / 2: what a module may ask for */
		get_task_struct(t);
		s->task = t;
		wake_up_process(t);
	} else if (req.cpu >= 0) {
		smp_call_function_single(req.cpu, xbk_latmus_start_here, s, 1);
	} else {
		hrtimer_start(&s->timer, ktime_add(ktime_get(), s->period), HRTIMER_MODE_ABS_HARD);
	}
	return 0;
fail:
	xbk_latmus_free(s);
	atomic_dec(&xbk_latmus_running);	/* not running: the count taken above goes back */
	return ret;
}

static long xbk_latmus_start(struct xbk_latmus_session *s,
			 const struct xbuf_latmus_req __user *u_req)
{
	struct xbuf_latmus_req req;
	struct evl_xbuf *xbuf;
	struct evl_file *efile;

	if (copy_from_user(&req, u_req, sizeof(req)))
		return -EFAULT;

	/* A floor on the period: no 1 MHz hard-irq timer for anyone who may open us. */
	if (req.period_us < XBUF_LATMUS_MIN_PERIOD_US || req.interval_us < req.period_us)
		return -EINVAL;

	lockdep_assert_held(&s->lock);
	if (s->xbuf)
		return -EBUSY;

	if (atomic_inc_return(&xbk_latmus_running) > READ_ONCE(max_sessions)) {
		atomic_dec(&xbk_latmus_running);
		return -ENOSPC;
	}
	xbuf = evl_get_xbuf(req.xbuf_fd, &efile);
	if (!xbuf) {
		atomic_dec(&xbk_latmus_running);
		return -EINVAL;
	}

	s->xbuf = xbuf;
	s->efile = efile;
	s->period = ns_to_ktime((u64)req.period_us * NSEC_PER_USEC);
	s->per_interval = req.interval_us / req.period_us;
	xbuf_latmus_acc_reset(&s->acc);
	hrtimer_start(&s->timer, ktime_add(ktime_get(), s->period),
		      HRTIMER_MODE_ABS_HARD);

	return 0;
}

static long xbk_latmus_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct xbk_latmus_session *s = filp->private_data;
	struct xbuf_latmus_stats st;
	long ret = 0;

	mutex_lock(&s->lock);
	switch (cmd) {
	case XBUF_LATMUS_IOC_START:
		ret = xbk_latmus_start(s, (const void __user *)arg);
		break;
	case XBUF_LATMUS_IOC_SETUP:
		ret = xbk_latmus_setup(s, (const void __user *)arg);
		break;
	case XBUF_LATMUS_IOC_FINISH:
		/* Framed: send what is pending, then END; bare records: a stop. */
		if (s->framed)
			WRITE_ONCE(s->finishing, 1);
		else
			xbk_latmus_stop(s);
		break;
	case XBUF_LATMUS_IOC_STOP:
		xbk_latmus_stop(s);
		break;
	case XBUF_LATMUS_IOC_STATS:
		memset(&st, 0, sizeof(st));
		st.records = atomic64_read(&s->records);
		st.dropped = atomic64_read(&s->dropped);
		st.samples = atomic64_read(&s->shots);
		st.running = s->xbuf && !(s->framed && READ_ONCE(s->finished));
		if (copy_to_user((void __user *)arg, &st, sizeof(st)))
			ret = -EFAULT;
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&s->lock);

	return ret;
}

static int xbk_latmus_open(struct inode *inode, struct file *filp)
{
	struct xbk_latmus_session *s;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;

	mutex_init(&s->lock);
	hrtimer_init(&s->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_HARD);
	s->timer.function = xbk_latmus_timer;
	filp->private_data = s;

	return nonseekable_open(inode, filp);
}

static int xbk_latmus_release(struct inode *inode, struct file *filp)
{
	struct xbk_latmus_session *s = filp->private_data;

	mutex_lock(&s->lock);
	xbk_latmus_stop(s);
	mutex_unlock(&s->lock);
	mutex_destroy(&s->lock);
	kfree(s);

	return 0;
}

static const struct file_operations xbk_latmus_fops = {
	.owner		= THIS_MODULE,
	.open		= xbk_latmus_open,
	.release	= xbk_latmus_release,
	.unlocked_ioctl	= xbk_latmus_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= no_llseek,
};

static struct miscdevice xbk_latmus_misc = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "xbuf-latmus",
	.nodename	= "xbuf/latmus",
	.fops		= &xbk_latmus_fops,
};

module_misc_device(xbk_latmus_misc);

MODULE_DESCRIPTION("latmus-like companion driver of the xbuf kernel backend");
MODULE_LICENSE("GPL");
