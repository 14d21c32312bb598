/* SPDX-License-Identifier: MIT */
/*
 * Issue 9: count 0 returns 0 before any other check, on every call of
 * both sides: read(2)/write(2) of the application, evl_read_xbuf() /
 * evl_write_xbuf() of the driver (KREAD/KWRITE), whether the ring is
 * missing (ENOBUFS otherwise), the stream ended (EPIPE), the end claimed
 * by another process (EBUSY), the application gone (EIDRM), or from
 * atomic context (EPERM for a blocking call otherwise).
 */
#include "kt.h"

int main(void)
{
	struct kt_map m;
	char buf[8] = { 0 };
	int fd, st, status;
	pid_t pid;

	/* No ring in either direction that is asked for. */
	fd = kt_create_ok(64, 0, 0, NULL);
	st = kt_bind(fd);
	CHECK_EQ(write(fd, buf, 0), 0);				/* no outbound ring */
	CHECK_ERRNO(write(fd, buf, 1), ENOBUFS);
	CHECK_EQ(kt_kread(st, buf, 0, 0), 0);
	CHECK_ERRNO(kt_kread(st, buf, 1, 0), ENOBUFS);
	CHECK_EQ(kt_kwrite(st, buf, 0, XBUF_KIO_ATOMIC), 0);	/* blocking, atomic: not EPERM */
	CHECK_EQ(kt_kread(st, buf, 0, XBUF_KIO_IRQOFF), 0);
	close(st);
	close(fd);
	fd = kt_create_ok(0, 64, 0, NULL);
	st = kt_bind(fd);
	CHECK_EQ(read(fd, buf, 0), 0);				/* no inbound ring */
	CHECK_ERRNO(read(fd, buf, 1), ENOBUFS);
	CHECK_EQ(kt_kwrite(st, buf, 0, 0), 0);
	CHECK_ERRNO(kt_kwrite(st, buf, 1, 0), ENOBUFS);

	/* The stream ended: count 0 is still 0, and resumes nothing. */
	CHECK_EQ(kt_shutdown(st), 0);
	CHECK_EQ(write(fd, buf, 0), 0);
	CHECK_ERRNO(write(fd, buf, 1), EPIPE);
	CHECK_EQ(kt_kread(st, buf, 0, 0), 0);
	CHECK_ERRNO(write(fd, buf, 1), EPIPE);
	close(st);
	close(fd);

	/* Claimed by another process. */
	fd = kt_create_ok(64, 64, 0, NULL);
	kt_map(fd, &m);
	{
		unsigned ends = XBUF_KCLAIM_IN | XBUF_KCLAIM_OUT;

		CHECK_EQ(ioctl(fd, XBUF_IOC_CLAIM, &ends), 0);
	}
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		CHECK_ERRNO(read(fd, buf, 1), EBUSY);
		CHECK_EQ(read(fd, buf, 0), 0);
		CHECK_EQ(write(fd, buf, 0), 0);
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* The application gone. */
	st = kt_bind(fd);
	munmap(m.base, m.size);
	close(fd);
	CHECK_ERRNO(kt_kread(st, buf, 1, XBUF_KIO_NONBLOCK), EIDRM);
	CHECK_EQ(kt_kread(st, buf, 0, 0), 0);
	CHECK_EQ(kt_kwrite(st, buf, 0, XBUF_KIO_NONBLOCK), 0);
	close(st);
	return T_EXIT_PASS;
}
