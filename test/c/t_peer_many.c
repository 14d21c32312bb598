// SPDX-License-Identifier: MIT
/*
 * Issue 10.1: an application serves 310 driver processes one after
 * another, each letting go cleanly (XBUF_OWNER_GONE) after we watched it;
 * then the next driver is killed while we sleep on it. The watch list
 * must drop each clean peer and close its pidfd: no fd growth, and the
 * last death still wakes us (EPIPE, no hang; there used to be a fixed
 * limit of 256 watched pids, past which nobody was watched).
 */
#include <pthread.h>
#include <time.h>
#include "peer.h"

#define ROUNDS	310

static void *kill_later(void *arg)
{
	struct timespec ts = { 0, 100 * 1000000L };

	nanosleep(&ts, NULL);
	kill((pid_t)(intptr_t)arg, SIGKILL);
	return NULL;
}

int main(void)
{
	const char *name = unique_name("many");
	uint8_t buf[16];
	const void *p;
	pthread_t killer;
	struct driver d;
	int fd, fds = -1, round;

	time_limit(25);
	fd = xbuf_create(4096, 4096, XBUF_CLONE_PUBLIC, "%s", name);
	CHECK(fd >= 0);
	for (round = 0; round < ROUNDS; round++) {
		d = driver_spawn(name);
		driver_write(&d, 1);
		CHECK_EQ(xbuf_read(fd, buf, 16), 16);
		/* Nothing to read and the driver alive: this looks at it (and watches it). */
		CHECK_ERR(xbuf_read_begin(fd, 1, XBUF_NONBLOCK, &p), EAGAIN);
		driver_exit(&d);
		CHECK_ERRNO(xbuf_read(fd, buf, 1), EPIPE);
		if (round == 1)
			fds = count_fds();	/* the watcher's eventfd exists by now */
	}
	CHECK_EQ(count_fds(), fds);

	d = driver_spawn(name);
	driver_write(&d, 1);
	CHECK_EQ(xbuf_read(fd, buf, 16), 16);
	CHECK(pthread_create(&killer, NULL, kill_later, (void *)(intptr_t)d.pid) == 0);
	CHECK_ERRNO(xbuf_read(fd, buf, 1), EPIPE);	/* asleep when it dies */
	pthread_join(killer, NULL);
	CHECK_EQ(driver_wait(&d), 128 + SIGKILL);
	CHECK_EQ(count_fds(), fds);
	CHECK(xbuf_close(fd) == 0);
	return T_EXIT_PASS;
}
