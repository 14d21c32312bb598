/* SPDX-License-Identifier: MIT */
/*
 * Issue 9: taking and dropping the driver's reference (evl_get_xbuf /
 * evl_put_xbuf: the selftest module's BIND / UNBIND) never ends the
 * stream: the application keeps waiting, as in EVL. Only
 * evl_shutdown_xbuf() (SHUTDOWN) does: the control at the end.
 */
#include "kt.h"

int main(void)
{
	struct kt_map m;
	char buf[64];
	int fd, st;

	alarm(60);						/* a missed end would hang: fail instead */
	fd = kt_create_ok(256, 256, 0, NULL);
	kt_map(fd, &m);
	for (int round = 0; round < 3; round++) {
		st = kt_bind(fd);
		CHECK_EQ(kt_kwrite(st, "abcd", 4, 0), 4);
		CHECK_EQ(ioctl(st, XBUF_SELFTEST_IOC_UNBIND), 0);	/* evl_put_xbuf() */
		CHECK_ERRNO(kt_shutdown(st), ENXIO);		/* nothing bound any more */
		close(st);

		/* The bytes, then a wait: no EPIPE, no EPOLLHUP. */
		CHECK_EQ(read(fd, buf, 4), 4);
		CHECK(!memcmp(buf, "abcd", 4));
		kt_set_nonblock(fd, 1);
		CHECK_ERRNO(read(fd, buf, 1), EAGAIN);
		kt_set_nonblock(fd, 0);
		CHECK_EQ(kt_kwait(fd, XBUF_KWAIT_IN, 1, 50 * 1000000LL), 0);	/* timeout */
		CHECK_EQ(kt_poll1(fd, POLLIN | POLLOUT, 20), POLLOUT);
		CHECK_EQ(kt_load32(&m.drv->prod.owner), 0);
		CHECK_EQ(kt_load32(&m.drv->cons.owner), 0);
		CHECK_EQ(write(fd, "x", 1), 1);				/* the app writes on */
	}

	/* The control: an explicit end is seen, so the waits above were real. */
	st = kt_bind(fd);
	CHECK_EQ(kt_kread(st, buf, 3, XBUF_KIO_NONBLOCK), 3);
	CHECK_EQ(kt_shutdown(st), 0);
	CHECK_ERRNO(read(fd, buf, 1), EPIPE);
	CHECK_EQ(kt_load32(&m.drv->prod.owner), XBUF_OWNER_GONE);
	CHECK_EQ(ioctl(st, XBUF_SELFTEST_IOC_UNBIND), 0);
	close(st);
	munmap(m.base, m.size);
	close(fd);
	return T_EXIT_PASS;
}
