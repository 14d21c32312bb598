/* SPDX-License-Identifier: MIT */
/*
 * The companion driver: records arrive through read(2); records that do
 * not fit are dropped and counted, never lost silently; START/STOP errors.
 * A record is due once its samples + overruns cover the interval
 * (xbuf/kernel.h): without overruns, that is interval / period samples.
 */
#include "kt.h"

static void stats(int lm, struct xbuf_latmus_stats *s)
{
	CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_STATS, s), 0);
}

int main(void)
{
	struct xbuf_latmus_req req;
	struct xbuf_latmus_stats s;
	struct xbuf_latmus_record rec[4];
	struct kt_latmus k;
	uint64_t samples = 0;
	struct xbuf_elem_rings r;
	int fd, lm, pfd[2];

	lm = open(XBUF_KDEV_LATMUS, O_RDWR | O_CLOEXEC);
	CHECK(lm >= 0);
	fd = kt_create_ok(4096, 0, 0, NULL);

	/* Errors. */
	CHECK(pipe(pfd) == 0);
	req = (struct xbuf_latmus_req){ .xbuf_fd = pfd[0], .period_us = 1000, .interval_us = 1000 };
	CHECK_ERRNO(ioctl(lm, XBUF_LATMUS_IOC_START, &req), EINVAL);
	req = (struct xbuf_latmus_req){ .xbuf_fd = -1, .period_us = 1000, .interval_us = 1000 };
	CHECK_ERRNO(ioctl(lm, XBUF_LATMUS_IOC_START, &req), EINVAL);
	req = (struct xbuf_latmus_req){ .xbuf_fd = fd, .period_us = 0, .interval_us = 1000 };
	CHECK_ERRNO(ioctl(lm, XBUF_LATMUS_IOC_START, &req), EINVAL);
	req = (struct xbuf_latmus_req){ .xbuf_fd = fd, .period_us = 1000, .interval_us = 999 };
	CHECK_ERRNO(ioctl(lm, XBUF_LATMUS_IOC_START, &req), EINVAL);
	CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_STOP), 0);	/* not running: no-op */
	stats(lm, &s);
	CHECK_EQ(s.running, 0);

	/* Records arrive, each covering 10 periods. */
	req = (struct xbuf_latmus_req){ .xbuf_fd = fd, .period_us = 1000, .interval_us = 10000 };
	CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_START, &req), 0);
	CHECK_ERRNO(ioctl(lm, XBUF_LATMUS_IOC_START, &req), EBUSY);
	for (int i = 0; i < 5; i++) {
		CHECK_EQ(read(fd, &rec[0], sizeof(rec[0])), sizeof(rec[0]));
		k = kt_latmus_rec(&rec[0]);
		CHECK(k.samples >= 1 && k.samples <= 10);
		CHECK(k.samples + k.overruns >= 10);
		CHECK(k.min >= 0);
		CHECK(k.min <= k.max);
		CHECK((int64_t)k.sum >= (int64_t)k.min * k.samples);
		CHECK((int64_t)k.sum <= (int64_t)k.max * k.samples);
		samples += k.samples;
		if (i == 0)
			printf("latmus: min %d max %d avg %lld ns, %u samples, overruns %u\n",
			       k.min, k.max, (long long)k.sum / k.samples, k.samples,
			       k.overruns);
	}
	stats(lm, &s);
	CHECK_EQ(s.running, 1);
	CHECK(s.records >= 5);
	CHECK(s.samples >= samples);	/* timer shots: overruns are periods without one */
	CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_STOP), 0);
	stats(lm, &s);
	CHECK_EQ(s.running, 0);
	close(fd);

	/* Nobody reads: a 48-byte ring takes two records, the rest is counted. */
	fd = kt_create_ok(48, 0, XBUF_KCLONE_NONBLOCK, NULL);
	req = (struct xbuf_latmus_req){ .xbuf_fd = fd, .period_us = 500, .interval_us = 1000 };
	{
		struct xbuf_latmus_stats before;

		stats(lm, &before);
		CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_START, &req), 0);
		kt_msleep(300);
		CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_STOP), 0);
		stats(lm, &s);
		CHECK_EQ(s.records - before.records, 2);
		CHECK(s.dropped - before.dropped >= 1);
		printf("latmus: %llu dropped while nobody read\n",
		       (unsigned long long)(s.dropped - before.dropped));
	}
	kt_rings(fd, &r);
	CHECK_EQ(r.ifill, 48);
	CHECK_EQ(read(fd, rec, sizeof(rec)), 48);	/* non-blocking fd: what is there */
	for (int i = 0; i < 2; i++) {
		k = kt_latmus_rec(&rec[i]);
		CHECK(k.samples >= 1 && k.samples <= 2 && k.samples + k.overruns >= 2);
	}
	/* STOP ended the stream (evl_shutdown_xbuf()): drained, then EPIPE. */
	CHECK_ERRNO(read(fd, rec, sizeof(rec)), EPIPE);
	kt_msleep(10);
	CHECK_ERRNO(read(fd, rec, sizeof(rec)), EPIPE);	/* stopped for good */

	/* A stopped session can start again, on another element. */
	close(fd);
	fd = kt_create_ok(4096, 0, 0, NULL);
	req = (struct xbuf_latmus_req){ .xbuf_fd = fd, .period_us = 1000, .interval_us = 2000 };
	CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_START, &req), 0);
	CHECK_EQ(read(fd, rec, 24), 24);
	k = kt_latmus_rec(&rec[0]);
	CHECK(k.samples >= 1 && k.samples <= 2 && k.samples + k.overruns >= 2);
	/* Two sessions on one element. */
	{
		int lm2 = open(XBUF_KDEV_LATMUS, O_RDWR);

		CHECK(lm2 >= 0);
		CHECK_EQ(ioctl(lm2, XBUF_LATMUS_IOC_START, &req), 0);
		for (int i = 0; i < 10; i++)
			CHECK_EQ(read(fd, rec, 24), 24);
		close(lm2);
	}
	close(lm);	/* closing stops it */
	close(fd);
	return T_EXIT_PASS;
}
