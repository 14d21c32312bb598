/* SPDX-License-Identifier: MIT */
/*
 * t_latmus_limits.c - issue 11, item 6: the companion driver is no way to
 * load the machine: periods below XBUF_LATMUS_MIN_PERIOD_US are EINVAL,
 * and at most max_sessions (default 4) sessions run at once (ENOSPC),
 * a stopped or closed one making room again.
 */
#include "kt.h"

#define SESSIONS	4

static int start(int lm, int fd, unsigned period)
{
	struct xbuf_latmus_req req = { .xbuf_fd = fd, .period_us = period, .interval_us = 100000 };

	return ioctl(lm, XBUF_LATMUS_IOC_START, &req);
}

int main(void)
{
	int lm[SESSIONS + 1], fd[SESSIONS + 1];

	for (int i = 0; i <= SESSIONS; i++) {
		lm[i] = open(XBUF_KDEV_LATMUS, O_RDWR | O_CLOEXEC);
		CHECK(lm[i] >= 0);
		fd[i] = kt_create_ok(4096, 0, 0, NULL);
	}
	CHECK_ERRNO(start(lm[0], fd[0], 1), EINVAL);
	CHECK_ERRNO(start(lm[0], fd[0], XBUF_LATMUS_MIN_PERIOD_US - 1), EINVAL);
	for (int i = 0; i < SESSIONS; i++)
		CHECK_EQ(start(lm[i], fd[i], i ? 1000 : XBUF_LATMUS_MIN_PERIOD_US), 0);
	CHECK_ERRNO(start(lm[SESSIONS], fd[SESSIONS], 1000), ENOSPC);
	CHECK_EQ(ioctl(lm[1], XBUF_LATMUS_IOC_STOP), 0);
	CHECK_EQ(start(lm[SESSIONS], fd[SESSIONS], 1000), 0);
	close(lm[2]);
	CHECK_EQ(start(lm[1], fd[1], 1000), 0);
	CHECK_ERRNO(start(lm[1], fd[1], 1000), EBUSY);
	for (int i = 0; i <= SESSIONS; i++) {
		if (i != 2)
			close(lm[i]);
		close(fd[i]);
	}
	return T_EXIT_PASS;
}
