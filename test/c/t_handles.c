// SPDX-License-Identifier: MIT
/*
 * The fd table under fire: reader threads call into the library on fds
 * that the main thread closes and creates again (fd numbers come back, now
 * naming other elements) while they run. Every call must either work on a
 * whole element (its capacity is one the test made) or fail with EBADF:
 * never crash, never see a half-made or freed handle. Lookups take no
 * lock (xbuf.c), which is what this pounds on; ASan and TSan runs watch it.
 */
#include <pthread.h>
#include <time.h>
#include "test.h"

#define SLOTS	8
#define ROUNDS	3000

static int fds[SLOTS];
static volatile int stop;
static unsigned long long calls, ok_calls;

/* The capacities this test creates: 100 + 10 * k for k in 0..SLOTS*2. */
static bool known_capacity(size_t cap)
{
	return cap >= 100 && cap < 100 + 10 * 2 * SLOTS && (cap - 100) % 10 == 0;
}

static void *reader(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg;
	unsigned long long n = 0, good = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		int fd = __atomic_load_n(&fds[rand_r(&seed) % SLOTS], __ATOMIC_RELAXED);
		struct xbuf_rings r;
		int ret = xbuf_rings(fd, &r);

		n++;
		if (ret == 0) {
			CHECK(known_capacity(r.isize) && r.osize == r.isize);
			good++;
		} else {
			CHECK(ret == -EBADF);
		}
		if ((n & 15) == 0) {
			char buf[8];

			ret = xbuf_write(fd, "x", 1);
			CHECK(ret == 1 || (ret == -1 && (errno == EBADF || errno == EAGAIN)));
			ret = xbuf_read_begin(fd, 8, XBUF_NONBLOCK, &(const void *){ NULL });
			CHECK(ret == -EAGAIN || ret == -EBADF);
			(void)buf;
		}
	}
	__atomic_fetch_add(&calls, n, __ATOMIC_RELAXED);
	__atomic_fetch_add(&ok_calls, good, __ATOMIC_RELAXED);
	return NULL;
}

int main(void)
{
	pthread_t thr[3];
	int i, round;

	for (i = 0; i < SLOTS; i++) {
		fds[i] = xbuf_create(100 + 10 * (size_t)i, 100 + 10 * (size_t)i, XBUF_CLONE_NONBLOCK, NULL);
		CHECK(fds[i] >= 0);
	}
	for (i = 0; i < 3; i++)
		CHECK(pthread_create(&thr[i], NULL, reader, (void *)(uintptr_t)(i + 1)) == 0);
	for (round = 0; round < ROUNDS; round++) {
		int k = round % SLOTS;
		int old = fds[k];
		size_t cap = 100 + 10 * (size_t)((round / SLOTS) % 2 ? k : SLOTS + k);
		int fd;

		CHECK(xbuf_close(old) == 0);
		fd = xbuf_create(cap, cap, XBUF_CLONE_NONBLOCK, NULL);	/* often gets old's number back */
		CHECK(fd >= 0);
		__atomic_store_n(&fds[k], fd, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < 3; i++)
		pthread_join(thr[i], NULL);
	printf("%llu calls, %llu on a live element\n", calls, ok_calls);
	CHECK(ok_calls > 0);
	for (i = 0; i < SLOTS; i++)
		CHECK(xbuf_close(fds[i]) == 0);
	return T_EXIT_PASS;
}
