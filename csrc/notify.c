// SPDX-License-Identifier: MIT
/*
 * notify.c - waiting for an event loop.
 *
 * A JavaScript runtime must never block its thread in a futex. xbuf_arm()
 * hands the wait to a helper thread of the handle, which sleeps in
 * xb_poll() exactly like a blocked reader or writer (so the peer wakes it
 * the same way), then writes one byte into a pipe the event loop watches:
 * 0 when ready, else the errno that ended the wait. One byte per armed
 * wait, and one armed wait at a time, so the pipe never fills.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include "internal.h"

static void *notifier(void *arg)
{
	struct xb_handle *h = arg;
	struct xb_notifier *n = &h->notify;

	for (;;) {
		int events, ret;
		size_t count;
		unsigned char byte;

		pthread_mutex_lock(&n->lock);
		while (!n->events && !n->stop)
			pthread_cond_wait(&n->cond, &n->lock);
		if (n->stop) {
			pthread_mutex_unlock(&n->lock);
			break;
		}
		events = n->events;
		count = n->count;
		pthread_mutex_unlock(&n->lock);

		/* No spinning here: the event loop spun before it armed us (XBuf.spinUs). */
		ret = xb_poll(h, events, count, -1, false);
		byte = ret > 0 ? 0 : (unsigned char)-ret;

		pthread_mutex_lock(&n->lock);
		n->events = 0;
		pthread_mutex_unlock(&n->lock);
		if (write(n->pipe_wr, &byte, 1) < 0)
			continue;	/* the reader closed its end: nobody to tell */
	}
	return NULL;
}

static int notifier_start(struct xb_handle *h)
{
	struct xb_notifier *n = &h->notify;
	pthread_attr_t attr;
	sigset_t all, old;
	int ret;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&n->thread, &attr, notifier, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (ret)
		return -ret;
	n->started = true;
	return 0;
}

void xb_notifier_stop(struct xb_notifier *n)
{
	struct xb_handle *h = (struct xb_handle *)((char *)n - offsetof(struct xb_handle, notify));

	if (n->started) {
		pthread_mutex_lock(&n->lock);
		n->stop = true;
		pthread_cond_signal(&n->cond);
		pthread_mutex_unlock(&n->lock);
		xb_handle_cancel(h);
		pthread_join(n->thread, NULL);
		n->started = false;
	}
	if (n->pipe_wr >= 0)
		close(n->pipe_wr);	/* the reader sees end-of-file */
	n->pipe_wr = -1;
}

int xbuf_notify_fd(int fd)
{
	struct xb_handle *h = xb_handle_get(fd);
	struct xb_notifier *n;
	int p[2], ret;

	if (!h)
		return -EBADF;
	n = &h->notify;
	pthread_mutex_lock(&n->lock);
	if (n->pipe_wr >= 0) {
		ret = -EEXIST;
	} else if (pipe2(p, O_CLOEXEC) < 0) {
		ret = -errno;
	} else {
		fcntl(p[1], F_SETFL, O_NONBLOCK);
		n->pipe_wr = p[1];
		ret = p[0];	/* the caller owns the read end */
	}
	pthread_mutex_unlock(&n->lock);
	xb_handle_put(h);
	return ret;
}

int xbuf_arm(int fd, int events, size_t count)
{
	struct xb_handle *h = xb_handle_get(fd);
	struct xb_notifier *n;
	int ret;

	if (!h)
		return -EBADF;
	n = &h->notify;
	ret = xb_poll(h, events, count, 0, false);	/* validates the request, too */
	if (ret) {
		ret = ret > 0 ? 1 : ret;
		goto out;
	}
	pthread_mutex_lock(&n->lock);
	if (n->pipe_wr < 0)
		ret = -ENOTCONN;	/* no xbuf_notify_fd() yet */
	else if (n->events)
		ret = -EBUSY;
	else if (!n->started)
		ret = notifier_start(h);
	if (!ret) {
		n->events = events;
		n->count = count;
		pthread_cond_signal(&n->cond);
	}
	pthread_mutex_unlock(&n->lock);
out:
	xb_handle_put(h);
	return ret;
}
