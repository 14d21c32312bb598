// SPDX-License-Identifier: MIT
/*
 * t_lib_claim.c - issue 11, item 7: owner claims on the kernel backend,
 * as on the user-space one. A process that used an application end
 * zero-copy holds it: a second process on the same end gets EBUSY (the
 * library's calls, and read(2)/write(2) on a raw fd of its own), while the
 * other end stays free for it; when the holder lets go (xbuf_close: the
 * last mapping goes) the second process takes the end. A forked child
 * does not inherit the claim. Without claims, read(2)/write(2) just work.
 */
#include "kt.h"
#include "xbuf.h"

static int up[2], down[2];

static void second(void)
{
	unsigned char buf[8];
	int fd, raw;

	fd = xbuf_open("t_lib_claim", XBUF_CLONE_NONBLOCK);
	CHECK(fd >= 0);
	raw = open("/dev/xbuf/t_lib_claim", O_RDWR | O_NONBLOCK);
	CHECK(raw >= 0);
	/* The outbound producer end is the first process's. */
	CHECK_ERRNO(xbuf_write(fd, "b", 1), EBUSY);
	CHECK_ERRNO(write(raw, "b", 1), EBUSY);
	/* The inbound consumer end is free: EAGAIN (empty), not EBUSY. */
	CHECK_ERRNO(xbuf_read(fd, buf, 1), EAGAIN);
	kt_say(up[1], '1');
	CHECK_EQ(kt_hear(down[0]), 'g');	/* the first one closed */
	CHECK_EQ(xbuf_write(fd, "c", 1), 1);
	/* Now ours: the raw fd is in this process, it may write too. */
	CHECK_EQ(write(raw, "d", 1), 1);
	close(raw);
	CHECK_EQ(xbuf_close(fd), 0);
	_exit(0);
}

int main(void)
{
	unsigned char buf[8];
	pid_t pid;
	int fd, raw, status, st;

	setenv("XBUF_BACKEND", "kernel", 1);
	/* Without claims, raw read(2)/write(2) from two processes work as ever. */
	raw = kt_create_ok(4096, 4096, XBUF_KCLONE_PUBLIC | XBUF_KCLONE_NONBLOCK, "t_raw_claim");
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		int r2 = open("/dev/xbuf/t_raw_claim", O_RDWR);

		CHECK(r2 >= 0);
		CHECK_EQ(write(r2, "x", 1), 1);
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(write(raw, "y", 1), 1);
	close(raw);

	fd = xbuf_create(4096, 4096, XBUF_CLONE_KERNEL | XBUF_CLONE_PUBLIC | XBUF_CLONE_NONBLOCK,
			 "t_lib_claim");
	CHECK(fd >= 0);
	CHECK_EQ(xbuf_write(fd, "a", 1), 1);	/* claims the outbound producer end */
	st = kt_bind(open("/dev/xbuf/t_lib_claim", O_RDWR));

	/* A forked child does not inherit the claim. */
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		CHECK_ERRNO(xbuf_write(fd, "z", 1), EBUSY);
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	CHECK(!pipe(up) && !pipe(down));
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		close(st);
		second();
	}
	close(up[1]);	/* a child that fails: EOF, not a hang */
	close(down[0]);
	CHECK_EQ(kt_hear(up[0]), '1');
	CHECK_EQ(xbuf_close(fd), 0);	/* the last mapping of ours goes: so does the claim */
	kt_say(down[1], 'g');
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(kt_kread(st, buf, 3, XBUF_KIO_NONBLOCK), 3);
	CHECK(!memcmp(buf, "acd", 3));
	close(st);
	return T_EXIT_PASS;
}
