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
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <evl/xbuf.h>
#include "xbuf/kernel.h"

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
};

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
	atomic64_inc(&s->shots);
	if (xbuf_latmus_acc_add(&s->acc, lat, fwd ? fwd - 1 : 0, s->per_interval))
		xbk_latmus_emit(s);

	return HRTIMER_RESTART;
}

static void xbk_latmus_stop(struct xbk_latmus_session *s)
{
	lockdep_assert_held(&s->lock);
	if (!s->xbuf)
		return;

	/* Waits for a running callback: no evl_write_xbuf() after this. */
	hrtimer_cancel(&s->timer);
	evl_put_xbuf(s->efile);
	s->xbuf = NULL;
	s->efile = NULL;
	atomic_dec(&xbk_latmus_running);
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
	case XBUF_LATMUS_IOC_STOP:
		xbk_latmus_stop(s);
		break;
	case XBUF_LATMUS_IOC_STATS:
		memset(&st, 0, sizeof(st));
		st.records = atomic64_read(&s->records);
		st.dropped = atomic64_read(&s->dropped);
		st.samples = atomic64_read(&s->shots);
		st.running = !!s->xbuf;
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
