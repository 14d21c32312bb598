/* SPDX-License-Identifier: MIT */
/*
 * t_latency.c - issue 11, item 5: the driver end copies outside its raw
 * spinlock. While one thread's evl_write_xbuf() copies 8 MiB, another
 * thread's 1-byte O_NONBLOCK evl_write_xbuf() on the same ring must not
 * wait for that copy: its in-kernel time, as a ratio to the big copy's
 * in-kernel time in the same run, stays far below 1 (the old module held
 * the lock, irqs off, for the whole memcpy: the ratio approached 1).
 * Both times come from the selftest driver (struct xbuf_kio.ns). The
 * old wait was systematic (every round); a preempted vCPU is not: the
 * verdict takes the best of the rounds' worst ratios.
 */
#include "kt.h"

#define BIG	(8u << 20)
#define ROUNDS	5

static int st;
static int started, finished;
static uint32_t big_ns;
static long big_ret;
static unsigned char *big;

static void *writer(void *arg)
{
	(void)arg;
	__atomic_store_n(&started, 1, __ATOMIC_RELEASE);
	big_ret = kt_kio_ns(st, XBUF_SELFTEST_IOC_KWRITE, big, BIG, 0, &big_ns);
	__atomic_store_n(&finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

int main(void)
{
	double best = 1e9;

	big = malloc(BIG);
	CHECK(big != NULL);
	kt_fill(big, BIG, 1);
	for (int round = 0; round < ROUNDS; round++) {
		uint32_t max_ns = 0, ns;
		unsigned long calls = 0, ok = 0;
		pthread_t th;
		unsigned char c = 7;
		int fd, st2;
		double ratio;

		fd = kt_create_ok(2 * BIG, 0, 0, NULL);
		st = kt_bind(fd);
		st2 = kt_bind(fd);
		started = finished = 0;
		CHECK(!pthread_create(&th, NULL, writer, NULL));
		while (!__atomic_load_n(&started, __ATOMIC_ACQUIRE))
			;
		while (!__atomic_load_n(&finished, __ATOMIC_ACQUIRE)) {
			long r = kt_kio_ns(st2, XBUF_SELFTEST_IOC_KWRITE, &c, 1, XBUF_KIO_NONBLOCK, &ns);

			if (__atomic_load_n(&finished, __ATOMIC_ACQUIRE))
				break;	/* may have started after the copy */
			calls++;
			ok += r == 1;
			if (ns > max_ns)
				max_ns = ns;
		}
		CHECK(!pthread_join(th, NULL));
		CHECK_EQ(big_ret, (long)BIG);
		ratio = big_ns ? (double)max_ns / big_ns : 1;
		printf("t_latency: round %d: 8 MiB copy %.3f ms, 1-byte write max %.3f ms over %lu calls (%lu ok): ratio %.4f\n",
		       round, big_ns / 1e6, max_ns / 1e6, calls, ok, ratio);
		if (calls && ratio < best)
			best = ratio;
		CHECK(ok == calls);	/* room for both: never EAGAIN */
		close(st2);
		close(st);
		close(fd);
	}
	printf("t_latency: best round's worst ratio %.4f (bound 0.25)\n", best);
	CHECK(best < 0.25);
	return T_EXIT_PASS;
}
