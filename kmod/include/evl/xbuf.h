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
 *
 * Lifetimes (EVL's, plus an explicit end of stream):
 *  - evl_get_xbuf() takes a reference on the element itself, not on the
 *    application's file: the element's memory stays valid until
 *    evl_put_xbuf(), whatever the application does.
 *  - Taking and dropping references never ends the stream: the
 *    application keeps waiting. evl_shutdown_xbuf() ends it: the
 *    application reads what is left, then gets EPIPE; its writes fail
 *    with EPIPE. A later evl_read_xbuf()/evl_write_xbuf() (count > 0)
 *    starts a new stream where the old one stopped.
 *  - The application leaving (its last element file released: last fd
 *    and last mapping, in every process) ends every driver call blocked
 *    on the element with -EIDRM at once, and every later one (count > 0)
 *    and evl_shutdown_xbuf() return -EIDRM too.
 *  - Count 0 returns 0 before any other check.
 */
#ifndef _EVL_XBUF_H
#define _EVL_XBUF_H

#include <linux/types.h>

struct evl_xbuf;

/* The reference evl_get_xbuf() hands out (opaque): hand it to evl_put_xbuf(). */
struct evl_file;

/* Process context (it looks the fd up); NULL if efd is no element. */
struct evl_xbuf *evl_get_xbuf(int efd, struct evl_file **efilpp);

/* Any context but NMI; the last reference frees the element (deferred from atomic context). */
void evl_put_xbuf(struct evl_file *efilp);

ssize_t evl_read_xbuf(struct evl_xbuf *xbuf, void *buf, size_t count,
		      int f_flags);

ssize_t evl_write_xbuf(struct evl_xbuf *xbuf, const void *buf, size_t count,
		       int f_flags);

/*
 * End the stream (both directions): 0, or -EIDRM once the application
 * left. Any context but NMI; idempotent. The driver's own blocked calls
 * are left alone.
 */
int evl_shutdown_xbuf(struct evl_xbuf *xbuf);

#endif /* !_EVL_XBUF_H */
