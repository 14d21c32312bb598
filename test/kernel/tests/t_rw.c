/* SPDX-License-Identifier: MIT */
/*
 * read(2)/write(2) against the in-kernel API (through xbuf_selftest.ko):
 * exact blocking reads, short reads under writer contention (both
 * directions), atomic writes, EAGAIN, EINVAL, EPERM, EINTR.
 */
#include "kt.h"

#define CAP 4096

struct job {
	int st, fd;
	size_t n;
	unsigned seed;
	long ret;
	int err;
};

static void *kwrite_blocking(void *arg)
{
	struct job *j = arg;
	unsigned char *buf = malloc(j->n);

	kt_fill(buf, j->n, j->seed);
	j->ret = kt_kwrite(j->st, buf, j->n, 0);
	j->err = errno;
	free(buf);
	return NULL;
}

static void *write_blocking(void *arg)
{
	struct job *j = arg;
	unsigned char *buf = malloc(j->n);

	kt_fill(buf, j->n, j->seed);
	j->ret = write(j->fd, buf, j->n);
	j->err = errno;
	free(buf);
	return NULL;
}

static void *kread_later(void *arg)
{
	struct job *j = arg;
	unsigned char *buf = malloc(j->n);

	kt_msleep(200);
	j->ret = kt_kread(j->st, buf, j->n, 0);
	j->err = errno;
	free(buf);
	return NULL;
}

static void on_alarm(int sig)
{
	(void)sig;
}

int main(void)
{
	static unsigned char buf[CAP + 64], in[CAP + 64];
	struct xbuf_elem_rings r;
	struct kt_map m;
	struct job j;
	pthread_t t;
	int fd, st, pipefd[2];
	void *volatile bad_ptr = (void *)8;

	fd = kt_create_ok(CAP, CAP, 0, NULL);
	st = kt_bind(fd);
	kt_map(fd, &m);

	/* evl_get_xbuf() refuses what is no element. */
	{
		int st2 = open(XBUF_KDEV_SELFTEST, O_RDWR);

		CHECK(pipe(pipefd) == 0);
		CHECK_ERRNO(ioctl(st2, XBUF_SELFTEST_IOC_BIND, &pipefd[0]), EINVAL);
		CHECK_ERRNO(ioctl(st2, XBUF_SELFTEST_IOC_BIND, &st2), EINVAL);
		{
			int bad = 1000;

			CHECK_ERRNO(ioctl(st2, XBUF_SELFTEST_IOC_BIND, &bad), EINVAL);
		}
		close(st2);
	}

	/* count 0 */
	CHECK_EQ(read(fd, buf, 0), 0);
	CHECK_EQ(write(fd, buf, 0), 0);
	CHECK_EQ(kt_kwrite(st, buf, 0, 0), 0);
	CHECK_EQ(kt_kread(st, buf, 0, 0), 0);

	/* Exact: driver -> app and app -> driver, content checked. */
	kt_fill(buf, 1000, 3);
	CHECK_EQ(kt_kwrite(st, buf, 1000, 0), 1000);
	memset(in, 0, sizeof(in));
	CHECK_EQ(read(fd, in, 400), 400);
	CHECK_EQ(read(fd, in + 400, 600), 600);
	CHECK(kt_same(in, 1000, 3));
	kt_fill(buf, 1000, 4);
	CHECK_EQ(write(fd, buf, 1000), 1000);
	memset(in, 0, sizeof(in));
	CHECK_EQ(kt_kread(st, in, 1000, 0), 1000);
	CHECK(kt_same(in, 1000, 4));
	/* read(2)/write(2) keep the app page words up to date. */
	CHECK_EQ(kt_load64(&m.app->cons.pos), 1000);
	CHECK_EQ(kt_load64(&m.app->prod.pos), 1000);
	CHECK_EQ(kt_load64(&m.drv->prod.pos), 1000);
	CHECK_EQ(kt_load64(&m.drv->cons.pos), 1000);
	CHECK(m.app->cons.ops >= 2 && m.drv->prod.ops >= 1);

	/* Non-blocking: what is there, else EAGAIN. */
	kt_set_nonblock(fd, 1);
	CHECK_ERRNO(read(fd, buf, 10), EAGAIN);
	CHECK(m.app->cons.eagain >= 1);
	CHECK_EQ(kt_kwrite(st, buf, 10, XBUF_KIO_NONBLOCK), 10);
	CHECK_EQ(read(fd, in, 100), 10);
	CHECK_ERRNO(kt_kread(st, buf, 10, XBUF_KIO_NONBLOCK), EAGAIN);
	CHECK_EQ(write(fd, buf, 7), 7);
	CHECK_EQ(kt_kread(st, in, 100, XBUF_KIO_NONBLOCK), 7);
	/* A non-blocking read above the capacity is no error. */
	CHECK_EQ(kt_kwrite(st, buf, 5, 0), 5);
	CHECK_EQ(read(fd, in, CAP + 1), 5);
	CHECK_EQ(write(fd, buf, 6), 6);
	CHECK_EQ(kt_kread(st, in, CAP + 1, XBUF_KIO_NONBLOCK), 6);
	kt_set_nonblock(fd, 0);

	/* EINVAL: blocking read above the capacity, any write above it. */
	CHECK_ERRNO(read(fd, buf, CAP + 1), EINVAL);
	CHECK_ERRNO(write(fd, buf, CAP + 1), EINVAL);
	kt_set_nonblock(fd, 1);
	CHECK_ERRNO(write(fd, buf, CAP + 1), EINVAL);
	kt_set_nonblock(fd, 0);
	CHECK_ERRNO(kt_kwrite(st, buf, CAP + 1, 0), EINVAL);
	CHECK_ERRNO(kt_kwrite(st, buf, CAP + 1, XBUF_KIO_NONBLOCK), EINVAL);
	CHECK_ERRNO(kt_kread(st, buf, CAP + 1, 0), EINVAL);

	/* Atomic writes: all or nothing, full ring included. */
	kt_fill(buf, CAP, 9);
	CHECK_EQ(write(fd, buf, 3000), 3000);
	kt_set_nonblock(fd, 1);
	CHECK_ERRNO(write(fd, buf, 2000), EAGAIN);
	kt_rings(fd, &r);
	CHECK_EQ(r.ofill, 3000);
	CHECK_EQ(write(fd, buf, CAP - 3000), CAP - 3000);
	CHECK_ERRNO(write(fd, buf, 1), EAGAIN);
	kt_set_nonblock(fd, 0);
	CHECK_EQ(kt_kread(st, in, CAP, 0), CAP);
	/* Blocking write waits for room for all of it, then lands whole. */
	CHECK_EQ(write(fd, buf, 3000), 3000);
	j = (struct job){ .st = st, .n = 2500 };
	CHECK(!pthread_create(&t, NULL, kread_later, &j));
	kt_fill(buf, 2000, 11);
	CHECK_EQ(write(fd, buf, 2000), 2000);	/* needs the reader's 2500 */
	CHECK(!pthread_join(t, NULL));
	CHECK_EQ(j.ret, 2500);
	CHECK_EQ(kt_kread(st, in, 500, 0), 500);
	CHECK_EQ(kt_kread(st, in, 2000, 0), 2000);
	CHECK(kt_same(in, 2000, 11));
	kt_rings(fd, &r);
	CHECK_EQ(r.ofill, 0);
	/* Same on the driver end. */
	CHECK_EQ(kt_kwrite(st, buf, 3000, 0), 3000);
	CHECK_ERRNO(kt_kwrite(st, buf, 2000, XBUF_KIO_NONBLOCK), EAGAIN);
	CHECK(m.drv->prod.eagain >= 1);
	kt_rings(fd, &r);
	CHECK_EQ(r.ifill, 3000);
	CHECK_EQ(read(fd, in, 3000), 3000);

	/*
	 * Short read under writer contention, inbound: a kernel writer
	 * blocks for room, so a blocking read takes what is there.
	 */
	kt_fill(buf, 3000, 21);
	CHECK_EQ(kt_kwrite(st, buf, 3000, 0), 3000);
	j = (struct job){ .st = st, .n = 3000, .seed = 22 };
	CHECK(!pthread_create(&t, NULL, kwrite_blocking, &j));
	CHECK(kt_wait_nonzero(&m.drv->prod.waiters, 5000));
	CHECK_EQ(read(fd, in, CAP), 3000);		/* short */
	CHECK(kt_same(in, 3000, 21));
	CHECK(!pthread_join(t, NULL));
	CHECK_EQ(j.ret, 3000);
	CHECK_EQ(m.drv->prod.waiters, 0);
	CHECK_EQ(read(fd, in, 3000), 3000);
	CHECK(kt_same(in, 3000, 22));

	/* Outbound: an app writer blocks, so a blocking kernel read is short. */
	kt_fill(buf, 3000, 31);
	CHECK_EQ(write(fd, buf, 3000), 3000);
	j = (struct job){ .fd = fd, .n = 3000, .seed = 32 };
	CHECK(!pthread_create(&t, NULL, write_blocking, &j));
	CHECK(kt_wait_nonzero(&m.app->prod.waiters, 5000));
	CHECK_EQ(kt_kread(st, in, CAP, 0), 3000);	/* short */
	CHECK(kt_same(in, 3000, 31));
	CHECK(!pthread_join(t, NULL));
	CHECK_EQ(j.ret, 3000);
	CHECK_EQ(kt_kread(st, in, 3000, 0), 3000);
	CHECK(kt_same(in, 3000, 32));

	/* Without contention, a blocking read waits for all of it. */
	j = (struct job){ .st = st, .n = 100, .seed = 41 };
	{
		pthread_t t2;
		struct job j2 = { .st = st, .n = 100, .seed = 42 };

		CHECK_EQ(kt_kwrite(st, buf, 0, 0), 0);
		CHECK(!pthread_create(&t, NULL, kwrite_blocking, &j));
		CHECK(!pthread_join(t, NULL));
		CHECK(!pthread_create(&t2, NULL, kwrite_blocking, &j2));
		CHECK_EQ(read(fd, in, 200), 200);	/* 100 + the other 100 */
		CHECK(!pthread_join(t2, NULL));
		CHECK(kt_same(in, 100, 41));
		CHECK(kt_same(in + 100, 100, 42));
	}

	/* EPERM: a blocking in-kernel call where sleeping is forbidden. */
	CHECK_ERRNO(kt_kwrite(st, buf, 10, XBUF_KIO_ATOMIC), EPERM);
	CHECK_ERRNO(kt_kwrite(st, buf, 10, XBUF_KIO_IRQOFF), EPERM);
	CHECK_ERRNO(kt_kread(st, buf, 10, XBUF_KIO_ATOMIC), EPERM);
	CHECK_EQ(kt_kwrite(st, buf, 10, XBUF_KIO_NONBLOCK | XBUF_KIO_IRQOFF), 10);
	CHECK_EQ(kt_kwrite(st, buf, 10, XBUF_KIO_NONBLOCK | XBUF_KIO_ATOMIC), 10);
	CHECK_EQ(read(fd, in, 20), 20);
	CHECK_EQ(write(fd, buf, 10), 10);
	CHECK_EQ(kt_kread(st, in, 10, XBUF_KIO_NONBLOCK | XBUF_KIO_IRQOFF), 10);

	/* EINTR: a blocking read interrupted by a signal without SA_RESTART. */
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm;
		CHECK(!sigaction(SIGALRM, &sa, NULL));
		alarm(1);
		CHECK_ERRNO(read(fd, in, 10), EINTR);
		CHECK_EQ(m.app->cons.waiters, 0);
	}

	/* EFAULT: a bad user buffer consumes nothing. */
	CHECK_EQ(kt_kwrite(st, buf, 10, 0), 10);
	CHECK_ERRNO(read(fd, bad_ptr, 10), EFAULT);
	CHECK_EQ(read(fd, in, 10), 10);
	CHECK_ERRNO(write(fd, bad_ptr, 10), EFAULT);
	kt_rings(fd, &r);
	CHECK_EQ(r.ofill, 0);

	/* Many wraps with odd sizes, content checked. */
	for (unsigned i = 0; i < 300; i++) {
		size_t n = 1 + (i * 977) % CAP;

		kt_fill(buf, n, i);
		CHECK_EQ(kt_kwrite(st, buf, n, 0), (long)n);
		CHECK_EQ(read(fd, in, n), (long)n);
		CHECK(kt_same(in, n, i));
		CHECK_EQ(write(fd, buf, n), (long)n);
		CHECK_EQ(kt_kread(st, in, n, 0), (long)n);
		CHECK(kt_same(in, n, i));
	}

	munmap(m.base, m.size);
	close(st);
	close(fd);
	return T_EXIT_PASS;
}
