/* SPDX-License-Identifier: MIT */
/*
 * t_rdonly.c - issue 11, item 6: what an fd not open for writing may not
 * do. An O_RDONLY element fd reads, polls and waits for input, but never
 * writes (EBADF), waits for room (EBADF: it would count as a blocked
 * writer and make the driver's blocking reads short), claims (EBADF) or
 * maps PROT_WRITE (EACCES). XBUF_IOC_CLONE needs a clone fd open for
 * writing. Names: one rule whatever the signedness of char (bytes >= 0x80
 * are ordinary name bytes, 0x7f and controls are not).
 */
#include "kt.h"

int main(void)
{
	struct xbuf_wait_req w = { .events = XBUF_KWAIT_OUT, .count = 1, .timeout_ns = 0 };
	struct xbuf_elem_info ei;
	struct xbuf_clone_req req;
	unsigned char buf[16];
	uint32_t ends = XBUF_KCLAIM_OUT;
	int fd, ro, cro, st;
	void *p;

	fd = kt_create_ok(4096, 4096, XBUF_KCLONE_PUBLIC, "t_rdonly");
	ro = open("/dev/xbuf/t_rdonly", O_RDONLY | O_NONBLOCK);
	CHECK(ro >= 0);
	CHECK_ERRNO(write(ro, "x", 1), EBADF);
	CHECK_ERRNO(ioctl(ro, XBUF_IOC_WAIT, &w), EBADF);
	w.events = XBUF_KWAIT_IN | XBUF_KWAIT_OUT;
	CHECK_ERRNO(ioctl(ro, XBUF_IOC_WAIT, &w), EBADF);
	CHECK_ERRNO(ioctl(ro, XBUF_IOC_CLAIM, &ends), EBADF);
	CHECK_EQ(ioctl(ro, XBUF_IOC_INFO, &ei), 0);
	CHECK(mmap(NULL, ei.map_size, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED);
	CHECK_EQ(errno, EACCES);
	p = mmap(NULL, ei.map_size, PROT_READ, MAP_SHARED, ro, 0);
	CHECK(p != MAP_FAILED);
	munmap(p, ei.map_size);
	/* Input: wait, read. */
	w.events = XBUF_KWAIT_IN;
	CHECK_EQ(ioctl(ro, XBUF_IOC_WAIT, &w), 0);
	CHECK_ERRNO(read(ro, buf, 1), EAGAIN);
	st = kt_bind(fd);
	CHECK_EQ(kt_kwrite(st, "hello", 5, 0), 5);
	CHECK_EQ(ioctl(ro, XBUF_IOC_WAIT, &w), XBUF_KWAIT_IN);
	CHECK_EQ(read(ro, buf, 5), 5);
	CHECK(!memcmp(buf, "hello", 5));
	/* The writable fd may still do all of it. */
	w.events = XBUF_KWAIT_OUT;
	CHECK_EQ(ioctl(fd, XBUF_IOC_WAIT, &w), XBUF_KWAIT_OUT);
	CHECK_EQ(write(fd, "y", 1), 1);
	close(st);
	close(ro);
	close(fd);

	/* A read-only clone fd creates nothing. */
	cro = open(XBUF_KDEV_CLONE, O_RDONLY | O_CLOEXEC);
	CHECK(cro >= 0);
	memset(&req, 0, sizeof(req));
	req.i_bufsz = 4096;
	CHECK_ERRNO(ioctl(cro, XBUF_IOC_CLONE, &req), EBADF);
	close(cro);

	/* Names: bytes >= 0x80 are fine (signed char or not), 0x7f and 0x01 are not. */
	fd = kt_create_ok(4096, 0, XBUF_KCLONE_PUBLIC, "t_\xc3\xa9t\xc3\xa9");
	CHECK_EQ(access("/dev/xbuf/t_\xc3\xa9t\xc3\xa9", F_OK), 0);
	close(fd);
	fd = kt_create_ok(4096, 0, 0, "\xff\x80");
	close(fd);
	CHECK_ERRNO(kt_create(4096, 0, XBUF_KCLONE_PUBLIC, "t_\x7f"), EINVAL);
	CHECK_ERRNO(kt_create(4096, 0, XBUF_KCLONE_PUBLIC, "t_\x01"), EINVAL);
	return T_EXIT_PASS;
}
