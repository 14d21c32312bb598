// SPDX-License-Identifier: MIT
/*
 * t_lib_poll.c - waiting through libxbuf on kernel elements: xbuf_poll()
 * timeouts and wake-ups by the in-kernel driver (selftest), xbuf_arm()
 * and its notify fd, argument errors, and xbuf_close() failing a call
 * blocked in the kernel with EBADF.
 */
#include "kt.h"
#include "xbuf.h"

struct delayed {
	int st;
	unsigned long cmd;
	unsigned ms;
	size_t n;
	long ret;
};

/* After ms, evl_write_xbuf()/evl_read_xbuf() n bytes through selftest. */
static void *delayed_kio(void *arg)
{
	static unsigned char buf[4096];
	struct delayed *d = arg;

	kt_msleep(d->ms);
	kt_fill(buf, d->n, 41);
	d->ret = kt_kio(d->st, d->cmd, buf, d->n, 0);
	return NULL;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void poll_waits(void)
{
	static unsigned char buf[4096];
	struct delayed d = { .cmd = XBUF_SELFTEST_IOC_KWRITE, .ms = 200, .n = 10 };
	long long t0;
	pthread_t t;
	int fd, st;

	fd = xbuf_create(4096, 1024, 0, NULL);
	CHECK(fd >= 0);
	st = kt_bind(fd);
	d.st = st;

	CHECK_EQ(xbuf_poll(fd, XBUF_POLLOUT, 1024, 0), XBUF_POLLOUT);
	CHECK_EQ(xbuf_poll(fd, XBUF_POLLIN, 0, 0), 0);
	t0 = now_ms();
	CHECK_EQ(xbuf_poll(fd, XBUF_POLLIN, 1, 150), 0);	/* timeout */
	CHECK(now_ms() - t0 >= 140);
	CHECK_EQ(xbuf_poll(fd, 0, 1, 0), -EINVAL);
	CHECK_EQ(xbuf_poll(fd, XBUF_POLLIN, 4097, 0), -EINVAL);

	/* Woken by the in-kernel writer, for exactly the count asked. */
	CHECK_EQ(kt_kwrite(st, buf, 5, 0), 5);
	CHECK_EQ(xbuf_poll(fd, XBUF_POLLIN, 10, 0), 0);
	CHECK_EQ(pthread_create(&t, NULL, delayed_kio, &d), 0);
	CHECK_EQ(xbuf_poll(fd, XBUF_POLLIN, 15, -1), XBUF_POLLIN);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(d.ret, 10);
	CHECK_EQ(xbuf_read(fd, buf, 15), 15);

	/* POLLOUT: the outbound ring is full until the kernel reads. */
	CHECK_EQ(xbuf_write(fd, buf, 1024), 1024);
	CHECK_EQ(xbuf_poll(fd, XBUF_POLLOUT, 1, 0), 0);
	d = (struct delayed){ .st = st, .cmd = XBUF_SELFTEST_IOC_KREAD, .ms = 200, .n = 100 };
	CHECK_EQ(pthread_create(&t, NULL, delayed_kio, &d), 0);
	CHECK_EQ(xbuf_poll(fd, XBUF_POLLOUT, 100, 5000), XBUF_POLLOUT);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(d.ret, 100);
	close(st);
	CHECK_EQ(xbuf_close(fd), 0);

	fd = xbuf_create(0, 16, 0, NULL);
	CHECK(fd >= 0);
	CHECK_EQ(xbuf_poll(fd, XBUF_POLLIN, 1, 0), -ENOBUFS);
	CHECK_EQ(xbuf_close(fd), 0);
}

static int wait_byte(int nfd, int ms)
{
	struct pollfd pfd = { .fd = nfd, .events = POLLIN };
	unsigned char byte;

	if (poll(&pfd, 1, ms) != 1)
		return -1;
	CHECK_EQ(read(nfd, &byte, 1), 1);
	return byte;
}

static void arm(void)
{
	static unsigned char buf[64];
	int fd, st, nfd;
	ssize_t n;

	fd = xbuf_create(4096, 4096, 0, NULL);
	CHECK(fd >= 0);
	st = kt_bind(fd);
	nfd = xbuf_notify_fd(fd);
	CHECK(nfd >= 0);

	CHECK_EQ(xbuf_arm(fd, XBUF_POLLOUT, 10), 1);	/* ready already */
	CHECK_EQ(xbuf_arm(fd, XBUF_POLLIN, 5), 0);	/* armed: the helper waits in the kernel */
	CHECK_EQ(xbuf_arm(fd, XBUF_POLLIN, 5), -EBUSY);
	kt_msleep(100);
	CHECK_EQ(wait_byte(nfd, 0), -1);
	CHECK_EQ(kt_kwrite(st, buf, 3, 0), 3);
	CHECK_EQ(wait_byte(nfd, 300), -1);		/* 3 of 5: not yet */
	CHECK_EQ(kt_kwrite(st, buf, 2, 0), 2);
	CHECK_EQ(wait_byte(nfd, 10000), 0);
	CHECK_EQ(xbuf_read(fd, buf, 5), 5);

	/*
	 * Armed, then closed: the helper's wait ends with EBADF (reported
	 * as one byte) and the pipe then reports end of file.
	 */
	CHECK_EQ(xbuf_arm(fd, XBUF_POLLIN, 1), 0);
	CHECK_EQ(xbuf_close(fd), 0);
	n = read(nfd, buf, sizeof(buf));
	CHECK(n == 0 || (n == 1 && buf[0] == EBADF));
	if (n)
		CHECK_EQ(read(nfd, buf, 1), 0);
	close(nfd);
	close(st);
}

struct blocked {
	int fd;
	ssize_t ret;
	int err;
};

static void *blocked_read(void *arg)
{
	struct blocked *b = arg;
	unsigned char buf[8];

	b->ret = xbuf_read(b->fd, buf, sizeof(buf));
	b->err = errno;
	return NULL;
}

static void close_wakes(void)
{
	struct blocked b = { 0 };
	long long t0;
	pthread_t t;

	b.fd = xbuf_create(64, 0, 0, NULL);
	CHECK(b.fd >= 0);
	CHECK_EQ(pthread_create(&t, NULL, blocked_read, &b), 0);
	kt_msleep(200);
	t0 = now_ms();
	CHECK_EQ(xbuf_close(b.fd), 0);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(b.ret, -1);
	CHECK_EQ(b.err, EBADF);
	CHECK(now_ms() - t0 < 2000);
}

int main(void)
{
	setenv("XBUF_BACKEND", "kernel", 1);
	poll_waits();
	arm();
	close_wakes();
	return T_EXIT_PASS;
}
