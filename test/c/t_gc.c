// SPDX-License-Identifier: MIT
/*
 * Issue 9: no litter. 1000 creators of public elements are killed with
 * SIGKILL: their files stay in /dev/shm until something takes them off.
 * xbuf_gc() (every xbuf command runs it) leaves only live elements;
 * xbuf_reclaim() does one name.
 */
#include <time.h>
#include "peer.h"

#define CREATORS	1000

int main(void)
{
	char prefix[64], live[80];
	struct timespec t0, t1;
	int i, fd, removed;

	time_limit(60);
	snprintf(prefix, sizeof(prefix), "t-gc-%d-", (int)getpid());
	snprintf(live, sizeof(live), "%slive", prefix);
	fd = xbuf_create(4096, 4096, XBUF_CLONE_PUBLIC, "%s", live);
	CHECK(fd >= 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < CREATORS; i++) {
		pid_t pid = fork();
		int status;

		CHECK(pid >= 0);
		if (pid == 0) {
			if (xbuf_create(4096, 0, XBUF_CLONE_PUBLIC, "%s%d", prefix, i) < 0)
				_exit(1);
			raise(SIGKILL);
		}
		CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "%d creators killed in %.2f s\n", CREATORS,
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	CHECK_EQ(stale_files(prefix), CREATORS + 1);

	/* one name */
	CHECK_EQ(xbuf_reclaim(live), 0);	/* live: kept */
	snprintf(live + strlen(prefix), sizeof(live) - strlen(prefix), "0");
	CHECK_EQ(xbuf_reclaim(live), 1);
	CHECK_EQ(xbuf_reclaim(live), 0);	/* gone already */
	CHECK_ERR(xbuf_reclaim("a/b"), EINVAL);

	removed = xbuf_gc();
	CHECK(removed >= CREATORS - 1);	/* others' stale names may go too */
	CHECK_EQ(stale_files(prefix), 1);	/* only the live one */
	snprintf(live, sizeof(live), "%slive", prefix);
	CHECK(xbuf_close(fd) == 0);
	CHECK_EQ(stale_files(prefix), 0);
	return T_EXIT_PASS;
}
