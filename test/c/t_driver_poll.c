// SPDX-License-Identifier: MIT
/*
 * Issue 9: driver-side readiness. One driver thread waits on several
 * elements with evl_poll_xbuf(): POLLIN when outbound traffic is there,
 * POLLOUT when the inbound ring has room, a timeout, POLLHUP when the
 * application left.
 */
#include <poll.h>
#include <pthread.h>
#include "peer.h"

#define N	4

static int fds[N];

static void *late_write(void *arg)
{
	usleep(100 * 1000);
	(void)!xbuf_write(fds[(intptr_t)arg], "hi", 2);
	return NULL;
}

int main(void)
{
	struct evl_xbuf_pollfd p[N];
	struct evl_file *f[N];
	pthread_t t;
	char buf[4096];
	int i;

	time_limit(30);
	for (i = 0; i < N; i++) {
		fds[i] = xbuf_create(4096, 4096, 0, NULL);
		CHECK(fds[i] >= 0);
		p[i].xbuf = evl_get_xbuf(fds[i], &f[i]);
		CHECK(p[i].xbuf);
		p[i].events = POLLIN;
	}
	/* nothing yet: a timeout */
	CHECK_EQ(evl_poll_xbuf(p, N, 50), 0);
	CHECK_EQ(evl_poll_xbuf(p, N, 0), 0);
	/* one application writes: that one, POLLIN */
	CHECK(xbuf_write(fds[2], "x", 1) == 1);
	CHECK_EQ(evl_poll_xbuf(p, N, -1), 1);
	CHECK(p[2].revents == POLLIN && !p[0].revents && !p[1].revents && !p[3].revents);
	CHECK_EQ(evl_read_xbuf(p[2].xbuf, buf, 1, 0), 1);
	/* a blocked poll wakes when one writes */
	CHECK(pthread_create(&t, NULL, late_write, (void *)(intptr_t)3) == 0);
	CHECK_EQ(evl_poll_xbuf(p, N, 5000), 1);
	CHECK_EQ(p[3].revents, POLLIN);
	pthread_join(t, NULL);
	CHECK_EQ(evl_read_xbuf(p[3].xbuf, buf, 2, 0), 2);
	/* POLLOUT: room inbound; none once full */
	p[0].events = POLLOUT;
	CHECK_EQ(evl_poll_xbuf(p, 1, 0), 1);
	CHECK_EQ(p[0].revents, POLLOUT);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(evl_write_xbuf(p[0].xbuf, buf, 4096, 0), 4096);
	CHECK_EQ(evl_poll_xbuf(p, 1, 20), 0);
	CHECK(xbuf_read(fds[0], buf, 100) == 100);
	CHECK_EQ(evl_poll_xbuf(p, 1, 0), 1);
	/* the application leaving: POLLHUP (its calls say EIDRM) */
	p[0].events = POLLIN;
	CHECK(xbuf_close(fds[1]) == 0);
	CHECK_EQ(evl_poll_xbuf(p, N, -1), 1);
	CHECK_EQ(p[1].revents, POLLHUP);
	/* bad entries */
	p[0].events = 0x100;
	CHECK_EQ(evl_poll_xbuf(p, 1, 0), 1);
	CHECK_EQ(p[0].revents, POLLNVAL);
	for (i = 0; i < N; i++) {
		evl_put_xbuf(f[i]);
		if (i != 1)
			CHECK(xbuf_close(fds[i]) == 0);
	}
	return T_EXIT_PASS;
}
