// SPDX-License-Identifier: MIT
/*
 * t_lib_latmus.c - the latmus companion driver (xbuf_latmus.ko) writes
 * records from its hrtimer (hard irq) into a kernel element; libxbuf reads
 * them zero-copy: blocking borrows of one record, woken through the
 * irq_work the driver queues, and xbuf_poll() for several records.
 */
#include "kt.h"
#include "xbuf.h"

#define REC	((size_t)sizeof(struct xbuf_latmus_record))

static void check_record(const void *p)
{
	struct kt_latmus r = kt_latmus_rec(p);	/* packed, and a borrow may sit at any offset */

	CHECK(r.samples > 0);
	CHECK(r.min <= r.max);
	CHECK(r.sum >= (uint64_t)(r.min > 0 ? r.min : 0));
}

int main(void)
{
	struct xbuf_latmus_req req = { .period_us = 1000, .interval_us = 10000 };
	struct xbuf_latmus_stats stats;
	const void *p;
	int fd, lm, i;
	ssize_t n;

	setenv("XBUF_BACKEND", "kernel", 1);
	/* 1000 records fit: a slow guest drops none while we look elsewhere. */
	fd = xbuf_create(1000 * REC, 0, 0, "lib_latmus");
	CHECK(fd >= 0);
	CHECK_EQ(xbuf_backend(fd), XBUF_BACKEND_KERNEL);
	lm = open(XBUF_KDEV_LATMUS, O_RDWR | O_CLOEXEC);
	CHECK(lm >= 0);
	req.xbuf_fd = fd;
	CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_START, &req), 0);

	/* One record at a time, borrowed in place: the read blocks for each. */
	for (i = 0; i < 10; i++) {
		CHECK_EQ(xbuf_read_begin(fd, REC, 0, &p), (ssize_t)REC);
		check_record(p);
		CHECK_EQ(xbuf_read_end(fd, REC), 0);
	}

	/* Several at once: wait for 5 records, then borrow what is there. */
	CHECK_EQ(xbuf_poll(fd, XBUF_POLLIN, 5 * REC, 10000), XBUF_POLLIN);
	n = xbuf_read_begin(fd, 1000 * REC, XBUF_NONBLOCK, &p);
	CHECK(n >= (ssize_t)(5 * REC));
	n -= n % REC;		/* whole records only; the writer never splits one */
	for (i = 0; i < n / (ssize_t)REC; i++)
		check_record((const char *)p + i * REC);
	CHECK_EQ(xbuf_read_end(fd, (size_t)n), 0);

	CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_STATS, &stats), 0);
	CHECK(stats.records >= 15);
	CHECK_EQ(stats.dropped, 0);
	CHECK_EQ(stats.running, 1);
	CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_STOP), 0);
	close(lm);
	CHECK_EQ(xbuf_close(fd), 0);
	return T_EXIT_PASS;
}
