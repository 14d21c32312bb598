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
