// SPDX-License-Identifier: MIT
/*
 * t_lib_eos.c - issue 9 through libxbuf's kernel backend: the in-kernel
 * driver ends the stream (evl_shutdown_xbuf(): SHUTDOWN) and the
 * library, which reads the driver page's `owner` (XBUF_OWNER_GONE) and
 * XBUF_IOC_WAIT's EPIPE, drains, then says EPIPE: xbuf_read (blocking
 * and not, asleep or not), xbuf_read_begin, xbuf_poll, xbuf_arm and its
 * notify fd, xbuf_write (when it would wait: the library lets a write
 * with room through, ring.c's rule); the driver's next write starts a
 * new stream.
 */
#include "kt.h"
#include "xbuf.h"

struct job {
	int fd;
	size_t n;
	ssize_t ret;
	int err;
	unsigned char buf[64];
};

static void *read_main(void *arg)
{
	struct job *j = arg;

	j->ret = xbuf_read(j->fd, j->buf, j->n);
	j->err = errno;
	return NULL;
}

static void *poll_main(void *arg)
{
	struct job *j = arg;

	j->ret = xbuf_poll(j->fd, XBUF_POLLIN, j->n, -1);
	return NULL;
}

int main(void)
{
	struct job rd = { 0 }, pl = { 0 };
	unsigned char buf[256];
	const void *p;
	pthread_t t, t2;
	int fd, st, nfd;
	char c;

	alarm(60);						/* a missed end would hang: fail instead */
	setenv("XBUF_BACKEND", "kernel", 1);
	fd = xbuf_create(256, 256, 0, NULL);
	CHECK(fd >= 0);
	CHECK_EQ(xbuf_backend(fd), XBUF_BACKEND_KERNEL);
	st = kt_bind(fd);
	memset(buf, 'o', sizeof(buf));
	CHECK_EQ(xbuf_write(fd, buf, 256), 256);		/* outbound full: a write would wait */

	/* Asleep when it ends: a blocking read of 20 gets the 6 there, a poll for 20 POLLIN. */
	rd.fd = pl.fd = fd;
	rd.n = pl.n = 20;
	CHECK(!pthread_create(&t, NULL, read_main, &rd));
	kt_msleep(100);
	CHECK_EQ(kt_kwrite(st, "abcdef", 6, 0), 6);
	CHECK(!pthread_create(&t2, NULL, poll_main, &pl));
	kt_msleep(100);
	CHECK_EQ(kt_shutdown(st), 0);
	CHECK(!pthread_join(t, NULL));
	CHECK(!pthread_join(t2, NULL));
	CHECK_EQ(rd.ret, 6);
	CHECK(!memcmp(rd.buf, "abcdef", 6));
	/* The poll saw the tail or, if the read took it first, the end. */
	CHECK(pl.ret == XBUF_POLLIN || pl.ret == -EPIPE);
	CHECK_ERRNO(xbuf_read(fd, buf, 1), EPIPE);
	CHECK_EQ(xbuf_poll(fd, XBUF_POLLIN, 1, -1), -EPIPE);
	CHECK_EQ(xbuf_poll(fd, XBUF_POLLOUT, 1, -1), -EPIPE);
	CHECK_EQ(xbuf_read_begin(fd, 1, XBUF_NONBLOCK, &p), -EPIPE);
	CHECK_ERRNO(xbuf_write(fd, "x", 1), EPIPE);

	/* A new stream; the tail of the next one through the zero-copy borrow. */
	CHECK_EQ(kt_kwrite(st, "0123456789", 10, 0), 10);
	CHECK_EQ(kt_kread(st, buf, 256, 0), 256);		/* what the app wrote before */
	CHECK_EQ(xbuf_read(fd, buf, 4), 4);
	CHECK_EQ(xbuf_write(fd, "w", 1), 1);
	CHECK_EQ(kt_kread(st, buf, 1, 0), 1);
	CHECK_EQ(kt_shutdown(st), 0);
	CHECK_EQ(xbuf_poll(fd, XBUF_POLLIN, 100, 0), XBUF_POLLIN);	/* the tail: a read completes */
	CHECK_EQ(xbuf_read_begin(fd, 100, 0, &p), 6);			/* blocking, short */
	CHECK(!memcmp(p, "456789", 6));
	CHECK_EQ(xbuf_read_end(fd, 6), 0);
	CHECK_EQ(xbuf_read_begin(fd, 1, 0, &p), -EPIPE);

	/* The event loop's wait: armed before the end, it ends with EPIPE. */
	CHECK_EQ(kt_kwrite(st, "z", 1, 0), 1);
	CHECK_EQ(xbuf_read(fd, buf, 1), 1);
	nfd = xbuf_notify_fd(fd);
	CHECK(nfd >= 0);
	CHECK_EQ(xbuf_arm(fd, XBUF_POLLIN, 1), 0);
	kt_msleep(100);
	CHECK_EQ(kt_shutdown(st), 0);
	CHECK_EQ(read(nfd, &c, 1), 1);
	CHECK_EQ(c, EPIPE);
	CHECK_EQ(xbuf_arm(fd, XBUF_POLLIN, 1), -EPIPE);
	close(nfd);

	close(st);
	CHECK_EQ(xbuf_close(fd), 0);
	return T_EXIT_PASS;
}
