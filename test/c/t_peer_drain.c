// SPDX-License-Identifier: MIT
/*
 * Issue 10.2: the producer dies with 0 < fill < n. Like a pipe, the
 * published bytes come first, then EPIPE, whatever the call: a pending
 * xbuf_arm(POLLIN, n) answers ready, xbuf_poll(POLLIN, n) and a new arm
 * report POLLIN, a blocking read(n) returns the tail; only then EPIPE.
 */
#include <poll.h>
#include "peer.h"

int main(void)
{
	const char *name = unique_name("drain");
	uint8_t buf[1000], byte;
	const void *p;
	struct driver d;
	int fd, nfd;

	time_limit(20);
	fd = xbuf_create(4096, 4096, XBUF_CLONE_PUBLIC, "%s", name);
	CHECK(fd >= 0);
	nfd = xbuf_notify_fd(fd);
	CHECK(nfd >= 0);
	d = driver_spawn(name);
	driver_write(&d, 100 / 16 + 1);	/* 112 bytes */
	CHECK_EQ(xbuf_read(fd, buf, 12), 12);	/* 100 left */

	/* Alive: a read of 1000 would wait. */
	CHECK_EQ(xbuf_poll(fd, XBUF_POLLIN, 1000, 0), 0);
	CHECK_EQ(xbuf_arm(fd, XBUF_POLLIN, 1000), 0);
	driver_kill(&d);
	/* The armed wait ends ready (byte 0), not with EPIPE: 100 bytes are there. */
	CHECK_EQ(read(nfd, &byte, 1), 1);
	CHECK_EQ(byte, 0);
	CHECK_EQ(xbuf_poll(fd, XBUF_POLLIN, 1000, 0), XBUF_POLLIN);
	CHECK_EQ(xbuf_poll(fd, XBUF_POLLIN, 1000, 1000), XBUF_POLLIN);
	CHECK_EQ(xbuf_arm(fd, XBUF_POLLIN, 1000), 1);
	/* What the binding does: a NOWAIT borrow takes the tail. */
	CHECK_EQ(xbuf_read_begin(fd, 1000, XBUF_NOWAIT, &p), 100);
	CHECK_EQ(xbuf_read_end(fd, 0), 0);
	CHECK_EQ(xbuf_read(fd, buf, 1000), 100);
	CHECK(pattern_check(buf, 12, 100) < 0);
	/* Drained: now EPIPE, from every call. */
	CHECK_ERRNO(xbuf_read(fd, buf, 1000), EPIPE);
	CHECK_ERR(xbuf_poll(fd, XBUF_POLLIN, 1000, 0), EPIPE);
	CHECK_ERR(xbuf_poll(fd, XBUF_POLLIN, 1, -1), EPIPE);
	CHECK_ERR(xbuf_arm(fd, XBUF_POLLIN, 1), EPIPE);
	CHECK(xbuf_close(fd) == 0);
	close(nfd);
	return T_EXIT_PASS;
}
