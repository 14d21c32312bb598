// SPDX-License-Identifier: MIT
/*
 * t_claim_death - a producer that dies in the middle of claiming its end,
 * after storing its pid in `owner` but before bumping `seq` (user_claim()),
 * must not leave a consumer asleep for ever: the consumer went to sleep
 * when the end was never held, so there was no owner to watch and no wake
 * comes. The sleeper looks again (user_sleep()'s re-check of an unowned
 * peer) and answers EPIPE. Found by test/reliability/c/crash.c (producer),
 * about once in a thousand kills. The child here does the half claim by
 * hand: its pid into the driver page's prod.owner, no lock, no seq bump.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <time.h>
#include "peer.h"

static int fd;
static long long result, took_ms;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *reader(void *arg)
{
	char c;
	ssize_t n;

	(void)arg;
	errno = 0;
	n = xbuf_read(fd, &c, 1);	/* sleeps: nothing there, nobody holds the producer end */
	result = n < 0 ? -errno : n;
	took_ms = now_ms();
	return NULL;
}

int main(void)
{
	char name[64];
	long page = sysconf(_SC_PAGESIZE);
	struct xbuf_stat st;
	pthread_t th;
	long long killed_at;
	pid_t pid;

	time_limit(20);
	snprintf(name, sizeof(name), "/claimdeath.%d", getpid());
	fd = xbuf_create(4096, 0, XBUF_CLONE_USER, "%s", name);
	CHECK(fd >= 0);
	CHECK(pthread_create(&th, NULL, reader, NULL) == 0);
	do {	/* the reader is asleep */
		usleep(1000);
		CHECK_EQ(xbuf_stat(fd, &st), 0);
	} while (!st.inbound.consumer_waiters);
	usleep(20000);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int cfd = xbuf_open(name, XBUF_CLONE_USER);
		char *base = cfd >= 0 ? xbuf_map_base(cfd) : NULL;
		struct xbuf_shm_side *drv;

		if (!base)
			_exit(2);
		drv = (struct xbuf_shm_side *)(base + XBUF_DRIVER_PAGE * page);
		__atomic_store_n(&drv->prod.owner, (uint32_t)getpid(), __ATOMIC_RELEASE);
		_exit(0);	/* killed here: no seq bump, no wake */
	}
	CHECK(waitpid(pid, NULL, 0) == pid);
	killed_at = now_ms();
	CHECK(pthread_join(th, NULL) == 0);
	CHECK_EQ(result, -EPIPE);
	fprintf(stderr, "EPIPE %lld ms after the half-claimed owner died\n", took_ms - killed_at);
	CHECK(took_ms - killed_at < 1000);
	CHECK_EQ(xbuf_close(fd), 0);
	return T_EXIT_PASS;
}
