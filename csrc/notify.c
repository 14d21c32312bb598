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
 *
 * A layer over the engine only: the entry points (api.c) look the handle
 * up and hand it in; the handle layer cancels the handle's sleeps before
 * it stops the thread (xb_handle_put()).
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

void xb_notifier_init(struct xb_notifier *n)
{
	n->pipe_rd = n->pipe_wr = -1;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
}

static int notifier_start(struct xb_notifier *n, struct xb_handle *h)
{
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

bool xb_notifier_running(struct xb_notifier *n)
{
	return n->started;
}

/*
 * Stop the thread and close the pipe's write end (the reader sees
 * end-of-file). The caller has ended the handle's sleeps first
 * (xb_handle_cancel()), so a wait in progress returns at once.
 */
void xb_notifier_stop(struct xb_notifier *n)
{
	if (n->started) {
		pthread_mutex_lock(&n->lock);
		n->stop = true;
		pthread_cond_signal(&n->cond);
		pthread_mutex_unlock(&n->lock);
		pthread_join(n->thread, NULL);
		n->started = false;
	}
	if (n->pipe_wr >= 0)
		close(n->pipe_wr);
	n->pipe_wr = -1;
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->cond);
}

/* The read end of a new notify pipe (the caller owns it), or -EEXIST. */
int xb_notifier_fd(struct xb_notifier *n)
{
	int p[2], ret;

	pthread_mutex_lock(&n->lock);
	if (n->pipe_wr >= 0) {
		ret = -EEXIST;
	} else if (pipe2(p, O_CLOEXEC) < 0) {
		ret = -errno;
	} else {
		fcntl(p[1], F_SETFL, O_NONBLOCK);
		n->pipe_wr = p[1];
		ret = p[0];
	}
	pthread_mutex_unlock(&n->lock);
	return ret;
}

/* Hand a wait of h to the thread: 1 if ready already, 0 if armed, or -errno. */
int xb_notifier_arm(struct xb_notifier *n, struct xb_handle *h, int events, size_t count)
{
	int ret = xb_poll(h, events, count, 0, false);	/* validates the request, too */

	if (ret)
		return ret > 0 ? 1 : ret;
	pthread_mutex_lock(&n->lock);
	if (n->pipe_wr < 0)
		ret = -ENOTCONN;	/* no xbuf_notify_fd() yet */
	else if (n->events)
		ret = -EBUSY;
	else if (!n->started)
		ret = notifier_start(n, h);
	if (!ret) {
		n->events = events;
		n->count = count;
		pthread_cond_signal(&n->cond);
	}
	pthread_mutex_unlock(&n->lock);
	return ret;
}
