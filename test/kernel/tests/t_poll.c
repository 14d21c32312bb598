/* SPDX-License-Identifier: MIT */
/*
 * poll(2): POLLIN when the inbound ring holds a byte, POLLOUT when the
 * outbound ring has room for one; wake-ups from process context and from
 * hard irq (latmus hrtimer); XBUF_IOC_WAIT with byte counts.
 */
#include "kt.h"

struct job {
	int st, fd;
	unsigned ms;
	int op;		/* 0: kwrite 50, 1: kread 1000 nonblock */
};

static void *later(void *arg)
{
	struct job *j = arg;
	char buf[1000] = { 0 };

	kt_msleep(j->ms);
	if (j->op == 0)
		CHECK_EQ(kt_kwrite(j->st, buf, 50, XBUF_KIO_NONBLOCK), 50);
	else
		CHECK_EQ(kt_kread(j->st, buf, 1000, XBUF_KIO_NONBLOCK), 1000);
	return NULL;
}

int main(void)
{
	char buf[4096] = { 0 };
	struct job j;
	pthread_t t;
	int fd, st, lm;

	fd = kt_create_ok(4096, 4096, 0, NULL);
	st = kt_bind(fd);

	CHECK_EQ(kt_poll1(fd, POLLIN | POLLOUT, 0), POLLOUT);
	CHECK_EQ(kt_kwrite(st, buf, 1, 0), 1);
	CHECK_EQ(kt_poll1(fd, POLLIN | POLLOUT, 0), POLLIN | POLLOUT);
	CHECK_EQ(read(fd, buf, 1), 1);
	CHECK_EQ(write(fd, buf, 4096), 4096);
	CHECK_EQ(kt_poll1(fd, POLLIN | POLLOUT, 0), 0);

	/* A blocked poll wakes when the driver frees room. */
	j = (struct job){ .st = st, .ms = 100, .op = 1 };
	CHECK(!pthread_create(&t, NULL, later, &j));
	CHECK_EQ(kt_poll1(fd, POLLOUT, 10000), POLLOUT);
	CHECK(!pthread_join(t, NULL));
	/* ...and when the driver sends data. */
	j = (struct job){ .st = st, .ms = 100, .op = 0 };
	CHECK(!pthread_create(&t, NULL, later, &j));
	CHECK_EQ(kt_poll1(fd, POLLIN, 10000), POLLIN);
	CHECK(!pthread_join(t, NULL));
	CHECK_EQ(read(fd, buf, 50), 50);

	/* XBUF_IOC_WAIT: ready only when a blocking call would complete. */
	CHECK_EQ(kt_kwrite(st, buf, 50, 0), 50);
	CHECK_EQ(kt_kwait(fd, XBUF_KWAIT_IN, 100, 0), 0);
	CHECK_EQ(kt_kwait(fd, XBUF_KWAIT_IN, 0, 0), XBUF_KWAIT_IN);
	CHECK_EQ(kt_kwait(fd, XBUF_KWAIT_IN, 50, 0), XBUF_KWAIT_IN);
	CHECK_EQ(kt_kwait(fd, XBUF_KWAIT_IN, 100, 50 * 1000000LL), 0);	/* times out */
	j = (struct job){ .st = st, .ms = 100, .op = 0 };
	CHECK(!pthread_create(&t, NULL, later, &j));
	CHECK_EQ(kt_kwait(fd, XBUF_KWAIT_IN, 100, -1), XBUF_KWAIT_IN);
	CHECK(!pthread_join(t, NULL));
	CHECK_EQ(read(fd, buf, 100), 100);
	/* outbound holds 3096 of 4096: 1000 fits, 1001 does not */
	CHECK_EQ(kt_kwait(fd, XBUF_KWAIT_OUT, 1000, 0), XBUF_KWAIT_OUT);
	CHECK_EQ(kt_kwait(fd, XBUF_KWAIT_OUT, 1001, 0), 0);
	j = (struct job){ .st = st, .ms = 100, .op = 1 };
	CHECK(!pthread_create(&t, NULL, later, &j));
	CHECK_EQ(kt_kwait(fd, XBUF_KWAIT_OUT | XBUF_KWAIT_IN, 2000, 10000000000LL),
		 XBUF_KWAIT_OUT);
	CHECK(!pthread_join(t, NULL));
	CHECK_ERRNO(kt_kwait(fd, XBUF_KWAIT_OUT, 4097, 0), EINVAL);
	CHECK_ERRNO(kt_kwait(fd, 0, 1, 0), EINVAL);
	CHECK_ERRNO(kt_kwait(fd, 0x100, 1, 0), EINVAL);
	close(st);
	close(fd);

	/* No ring, no event. */
	fd = kt_create_ok(4096, 0, 0, NULL);
	CHECK_EQ(kt_poll1(fd, POLLIN | POLLOUT, 0), 0);
	CHECK_ERRNO(kt_kwait(fd, XBUF_KWAIT_OUT, 1, 0), ENOBUFS);
	close(fd);

	/* Wake-up from hard irq: latmus writes from its hrtimer. */
	fd = kt_create_ok(4096, 0, 0, NULL);
	lm = open(XBUF_KDEV_LATMUS, O_RDWR);
	CHECK(lm >= 0);
	{
		struct xbuf_latmus_req req = { .xbuf_fd = fd, .period_us = 1000,
					       .interval_us = 5000 };

		CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_START, &req), 0);
	}
	for (int i = 0; i < 5; i++) {
		struct xbuf_latmus_record rec;

		CHECK_EQ(kt_poll1(fd, POLLIN, 10000), POLLIN);
		CHECK_EQ(read(fd, &rec, sizeof(rec)), sizeof(rec));
	}
	close(lm);
	close(fd);
	return T_EXIT_PASS;
}
