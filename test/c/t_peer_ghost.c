// SPDX-License-Identifier: MIT
/*
 * Issue 10.4: a producer killed while blocked for room leaves its
 * `waiters` and `wanted` in its endpoint. The next producer that claims
 * the end must start from a clean end: no waiting producer in
 * xbuf_stat, no short read although no writer is blocked, and its seq
 * goes on from where the dead one's stood (never backwards: a sleeper
 * compares it with what it saw).
 */
#include <pthread.h>
#include "peer.h"

static int fd;

static void *read_1000(void *arg)
{
	static uint8_t buf[1000];

	(void)arg;
	return (void *)(intptr_t)xbuf_read(fd, buf, 1000);
}

int main(void)
{
	const char *name = unique_name("ghost");
	struct xbuf_shm_side *drv_page;
	struct xbuf_stat st;
	uint8_t buf[4096];
	const void *p;
	struct driver d;
	pthread_t thr;
	void *ret;
	uint32_t seq;
	int i;

	time_limit(20);
	fd = xbuf_create(4096, 4096, XBUF_CLONE_PUBLIC, "%s", name);
	CHECK(fd >= 0);
	drv_page = (void *)((char *)xbuf_map_base(fd) + XBUF_DRIVER_PAGE * sysconf(_SC_PAGESIZE));

	d = driver_spawn(name);
	driver_write(&d, 1);		/* 16 bytes in the ring */
	driver_write(&d, 255);		/* a write of 4096: blocks for room */
	for (i = 0; i < 5000; i++) {
		CHECK(xbuf_stat(fd, &st) == 0);
		if (st.inbound.producer_waiters)
			break;
		usleep(1000);
	}
	CHECK_EQ(st.inbound.producer_waiters, 1);
	CHECK_EQ(__atomic_load_n(&drv_page->prod.wanted, __ATOMIC_RELAXED), 4096);
	driver_kill(&d);
	seq = __atomic_load_n(&drv_page->prod.seq, __ATOMIC_RELAXED);
	CHECK_EQ(xbuf_read(fd, buf, 16), 16);	/* the drain */
	CHECK_ERRNO(xbuf_read(fd, buf, 1), EPIPE);

	/* A new driver takes over the end and writes 112 bytes. */
	d = driver_spawn(name);
	driver_write(&d, 7);
	CHECK(xbuf_stat(fd, &st) == 0);
	CHECK_EQ(st.inbound.producer_waiters, 0);
	CHECK_EQ(st.inbound.producer_pid, d.pid);
	CHECK((int32_t)(__atomic_load_n(&drv_page->prod.seq, __ATOMIC_RELAXED) - seq) >= 0);
	CHECK_EQ(__atomic_load_n(&drv_page->prod.wanted, __ATOMIC_RELAXED), 0);
	/* No writer is blocked: a read of 1000 waits for all of it. */
	CHECK_ERR(xbuf_read_begin(fd, 1000, XBUF_NOWAIT, &p), EAGAIN);
	CHECK_EQ(xbuf_poll(fd, XBUF_POLLIN, 1000, 50), 0);
	CHECK(pthread_create(&thr, NULL, read_1000, NULL) == 0);
	usleep(20000);
	for (i = 0; i < 56; i++)
		driver_write(&d, 1);	/* 112 + 896 = 1008 */
	pthread_join(thr, &ret);
	CHECK_EQ((intptr_t)ret, 1000);
	CHECK_EQ(xbuf_read(fd, buf, 8), 8);
	driver_exit(&d);
	CHECK(xbuf_close(fd) == 0);
	return T_EXIT_PASS;
}
