// SPDX-License-Identifier: MIT
/*
 * t_lib_rw.c - libxbuf's application side on kernel elements, with
 * xbuf_selftest.ko playing the driver (evl_read_xbuf/evl_write_xbuf):
 * exact blocking reads, the short read under a stuck in-kernel writer,
 * all-or-nothing writes (EAGAIN, EINVAL, ENOBUFS), in-kernel sleepers
 * woken by the library's commits (XBUF_IOC_KICK), and zero-copy borrows
 * across the wrap in both directions.
 */
#include "kt.h"
#include "xbuf.h"

struct kio_job {
	int st;
	unsigned long cmd;
	unsigned char *buf;
	size_t n;
	long ret;
	int done;
};

static void *kio_thread(void *arg)
{
	struct kio_job *j = arg;

	j->ret = kt_kio(j->st, j->cmd, j->buf, j->n, 0);
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct read_job {
	int fd;
	unsigned char *buf;
	size_t n;
	ssize_t ret;
	int done;
};

static void *read_thread(void *arg)
{
	struct read_job *j = arg;

	j->ret = xbuf_read(j->fd, j->buf, j->n);
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *write_thread(void *arg)
{
	struct read_job *j = arg;

	j->ret = xbuf_write(j->fd, j->buf, j->n);
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Exact reads: a blocking read waits for all of count while no writer is stuck. */
static void exact_reads(void)
{
	static unsigned char in[4096], out[4096];
	struct read_job rj = { .buf = out, .n = 100 };
	pthread_t t;
	int fd, st;

	fd = xbuf_create(4096, 4096, 0, NULL);
	CHECK(fd >= 0);
	st = kt_bind(fd);
	rj.fd = fd;

	kt_fill(in, 100, 3);
	CHECK_EQ(kt_kwrite(st, in, 100, 0), 100);
	CHECK_EQ(xbuf_read(fd, out, 100), 100);
	CHECK(kt_same(out, 100, 3));

	kt_fill(in, 100, 5);
	CHECK_EQ(kt_kwrite(st, in, 60, 0), 60);
	CHECK_EQ(pthread_create(&t, NULL, read_thread, &rj), 0);
	kt_msleep(300);
	CHECK(!__atomic_load_n(&rj.done, __ATOMIC_ACQUIRE));	/* 60 of 100: waits */
	CHECK_EQ(kt_kwrite(st, in + 60, 40, 0), 40);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(rj.ret, 100);
	CHECK(kt_same(out, 100, 5));

	/* Blocking read above the capacity; non-blocking reads take what is there. */
	CHECK_ERRNO(xbuf_read(fd, out, 4097), EINVAL);
	kt_set_nonblock(fd, 1);
	CHECK_ERRNO(xbuf_read(fd, out, 10), EAGAIN);
	CHECK_EQ(kt_kwrite(st, in, 7, 0), 7);
	CHECK_EQ(xbuf_read(fd, out, 4097), 7);
	kt_set_nonblock(fd, 0);

	close(st);
	CHECK_EQ(xbuf_close(fd), 0);
}

/*
 * EVL's deadlock rule: the in-kernel writer sleeps for room that only our
 * taking what is there can make, so the blocking read returns short.
 */
static void short_read_stuck_writer(void)
{
	static unsigned char in[4096], out[4096];
	struct kio_job kj = { .cmd = XBUF_SELFTEST_IOC_KWRITE, .buf = in, .n = 200 };
	pthread_t t;
	int fd, st;

	fd = xbuf_create(4096, 0, 0, NULL);
	CHECK(fd >= 0);
	st = kt_bind(fd);
	kj.st = st;
	kt_fill(in, 4096, 9);
	CHECK_EQ(kt_kwrite(st, in, 4000, XBUF_KIO_NONBLOCK), 4000);
	CHECK_EQ(pthread_create(&t, NULL, kio_thread, &kj), 0);
	kt_msleep(200);
	CHECK(!__atomic_load_n(&kj.done, __ATOMIC_ACQUIRE));	/* 96 bytes of room, wants 200 */
	CHECK_EQ(xbuf_read(fd, out, 4096), 4000);		/* short: the writer is stuck */
	CHECK(kt_same(out, 4000, 9));
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(kj.ret, 200);
	CHECK_EQ(xbuf_read(fd, out, 200), 200);
	CHECK(kt_same(out, 200, 9));
	CHECK_ERRNO(xbuf_write(fd, out, 1), ENOBUFS);
	close(st);
	CHECK_EQ(xbuf_close(fd), 0);
}

/* All or nothing; a blocked writer is woken by the kernel's read, and the reverse. */
static void atomic_writes(void)
{
	static unsigned char in[4096], out[4096];
	struct read_job wj = { .buf = in, .n = 600 };
	struct kio_job kj = { .cmd = XBUF_SELFTEST_IOC_KREAD, .buf = out, .n = 300 };
	pthread_t t;
	int fd, st;

	fd = xbuf_create(0, 1000, 0, NULL);
	CHECK(fd >= 0);
	st = kt_bind(fd);
	CHECK_ERRNO(xbuf_read(fd, out, 1), ENOBUFS);
	CHECK_ERRNO(xbuf_write(fd, in, 1001), EINVAL);
	kt_fill(in, 600, 11);
	CHECK_EQ(xbuf_write(fd, in, 600), 600);
	kt_set_nonblock(fd, 1);
	CHECK_ERRNO(xbuf_write(fd, in, 600), EAGAIN);	/* 400 of room: nothing written */
	kt_set_nonblock(fd, 0);
	CHECK_EQ(kt_kread(st, out, 1000, XBUF_KIO_NONBLOCK), 600);
	CHECK(kt_same(out, 600, 11));

	/* The library's writer sleeps in XBUF_IOC_WAIT; the kernel's read wakes it. */
	CHECK_EQ(xbuf_write(fd, in, 600), 600);
	wj.fd = fd;
	CHECK_EQ(pthread_create(&t, NULL, write_thread, &wj), 0);
	kt_msleep(300);
	CHECK(!__atomic_load_n(&wj.done, __ATOMIC_ACQUIRE));
	CHECK_EQ(kt_kread(st, out, 600, 0), 600);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(wj.ret, 600);
	CHECK_EQ(kt_kread(st, out, 600, 0), 600);
	CHECK(kt_same(out, 600, 11));

	/* An in-kernel reader sleeps; our commit sees its `waiters` and kicks it. */
	kj.st = st;
	CHECK_EQ(pthread_create(&t, NULL, kio_thread, &kj), 0);
	kt_msleep(200);
	CHECK(!__atomic_load_n(&kj.done, __ATOMIC_ACQUIRE));
	kt_fill(in, 300, 13);
	CHECK_EQ(xbuf_write(fd, in, 300), 300);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(kj.ret, 300);
	CHECK(kt_same(out, 300, 13));
	close(st);
	CHECK_EQ(xbuf_close(fd), 0);
}

/* Borrows across the wrap are contiguous (the double mapping), both ways. */
static void zero_copy_wrap(void)
{
	static unsigned char in[4096], out[4096];
	struct kio_job kj = { .cmd = XBUF_SELFTEST_IOC_KWRITE, .buf = in, .n = 1000 };
	const void *rp;
	void *wp;
	struct xbuf_stat s;
	pthread_t t;
	int fd, st;

	fd = xbuf_create(4096, 4096, 0, NULL);
	CHECK(fd >= 0);
	st = kt_bind(fd);

	kt_fill(in, 3000, 1);
	CHECK_EQ(kt_kwrite(st, in, 3000, 0), 3000);
	CHECK_EQ(xbuf_read(fd, out, 3000), 3000);
	kt_fill(in, 2000, 21);
	CHECK_EQ(kt_kwrite(st, in, 2000, 0), 2000);		/* bytes 3000..4999: wraps */
	CHECK_EQ(xbuf_read_begin(fd, 2000, 0, &rp), 2000);
	CHECK(kt_same(rp, 2000, 21));
	CHECK_EQ(xbuf_read_begin(fd, 1, 0, &rp), -EBUSY);	/* this thread holds the end */
	CHECK_EQ(xbuf_read_end(fd, 2000), 0);
	CHECK_EQ(xbuf_read_end(fd, 1), -EINVAL);

	/* A consumer commit wakes an in-kernel writer waiting for room. */
	kt_fill(in, 4096, 23);
	CHECK_EQ(kt_kwrite(st, in, 3500, 0), 3500);
	kj.st = st;
	CHECK_EQ(pthread_create(&t, NULL, kio_thread, &kj), 0);
	kt_msleep(200);
	CHECK(!__atomic_load_n(&kj.done, __ATOMIC_ACQUIRE));
	CHECK_EQ(xbuf_read_begin(fd, 3500, XBUF_NONBLOCK, &rp), 3500);
	CHECK(kt_same(rp, 3500, 23));
	CHECK_EQ(xbuf_read_end(fd, 3500), 0);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(kj.ret, 1000);
	CHECK_EQ(xbuf_read(fd, out, 1000), 1000);
	CHECK(kt_same(out, 1000, 23));

	/* Outbound: borrow, fill in place, publish; the kernel reads it. */
	CHECK_EQ(xbuf_write_begin(fd, 3000, 0, &wp), 3000);
	kt_fill(wp, 3000, 31);
	CHECK_EQ(xbuf_write_end(fd, 3000), 0);
	CHECK_EQ(kt_kread(st, out, 3000, 0), 3000);
	CHECK(kt_same(out, 3000, 31));
	CHECK_EQ(xbuf_write_begin(fd, 2000, XBUF_NOWAIT, &wp), 2000);	/* wraps */
	kt_fill(wp, 2000, 37);
	CHECK_EQ(xbuf_write_end(fd, 1500), 0);				/* publish part */
	CHECK_EQ(kt_kread(st, out, 4096, XBUF_KIO_NONBLOCK), 1500);
	CHECK(kt_same(out, 1500, 37));
	CHECK_EQ(xbuf_write_begin(fd, 4097, 0, &wp), -EINVAL);
	CHECK_EQ(xbuf_write_begin(fd, 4096, 0, &wp), 4096);
	CHECK_EQ(xbuf_write_end(fd, 4096), 0);
	CHECK_EQ(xbuf_write_begin(fd, 1, XBUF_NONBLOCK, &wp), -EAGAIN);
	CHECK_EQ(xbuf_write_begin(fd, 1, XBUF_NOWAIT, &wp), -EAGAIN);
	CHECK_EQ(kt_kread(st, out, 4096, 0), 4096);

	CHECK_EQ(xbuf_stat(fd, &s), 0);
	CHECK_EQ(s.inbound.produced, 3000 + 2000 + 3500 + 1000);
	CHECK_EQ(s.inbound.consumed, s.inbound.produced);
	CHECK_EQ(s.outbound.produced, 3000 + 1500 + 4096);
	CHECK_EQ(s.outbound.consumed, s.outbound.produced);
	CHECK_EQ(s.outbound.write_eagain, 1);
	close(st);
	CHECK_EQ(xbuf_close(fd), 0);
}

int main(void)
{
	setenv("XBUF_BACKEND", "kernel", 1);
	exact_reads();
	short_read_stuck_writer();
	atomic_writes();
	zero_copy_wrap();
	return T_EXIT_PASS;
}
