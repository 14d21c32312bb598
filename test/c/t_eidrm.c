// SPDX-License-Identifier: MIT
/*
 * Issue 9: the application side leaving ends the driver's waits. When the
 * application closes its last fd of an element, or dies, every driver
 * call blocked on it returns -EIDRM at once and later ones -EIDRM,
 * whether or not the ring was used. The driver's reference keeps the
 * memory valid until evl_put_xbuf().
 */
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include "peer.h"

static struct evl_xbuf *shared;
static ssize_t got;

static void *blocked_read(void *arg)
{
	char buf[8];

	(void)arg;
	got = evl_read_xbuf(shared, buf, 8, 0);
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A driver thread blocked in evl_read_xbuf() on fd's element; then the app closes fd. */
static void close_while_blocked(int fd, bool used)
{
	struct evl_file *f;
	pthread_t t;
	char buf[8];
	double t0;

	shared = evl_get_xbuf(fd, &f);
	CHECK(shared);
	if (used) {
		CHECK(xbuf_write(fd, "used", 4) == 4);
		CHECK_EQ(evl_read_xbuf(shared, buf, 4, 0), 4);
	}
	got = 1;
	CHECK(pthread_create(&t, NULL, blocked_read, NULL) == 0);
	usleep(100 * 1000);	/* asleep by now */
	CHECK_EQ(got, 1);
	t0 = now();
	CHECK(xbuf_close(fd) == 0);
	pthread_join(t, NULL);
	CHECK_EQ(got, -EIDRM);
	CHECK(now() - t0 < 1.0);	/* at once, not after some timeout */
	/* later calls too, blocking or not; the memory is still ours */
	CHECK_ERR(evl_read_xbuf(shared, buf, 1, 0), EIDRM);
	CHECK_ERR(evl_read_xbuf(shared, buf, 1, O_NONBLOCK), EIDRM);
	CHECK_ERR(evl_write_xbuf(shared, "x", 1, 0), EIDRM);
	CHECK_EQ(evl_write_xbuf(shared, "x", 0, 0), 0);
	evl_put_xbuf(f);
}

int main(void)
{
	const char *name = unique_name("eidrm");
	struct evl_file *f;
	struct evl_xbuf *xb;
	char buf[8], c;
	int fd, pipefd[2];
	pid_t app;

	time_limit(30);
	/* 1. the creator closes an element nobody used, or one that was used */
	close_while_blocked(xbuf_create(4096, 4096, 0, NULL), false);
	close_while_blocked(xbuf_create(4096, 4096, 0, NULL), true);
	close_while_blocked(xbuf_create(4096, 4096, XBUF_CLONE_PUBLIC, "%s", name), false);

	/* 2. the application process dies without ever using the element */
	CHECK(pipe(pipefd) == 0);
	app = fork();
	CHECK(app >= 0);
	if (app == 0) {
		if (xbuf_create(4096, 4096, XBUF_CLONE_PUBLIC, "%s", name) < 0)
			_exit(1);
		(void)!write(pipefd[1], "r", 1);
		pause();
		_exit(0);
	}
	CHECK(read(pipefd[0], &c, 1) == 1);
	fd = xbuf_open(name, 0);
	CHECK(fd >= 0);
	xb = evl_get_xbuf(fd, &f);
	CHECK(xb);
	CHECK(xbuf_close(fd) == 0);	/* the driver's own fd: not the application */
	CHECK_ERR(evl_read_xbuf(xb, buf, 1, O_NONBLOCK), EAGAIN);	/* the app lives */
	shared = xb;
	{
		pthread_t t;

		got = 1;
		CHECK(pthread_create(&t, NULL, blocked_read, NULL) == 0);
		usleep(100 * 1000);
		kill(app, SIGKILL);
		pthread_join(t, NULL);
		CHECK_EQ(got, -EIDRM);
	}
	CHECK_ERR(evl_write_xbuf(xb, "x", 1, O_NONBLOCK), EIDRM);
	evl_put_xbuf(f);
	CHECK(waitpid(app, NULL, 0) == app);
	close(pipefd[0]);
	close(pipefd[1]);
	return T_EXIT_PASS;
}
