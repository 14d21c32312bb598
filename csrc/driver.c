// SPDX-License-Identifier: MIT
/*
 * driver.c - the out-of-band endpoint in user space: EVL's in-kernel
 * cross-buffer API (evl_get_xbuf and friends), same signatures and return
 * values, so driver code moves to the kernel module unchanged.
 *
 * struct evl_file and struct evl_xbuf are both a driver-side handle: the
 * reference evl_get_xbuf() takes keeps the element mapped after the
 * application closes its fd. Only user-space elements have their driver
 * side here; a kernel element's is in the kernel (kmod/).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include "internal.h"

static struct xb_handle *of(struct evl_xbuf *xbuf)
{
	return (struct xb_handle *)xbuf;
}

struct evl_xbuf *evl_get_xbuf(int efd, struct evl_file **efilpp)
{
	struct xb_handle *app = xb_handle_get(efd);
	struct xb_handle *drv;

	if (!app)
		return NULL;
	if (!app->el->ops->local_driver) {
		/* E.g. a kernel element: its driver side is xbuf.ko's evl_get_xbuf(). */
		xb_handle_put(app);
		return NULL;
	}
	drv = xb_handle_new_driver(app);
	xb_handle_put(app);
	if (drv && efilpp)
		*efilpp = (struct evl_file *)drv;
	return (struct evl_xbuf *)drv;
}

void evl_put_xbuf(struct evl_file *efilp)
{
	if (efilp)
		xb_handle_put((struct xb_handle *)efilp);
}

static enum xb_mode mode_of(int f_flags)
{
	return (f_flags & O_NONBLOCK) ? XB_NONBLOCK : XB_BLOCK;
}

ssize_t evl_read_xbuf(struct evl_xbuf *xbuf, void *buf, size_t count, int f_flags)
{
	struct xb_handle *h = of(xbuf);

	if (!h)
		return -EBADF;
	return xb_copy(h, xb_end_of(h->el, XBUF_SIDE_DRIVER, XBUF_OUTBOUND), buf, count, mode_of(f_flags));
}

ssize_t evl_write_xbuf(struct evl_xbuf *xbuf, const void *buf, size_t count, int f_flags)
{
	struct xb_handle *h = of(xbuf);

	if (!h)
		return -EBADF;
	/* A producer's copy only reads buf. */
	return xb_copy(h, xb_end_of(h->el, XBUF_SIDE_DRIVER, XBUF_INBOUND), (void *)buf, count,
		       mode_of(f_flags));
}

/*
 * End the stream: the application reads what is left, then EPIPE; its
 * writes fail with EPIPE at once. Taking and dropping references never
 * does that (EVL). A later driver call claims the ends again and starts
 * a new stream where this one stopped.
 */
int evl_shutdown_xbuf(struct evl_xbuf *xbuf)
{
	struct xb_handle *h = of(xbuf);
	int ring, ret = 0;

	if (!h)
		return -EBADF;
	for (ring = 0; ring < 2; ring++) {
		struct xb_end *e = xb_end_of(h->el, XBUF_SIDE_DRIVER, ring);
		int r;

		if (!e->data || !e->ops->shutdown)
			continue;
		r = xb_end_lock(e);
		if (r)
			return r;	/* -EBUSY: this thread holds a borrow on it */
		r = e->ops->shutdown(e);
		xb_end_unlock(e);
		if (r && !ret)
			ret = r;
	}
	return ret;
}

int evl_poll_xbuf(struct evl_xbuf_pollfd *fds, int nfds, int timeout_ms)
{
	struct xb_handle *hs[XB_SLEEP_MAX];
	struct xb_end *ends[XB_SLEEP_MAX];
	int rev[XB_SLEEP_MAX], err[XB_SLEEP_MAX], of_fd[XB_SLEEP_MAX];
	int i, k, n = 0, ret, ready = 0;

	if (nfds < 0 || (nfds && !fds))
		return -EFAULT;
	for (i = 0; i < nfds; i++) {
		struct xb_handle *h = of(fds[i].xbuf);

		fds[i].revents = 0;
		if (!h || (fds[i].events & ~(POLLIN | POLLOUT))) {
			fds[i].revents = POLLNVAL;
			continue;
		}
		for (k = 0; k < 2; k++) {
			int ev = k ? POLLOUT : POLLIN;
			/* POLLIN: outbound traffic to read; POLLOUT: room in the inbound ring. */
			struct xb_end *e = xb_end_of(h->el, XBUF_SIDE_DRIVER, k ? XBUF_INBOUND : XBUF_OUTBOUND);

			if (!(fds[i].events & ev))
				continue;
			if (!e->data) {
				fds[i].revents |= POLLNVAL;	/* no ring there */
				continue;
			}
			if (n == XB_SLEEP_MAX)
				return -EINVAL;
			hs[n] = h;
			ends[n] = e;
			of_fd[n++] = i;
		}
	}
	for (i = 0; i < nfds; i++)
		ready += fds[i].revents != 0;
	if (!n)
		return ready;
	ret = xb_poll_ends(hs, ends, rev, err, n, ready ? 0 : timeout_ms);
	if (ret < 0)
		return ret;
	for (k = 0; k < n; k++) {
		struct evl_xbuf_pollfd *p = &fds[of_fd[k]];

		if (err[k] == -EIDRM)
			p->revents |= POLLHUP;
		else if (err[k])
			p->revents |= POLLERR;
		else if (rev[k])
			p->revents |= rev[k] == XBUF_POLLIN ? POLLIN : POLLOUT;
	}
	for (i = 0, ready = 0; i < nfds; i++)
		ready += fds[i].revents != 0;
	return ready;
}
