// SPDX-License-Identifier: MIT
/*
 * Blocking semantics: reads are never short except while a writer waits
 * for room (EVL's deadlock rule, in both arrival orders); writers wait for
 * room; close wakes sleepers with EBADF; xbuf_poll() and xbuf_arm().
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include "test.h"

static int fd;
static struct evl_xbuf *xb;

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct call {
	pthread_t thr;
	size_t count;
	ssize_t ret;
	int err;
	uint8_t buf[4096];
};

static void *app_reader(void *arg)
{
	struct call *c = arg;

	c->ret = xbuf_read(fd, c->buf, c->count);
	c->err = errno;
	return NULL;
}

static void *drv_writer(void *arg)
{
	struct call *c = arg;

	c->ret = evl_write_xbuf(xb, c->buf, c->count, 0);
	return NULL;
}

static void *app_writer(void *arg)
{
	struct call *c = arg;

	c->ret = xbuf_write(fd, c->buf, c->count);
	c->err = errno;
	return NULL;
}

static unsigned int consumer_waiters(void)
{
	struct xbuf_stat st;

	CHECK(xbuf_stat(fd, &st) == 0);
	return st.inbound.consumer_waiters;
}

static unsigned int producer_waiters(void)
{
	struct xbuf_stat st;

	CHECK(xbuf_stat(fd, &st) == 0);
	return st.inbound.producer_waiters;
}

static void wait_until(unsigned int (*what)(void), unsigned int n)
{
	for (int i = 0; i < 5000 && what() != n; i++)
		msleep(1);
	CHECK(what() == n);
}

static void drv_put(size_t n, uint8_t fill)
{
	uint8_t buf[4096];

	memset(buf, fill, n);
	CHECK(evl_write_xbuf(xb, buf, n, O_NONBLOCK) == (ssize_t)n);
}

int main(void)
{
	struct call r = { 0 }, w = { 0 }, w2 = { 0 };
	struct evl_file *f;
	uint8_t buf[256];
	double t0;

	fd = xbuf_create(100, 100, 0, NULL);
	CHECK(fd >= 0);
	xb = evl_get_xbuf(fd, &f);
	CHECK(xb);

	/* 1. a blocking read waits for all of its count, across several writes */
	r.count = 100;
	CHECK(pthread_create(&r.thr, NULL, app_reader, &r) == 0);
	wait_until(consumer_waiters, 1);
	drv_put(30, 'a');
	msleep(20);
	drv_put(30, 'b');
	msleep(20);
	CHECK(consumer_waiters() == 1);	/* 60 of 100: still waiting */
	drv_put(40, 'c');
	pthread_join(r.thr, NULL);
	CHECK(r.ret == 100 && r.buf[0] == 'a' && r.buf[30] == 'b' && r.buf[99] == 'c');

	/* 2. short read: reader waits first, then a writer blocks for room */
	r.count = 100;
	CHECK(pthread_create(&r.thr, NULL, app_reader, &r) == 0);
	wait_until(consumer_waiters, 1);
	drv_put(60, 'd');
	w.count = 50;
	memset(w.buf, 'e', 50);
	CHECK(pthread_create(&w.thr, NULL, drv_writer, &w) == 0);
	pthread_join(r.thr, NULL);
	CHECK(r.ret == 60 && r.buf[0] == 'd' && r.buf[59] == 'd');
	pthread_join(w.thr, NULL);
	CHECK(w.ret == 50);
	CHECK(xbuf_read(fd, buf, 50) == 50 && buf[0] == 'e' && buf[49] == 'e');

	/* 3. short read: writer blocks first, then the reader comes */
	drv_put(70, 'f');
	w.count = 40;
	memset(w.buf, 'g', 40);
	CHECK(pthread_create(&w.thr, NULL, drv_writer, &w) == 0);
	wait_until(producer_waiters, 1);
	CHECK(xbuf_read(fd, buf, 100) == 70 && buf[69] == 'f');
	pthread_join(w.thr, NULL);
	CHECK(w.ret == 40);
	CHECK(xbuf_read(fd, buf, 40) == 40 && buf[0] == 'g');

	/* 4. a blocking write waits for room, then goes in whole */
	memset(w.buf, 'h', 100);
	CHECK(xbuf_write(fd, w.buf, 100) == 100);
	w2.count = 30;
	memset(w2.buf, 'i', 30);
	CHECK(pthread_create(&w2.thr, NULL, app_writer, &w2) == 0);
	msleep(30);
	CHECK(evl_read_xbuf(xb, buf, 20, 0) == 20);	/* 20 free: not enough for 30 */
	msleep(30);
	{
		struct xbuf_rings rg;

		CHECK(xbuf_rings(fd, &rg) == 0 && rg.ofill == 80);
	}
	CHECK(evl_read_xbuf(xb, buf, 80, 0) == 80 && buf[79] == 'h');
	pthread_join(w2.thr, NULL);
	CHECK(w2.ret == 30);
	CHECK(evl_read_xbuf(xb, buf, 30, 0) == 30 && buf[0] == 'i');

	/* 5. xbuf_poll: timeout, POLLIN for a count, POLLOUT */
	t0 = now();
	CHECK(xbuf_poll(fd, XBUF_POLLIN, 1, 50) == 0);
	CHECK(now() - t0 >= 0.045);
	CHECK(xbuf_poll(fd, XBUF_POLLOUT, 100, 0) == XBUF_POLLOUT);
	CHECK(xbuf_poll(fd, XBUF_POLLIN | XBUF_POLLOUT, 1, -1) == XBUF_POLLOUT);
	drv_put(10, 'j');
	CHECK(xbuf_poll(fd, XBUF_POLLIN, 10, 0) == XBUF_POLLIN);
	CHECK(xbuf_poll(fd, XBUF_POLLIN, 11, 0) == 0);
	CHECK_ERR(xbuf_poll(fd, XBUF_POLLIN, 101, 0), EINVAL);
	CHECK_ERR(xbuf_poll(fd, 0, 1, 0), EINVAL);
	CHECK_ERR(xbuf_poll(fd, 0x100, 1, 0), EINVAL);

	/* 6. xbuf_arm: ready now, armed then woken, one at a time */
	{
		int nfd = xbuf_notify_fd(fd);
		struct pollfd pfd = { .fd = nfd, .events = POLLIN };
		unsigned char byte = 0xff;

		CHECK(nfd >= 0);
		CHECK_ERR(xbuf_notify_fd(fd), EEXIST);
		CHECK(xbuf_arm(fd, XBUF_POLLIN, 10) == 1);
		CHECK(xbuf_arm(fd, XBUF_POLLIN, 20) == 0);
		CHECK_ERR(xbuf_arm(fd, XBUF_POLLIN, 20), EBUSY);
		CHECK(poll(&pfd, 1, 50) == 0);
		drv_put(10, 'k');
		CHECK(poll(&pfd, 1, 5000) == 1);
		CHECK(read(nfd, &byte, 1) == 1 && byte == 0);
		CHECK(xbuf_read(fd, buf, 20) == 20 && buf[0] == 'j' && buf[19] == 'k');
		/* closing the fd ends an armed wait with EBADF, then end-of-file */
		CHECK(xbuf_arm(fd, XBUF_POLLIN, 1) == 0);
		r.count = 5;
		CHECK(pthread_create(&r.thr, NULL, app_reader, &r) == 0);
		wait_until(consumer_waiters, 2);
		CHECK(xbuf_close(fd) == 0);
		pthread_join(r.thr, NULL);
		CHECK(r.ret == -1 && r.err == EBADF);	/* 7. close wakes a blocked read */
		CHECK(poll(&pfd, 1, 5000) == 1);
		CHECK(read(nfd, &byte, 1) == 1 && byte == EBADF);
		CHECK(read(nfd, &byte, 1) == 0);
		close(nfd);
	}
	/* the driver's reference outlives the application's fd: its memory, not the stream (EIDRM: issue 9) */
	CHECK_ERR(evl_write_xbuf(xb, "z", 1, O_NONBLOCK), EIDRM);
	evl_put_xbuf(f);
	return T_EXIT_PASS;
}
