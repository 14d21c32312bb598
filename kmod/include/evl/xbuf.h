/* SPDX-License-Identifier: GPL-2.0 */
/*
 * evl/xbuf.h - in-kernel access to the out-of-band (driver) endpoint of a
 * cross-buffer, with EVL's signatures and return values.
 *
 *   evl_write_xbuf() --> inbound ring  --> read(2) by the application
 *   evl_read_xbuf()  <-- outbound ring <-- write(2) by the application
 *
 * With O_NONBLOCK in f_flags, evl_read_xbuf()/evl_write_xbuf() may be
 * called from any context, hard irq included; without it they may sleep
 * and return -EPERM from a context that cannot.
 */
#ifndef _EVL_XBUF_H
#define _EVL_XBUF_H

#include <linux/types.h>

struct file;
struct evl_xbuf;

/* The reference evl_get_xbuf() hands out: a pinned element file. */
struct evl_file {
	struct file *filp;
};

struct evl_xbuf *evl_get_xbuf(int efd, struct evl_file **efilpp);

void evl_put_xbuf(struct evl_file *efilp);

ssize_t evl_read_xbuf(struct evl_xbuf *xbuf, void *buf, size_t count,
		      int f_flags);

ssize_t evl_write_xbuf(struct evl_xbuf *xbuf, const void *buf, size_t count,
		       int f_flags);

#endif /* !_EVL_XBUF_H */
