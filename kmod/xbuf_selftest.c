// SPDX-License-Identifier: GPL-2.0
/*
 * xbuf_selftest.c - test-only driver: runs the in-kernel API on behalf of
 * a test program (test/kernel/), so that user space can play the driver
 * end, including blocking calls and calls from atomic context.
 *
 *   ioctl(BIND, fd)      evl_get_xbuf(fd)
 *   ioctl(KWRITE, kio)   evl_write_xbuf(kbuf, count, flags) -> inbound
 *   ioctl(KREAD, kio)    evl_read_xbuf(kbuf, count, flags)  <- outbound
 *   ioctl(SHUTDOWN)      evl_shutdown_xbuf()
 *   ioctl(UNBIND)        evl_put_xbuf()   (the stream goes on)
 *   release              evl_shutdown_xbuf(), evl_put_xbuf()
 *
 * KREAD/KWRITE return exactly what the in-kernel call returned. The
 * binding is looked up under a mutex but the call runs without it, so
 * several threads may block in the same binding; UNBIND waits for them.
 * The file's release is the driving process gone (its close, or its
 * death): the driver side is gone, so the stream ends, as a user-space
 * driver's death ends it.
 */
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/limits.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <evl/xbuf.h>
#include "xbuf/kernel.h"

struct xbk_selftest_session {
	struct mutex lock;
	struct evl_xbuf *xbuf;
	struct evl_file *efile;
	atomic_t users;			/* calls in flight on the binding */
	wait_queue_head_t idle;
};

static void xbk_selftest_unbind(struct xbk_selftest_session *s, bool end)
{
	lockdep_assert_held(&s->lock);
	if (!s->xbuf)
		return;

	wait_event(s->idle, !atomic_read(&s->users));
	if (end)
		evl_shutdown_xbuf(s->xbuf);	/* -EIDRM if the app left: nothing to end */
	evl_put_xbuf(s->efile);
	s->xbuf = NULL;
	s->efile = NULL;
}

static long xbk_selftest_io(struct xbk_selftest_session *s, unsigned int cmd,
			struct xbuf_kio __user *u_kio)
{
	struct evl_xbuf *xbuf;
	struct xbuf_kio kio;
	unsigned long flags;
	u64 t0, ns;
	int f_flags = 0;
	void *kbuf;
	long ret;

	if (copy_from_user(&kio, u_kio, sizeof(kio)))
		return -EFAULT;
	if (kio.count > (1U << 24))
		return -E2BIG;
	if (kio.flags & XBUF_KIO_NONBLOCK)
		f_flags |= O_NONBLOCK;

	mutex_lock(&s->lock);
	xbuf = s->xbuf;
	if (xbuf)
		atomic_inc(&s->users);
	mutex_unlock(&s->lock);
	if (!xbuf)
		return -ENXIO;

	kbuf = kvzalloc(kio.count ?: 1, GFP_KERNEL);
	if (!kbuf) {
		ret = -ENOMEM;
		goto out_put;
	}

	if (cmd == XBUF_SELFTEST_IOC_KWRITE &&
	    copy_from_user(kbuf, u64_to_user_ptr(kio.buf), kio.count)) {
		ret = -EFAULT;
		goto out_free;
	}

	if (kio.flags & XBUF_KIO_IRQOFF)
		local_irq_save(flags);
	else if (kio.flags & XBUF_KIO_ATOMIC)
		preempt_disable();

	t0 = ktime_get_ns();
	if (cmd == XBUF_SELFTEST_IOC_KWRITE)
		ret = evl_write_xbuf(xbuf, kbuf, kio.count, f_flags);
	else
		ret = evl_read_xbuf(xbuf, kbuf, kio.count, f_flags);
	ns = ktime_get_ns() - t0;

	if (kio.flags & XBUF_KIO_IRQOFF)
		local_irq_restore(flags);
	else if (kio.flags & XBUF_KIO_ATOMIC)
		preempt_enable();

	kio.ns = ns > U32_MAX ? U32_MAX : (u32)ns;
	if (put_user(kio.ns, &u_kio->ns) && ret >= 0)
		ret = -EFAULT;

	if (cmd == XBUF_SELFTEST_IOC_KREAD && ret > 0 &&
	    copy_to_user(u64_to_user_ptr(kio.buf), kbuf, ret))
		ret = -EFAULT;
out_free:
	kvfree(kbuf);
out_put:
	if (atomic_dec_and_test(&s->users))
		wake_up(&s->idle);

	return ret;
}

static long xbk_selftest_ioctl(struct file *filp, unsigned int cmd,
			   unsigned long arg)
{
	struct xbk_selftest_session *s = filp->private_data;
	struct evl_file *efile;
	struct evl_xbuf *xbuf;
	long ret = 0;
	int fd;

	switch (cmd) {
	case XBUF_SELFTEST_IOC_KREAD:
	case XBUF_SELFTEST_IOC_KWRITE:
		return xbk_selftest_io(s, cmd, (void __user *)arg);
	case XBUF_SELFTEST_IOC_BIND:
		if (get_user(fd, (int __user *)arg))
			return -EFAULT;
		mutex_lock(&s->lock);
		if (s->xbuf) {
			ret = -EBUSY;
		} else {
			xbuf = evl_get_xbuf(fd, &efile);
			if (xbuf) {
				s->xbuf = xbuf;
				s->efile = efile;
			} else {
				ret = -EINVAL;
			}
		}
		mutex_unlock(&s->lock);
		return ret;
	case XBUF_SELFTEST_IOC_UNBIND:
		mutex_lock(&s->lock);
		xbk_selftest_unbind(s, false);
		mutex_unlock(&s->lock);
		return 0;
	case XBUF_SELFTEST_IOC_SHUTDOWN:
		mutex_lock(&s->lock);
		ret = s->xbuf ? evl_shutdown_xbuf(s->xbuf) : -ENXIO;
		mutex_unlock(&s->lock);
		return ret;
	default:
		return -ENOTTY;
	}
}

static int xbk_selftest_open(struct inode *inode, struct file *filp)
{
	struct xbk_selftest_session *s;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;

	mutex_init(&s->lock);
	atomic_set(&s->users, 0);
	init_waitqueue_head(&s->idle);
	filp->private_data = s;

	return nonseekable_open(inode, filp);
}

static int xbk_selftest_release(struct inode *inode, struct file *filp)
{
	struct xbk_selftest_session *s = filp->private_data;

	/* No ioctl can be in flight on a file being released. */
	mutex_lock(&s->lock);
	xbk_selftest_unbind(s, true);
	mutex_unlock(&s->lock);
	mutex_destroy(&s->lock);
	kfree(s);

	return 0;
}

static const struct file_operations xbk_selftest_fops = {
	.owner		= THIS_MODULE,
	.open		= xbk_selftest_open,
	.release	= xbk_selftest_release,
	.unlocked_ioctl	= xbk_selftest_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= no_llseek,
};

static struct miscdevice xbk_selftest_misc = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "xbuf-selftest",
	.nodename	= "xbuf/selftest",
	.fops		= &xbk_selftest_fops,
};

module_misc_device(xbk_selftest_misc);

MODULE_DESCRIPTION("test driver for the in-kernel xbuf API");
MODULE_LICENSE("GPL");
