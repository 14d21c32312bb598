// SPDX-License-Identifier: MIT
/*
 * Issue 10.3: the producer's death is first seen inside the sleep path.
 * The test hook XBUF_TEST_SLEEP_DELAY_US (read once, in the user
 * backend's sleep only) holds a reader between its last look at the ring
 * and the sleep's own peer check; meanwhile the producer publishes 100
 * bytes and dies. The blocking read(1000) must still return those 100
 * bytes (the drain first), and only the next one EPIPE.
 */
#include <pthread.h>
#include "peer.h"

static int fd;
static struct driver d;

/* Once our reader is registered as a waiter (it is then in the delayed sleep): write and die. */
static void *producer_steps(void *arg)
{
	struct xbuf_stat st;
	int i;

	(void)arg;
	for (i = 0; i < 5000; i++) {
		CHECK(xbuf_stat(fd, &st) == 0);
		if (st.inbound.consumer_waiters)
			break;
		usleep(1000);
	}
	CHECK(st.inbound.consumer_waiters == 1);
	driver_write(&d, 100 / 16 + 1);	/* 112 */
	driver_kill(&d);
	return NULL;
}

int main(void)
{
	const char *name = unique_name("race");
	uint8_t buf[1000];
	pthread_t thr;

	setenv("XBUF_TEST_SLEEP_DELAY_US", "300000", 1);
	setenv("XBUF_SPIN_US", "0", 1);
	time_limit(20);
	fd = xbuf_create(4096, 4096, XBUF_CLONE_PUBLIC, "%s", name);
	CHECK(fd >= 0);
	d = driver_spawn(name);
	driver_write(&d, 1);
	CHECK_EQ(xbuf_read(fd, buf, 4), 4);	/* 12 left: fewer than we will ask for */
	CHECK(pthread_create(&thr, NULL, producer_steps, NULL) == 0);
	CHECK_EQ(xbuf_read(fd, buf, 1000), 124);
	CHECK(pattern_check(buf, 4, 124) < 0);
	pthread_join(thr, NULL);
	CHECK_ERRNO(xbuf_read(fd, buf, 1000), EPIPE);
	CHECK(xbuf_close(fd) == 0);
	return T_EXIT_PASS;
}
