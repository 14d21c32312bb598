// SPDX-License-Identifier: MIT
/*
 * Issue 9: one end-of-stream rule. Taking and dropping driver references
 * (evl_get_xbuf/evl_put_xbuf, once per run as EVL's latmus driver does)
 * never ends a stream: the application keeps waiting. evl_shutdown_xbuf()
 * ends it, and so does the death of the process holding the driver end:
 * the application reads what is left, then EPIPE.
 */
#include <fcntl.h>
#include "peer.h"

int main(void)
{
	const char *name = unique_name("eos");
	struct evl_file *f;
	struct evl_xbuf *xb;
	uint8_t buf[64];
	const void *p;
	struct driver d;
	int fd, run;

	time_limit(30);
	fd = xbuf_create(4096, 4096, XBUF_CLONE_PUBLIC, "%s", name);
	CHECK(fd >= 0);

	/* Runs of another process, each taking and dropping its reference: no end of stream. */
	for (run = 0; run < 3; run++) {
		d = driver_spawn(name);
		driver_write(&d, 1);
		driver_leave(&d);	/* evl_put_xbuf(), close, exit: the stream goes on */
		CHECK_EQ(xbuf_read(fd, buf, 16), 16);
		CHECK_ERR(xbuf_read_begin(fd, 1, XBUF_NONBLOCK, &p), EAGAIN);	/* not EPIPE */
		CHECK_EQ(xbuf_poll(fd, XBUF_POLLIN, 1, 50), 0);		/* waits, times out */
	}

	/* The same in this process: get, write, put, get again. */
	for (run = 0; run < 3; run++) {
		xb = evl_get_xbuf(fd, &f);
		CHECK(xb);
		CHECK_EQ(evl_write_xbuf(xb, "abcd", 4, 0), 4);
		evl_put_xbuf(f);
		CHECK_EQ(xbuf_read(fd, buf, 4), 4);
		CHECK_ERR(xbuf_read_begin(fd, 1, XBUF_NONBLOCK, &p), EAGAIN);
	}

	/* The explicit end: what is left first, then EPIPE from every call. */
	d = driver_spawn(name);
	driver_write(&d, 2);
	driver_exit(&d);	/* evl_shutdown_xbuf(), then put */
	CHECK_EQ(xbuf_read(fd, buf, 64), 32);	/* the tail, shorter than asked */
	CHECK_ERRNO(xbuf_read(fd, buf, 1), EPIPE);
	CHECK_ERR(xbuf_poll(fd, XBUF_POLLIN, 1, -1), EPIPE);
	/* Writes too, at once, though there is room: nobody will read them (a pipe's rule; xbuf.ko's too). */
	CHECK_ERRNO(xbuf_write(fd, "x", 1), EPIPE);
	CHECK_ERR(xbuf_poll(fd, XBUF_POLLOUT, 1, 0), EPIPE);

	/* A new driver call starts a new stream, both ways. */
	xb = evl_get_xbuf(fd, &f);
	CHECK(xb);
	CHECK_EQ(evl_write_xbuf(xb, "more", 4, 0), 4);
	CHECK_EQ(xbuf_read(fd, buf, 4), 4);
	CHECK_EQ(xbuf_write(fd, "back", 4), 4);
	CHECK_EQ(evl_read_xbuf(xb, buf, 4, 0), 4);
	CHECK_EQ(evl_shutdown_xbuf(xb), 0);
	CHECK_ERRNO(xbuf_read(fd, buf, 1), EPIPE);
	evl_put_xbuf(f);
	CHECK_ERR(evl_shutdown_xbuf(NULL), EBADF);

	/* Death while holding the driver end ends it too. */
	d = driver_spawn(name);
	driver_write(&d, 1);
	driver_kill(&d);
	CHECK_EQ(xbuf_read(fd, buf, 64), 16);
	CHECK_ERRNO(xbuf_read(fd, buf, 1), EPIPE);

	CHECK(xbuf_close(fd) == 0);
	return T_EXIT_PASS;
}
