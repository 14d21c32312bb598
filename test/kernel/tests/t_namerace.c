/* SPDX-License-Identifier: MIT */
/*
 * t_namerace.c - issue 11, item 1: a public name is released only after
 * its device is gone. Two threads create and close the same public name
 * in a loop: each create either succeeds or says EEXIST (taken, or still
 * being released), never anything else, and the kernel log stays clean
 * (the old module unlisted the name before device_unregister(): "sysfs:
 * cannot create duplicate filename" with a stack dump; guest-init scans).
 */
#include "kt.h"

#define ROUNDS	3000

static int counts[2][2];	/* [thread][0 ok, 1 EEXIST] */
static int bad;

static void *loop(void *arg)
{
	int t = (int)(intptr_t)arg;

	for (int i = 0; i < ROUNDS; i++) {
		int fd = kt_create(4096, 4096, XBUF_KCLONE_PUBLIC, "t_race");

		if (fd >= 0) {
			counts[t][0]++;
			close(fd);
		} else if (errno == EEXIST) {
			counts[t][1]++;
		} else {
			fprintf(stderr, "create: %s\n", strerror(errno));
			__atomic_store_n(&bad, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	return NULL;
}

int main(void)
{
	pthread_t th[2];
	int fd;

	kt_clone_fd();
	for (int t = 0; t < 2; t++)
		CHECK(!pthread_create(&th[t], NULL, loop, (void *)(intptr_t)t));
	for (int t = 0; t < 2; t++)
		CHECK(!pthread_join(th[t], NULL));
	printf("t_namerace: ok %d+%d, EEXIST %d+%d\n", counts[0][0], counts[1][0],
	       counts[0][1], counts[1][1]);
	CHECK(!bad);
	CHECK(counts[0][0] + counts[1][0] > 0);
	/* The name is free once both closed. */
	fd = kt_create_ok(4096, 4096, XBUF_KCLONE_PUBLIC, "t_race");
	close(fd);
	return T_EXIT_PASS;
}
