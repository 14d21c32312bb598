// SPDX-License-Identifier: MIT
/*
 * bench_echo - the far end of the round-trip benchmark: reads a message
 * and sends it straight back, until the other side goes away.
 *
 *   bench_echo xbuf NAME SIZE [spin]
 *       driver side of the public element NAME: evl_read_xbuf() SIZE bytes
 *       from outbound, evl_write_xbuf() them back inbound. Blocking waits
 *       (futex), or with `spin`, O_NONBLOCK calls retried in a busy loop.
 *   bench_echo fifo IN OUT SIZE
 *       the same over two FIFOs (a pipe pair): read(2) SIZE bytes, write(2) them;
 *       "-" for IN or OUT: stdin or stdout
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "xbuf.h"

static int fail(const char *what, int err)
{
	fprintf(stderr, "bench_echo: %s: %s\n", what, strerror(err));
	return 1;
}

static int echo_xbuf(const char *name, size_t size, int spin)
{
	int flags = spin ? O_NONBLOCK : 0;
	unsigned char buf[4096];
	struct evl_file *efile;
	struct evl_xbuf *xb;
	int efd = xbuf_open(name, 0);

	if (efd < 0)
		return fail(name, -efd);
	xb = evl_get_xbuf(efd, &efile);
	if (!xb)
		return fail("evl_get_xbuf", EBADF);
	xbuf_close(efd);
	for (;;) {
		ssize_t n;

		do
			n = evl_read_xbuf(xb, buf, size, flags);
		while (n == -EAGAIN);
		if (n == -EIDRM || n == -EPIPE)
			break;	/* the application left (EVL's EIDRM): the end of the run */
		if (n < 0)
			return fail("evl_read_xbuf", (int)-n);
		do
			n = evl_write_xbuf(xb, buf, (size_t)n, flags);
		while (n == -EAGAIN);
		if (n == -EIDRM || n == -EPIPE)
			break;
		if (n < 0)
			return fail("evl_write_xbuf", (int)-n);
	}
	evl_put_xbuf(efile);
	return 0;
}

static int echo_fifo(const char *in, const char *out, size_t size)
{
	unsigned char buf[4096];
	int rfd = strcmp(in, "-") ? open(in, O_RDONLY | O_CLOEXEC) : 0;
	int wfd = rfd < 0 ? -1 : strcmp(out, "-") ? open(out, O_WRONLY | O_CLOEXEC) : 1;

	if (rfd < 0 || wfd < 0)
		return fail("open", errno);
	for (;;) {
		size_t got = 0;

		while (got < size) {
			ssize_t n = read(rfd, buf + got, size - got);

			if (n == 0)
				return 0;	/* the other side closed */
			if (n < 0 && errno != EINTR)
				return fail("read", errno);
			if (n > 0)
				got += (size_t)n;
		}
		if (write(wfd, buf, size) != (ssize_t)size)
			return errno == EPIPE ? 0 : fail("write", errno);
	}
}

static size_t size_arg(const char *s)
{
	unsigned long v = strtoul(s, NULL, 0);

	return v >= 1 && v <= 4096 ? v : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "xbuf") && size_arg(argv[3]))
		return echo_xbuf(argv[2], size_arg(argv[3]), argc > 4 && !strcmp(argv[4], "spin"));
	if (argc == 5 && !strcmp(argv[1], "fifo") && size_arg(argv[4]))
		return echo_fifo(argv[2], argv[3], size_arg(argv[4]));
	fprintf(stderr, "usage: bench_echo xbuf NAME SIZE [spin] | bench_echo fifo IN OUT SIZE\n");
	return 2;
}
