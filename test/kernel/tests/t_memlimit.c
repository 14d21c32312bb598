/* SPDX-License-Identifier: MIT */
/*
 * t_memlimit.c - issue 11, item 3: ring memory is bounded. A size whose
 * mapping cannot fit in RAM is refused at once (ENOMEM, nothing
 * allocated: no OOM killer, no delay), however often it is asked for;
 * elements kept mapped are charged to their creator's uid up to
 * user_mem_max_mb (default: a quarter of RAM), then ENOMEM; another uid
 * has a budget of its own; the kernel log shows no OOM killer (guest-init
 * scans for it).
 */
#include "kt.h"

#define MAXEL	64

static unsigned long param_mb(void)
{
	FILE *f = fopen("/sys/module/xbuf/parameters/user_mem_max_mb", "r");
	unsigned long mb = 0;

	CHECK(f != NULL);
	CHECK_EQ(fscanf(f, "%lu", &mb), 1);
	fclose(f);
	return mb;
}

/* Create (size, size) elements kept mapped until the limit: how many. */
static int fill_up(uint64_t size, int *fds, void **maps)
{
	int n;

	for (n = 0; n < MAXEL; n++) {
		struct xbuf_elem_info ei;

		fds[n] = kt_create(size, size, 0, NULL);
		if (fds[n] < 0) {
			CHECK_EQ(errno, ENOMEM);
			break;
		}
		CHECK_EQ(ioctl(fds[n], XBUF_IOC_INFO, &ei), 0);
		maps[n] = mmap(NULL, ei.map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[n], 0);
		CHECK(maps[n] != MAP_FAILED);
		((volatile char *)maps[n])[ei.map_size - 1] = 1;	/* outbound data: touch it */
	}
	return n;
}

static void other_user(void *arg)
{
	int fds[MAXEL];
	void *maps[MAXEL];
	int n;

	(void)arg;
	kt_become(65534, 1);
	n = fill_up(1 << 26, fds, maps);
	printf("t_memlimit: uid 65534: %d elements of 2 x 64 MiB\n", n);
	_exit(n >= 1 ? 0 : 1);
}

int main(void)
{
	int fds[MAXEL], n, status;
	void *maps[MAXEL];
	unsigned long mb;
	double t0;

	/* 2 x 2^30: the mapping (4 GiB) cannot fit in this guest's RAM. */
	for (int i = 0; i < 8; i++) {
		t0 = kt_now();
		int e;

		fds[i] = kt_create(1ULL << 30, 1ULL << 30, 0, NULL);
		e = errno;
		printf("t_memlimit: create(2^30, 2^30): %d (%s) in %.3f s\n", fds[i],
		       fds[i] < 0 ? strerror(e) : "created", kt_now() - t0);
		CHECK(fds[i] < 0 && e == ENOMEM);
		CHECK(kt_now() - t0 < 0.5);	/* refused before allocating */
	}

	mb = param_mb();
	printf("t_memlimit: user_mem_max_mb = %lu\n", mb);
	CHECK(mb > 0);

	/* Kept mapped: the limit, not the OOM killer, ends it. */
	n = fill_up(1 << 26, fds, maps);
	printf("t_memlimit: uid 0: %d elements of 2 x 64 MiB\n", n);
	CHECK(n >= 1 && n < MAXEL);
	CHECK((unsigned long)(n + 1) * 128 > mb);	/* the next one would exceed it */
	/* Another uid has a budget of its own. */
	status = kt_in_child(other_user, NULL);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Freed memory is uncharged. */
	for (int i = 0; i < n; i++) {
		struct xbuf_elem_info ei;

		CHECK_EQ(ioctl(fds[i], XBUF_IOC_INFO, &ei), 0);
		munmap(maps[i], ei.map_size);
		close(fds[i]);
	}
	n = fill_up(1 << 26, fds, maps);
	CHECK(n >= 1);
	for (int i = 0; i < n; i++) {
		struct xbuf_elem_info ei;

		CHECK_EQ(ioctl(fds[i], XBUF_IOC_INFO, &ei), 0);
		munmap(maps[i], ei.map_size);
		close(fds[i]);
	}
	return T_EXIT_PASS;
}
