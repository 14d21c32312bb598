// SPDX-License-Identifier: MIT
/*
 * bench_source - the producer of the benchmark streams (stream.h): the C
 * driver side of a cross-buffer, or the feeder of a pipe or a unix socket
 * carrying the very same bytes.
 *
 *   bench_source bulk|records DEST --bytes N
 *
 *   DEST  xbuf:NAME   open the public element NAME, evl_write_xbuf() into it
 *         fd:N        write(2) to an inherited fd (a pipe: grown to 1 MiB)
 *         path:PATH   open PATH (a FIFO) for writing, then as fd:N
 *         unix:PATH   connect to a unix stream socket, then as fd:N
 *
 * Writes whole chunks (65536 bytes, or 2730 records = 65520 bytes) until
 * at least N bytes are sent, then prints one JSON line on stderr:
 *   {"bytes":B,"seconds":S,"sum":...,"acc":...,"lat":...}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "xbuf.h"
#include "stream.h"

static int fail(const char *what, int err)
{
	fprintf(stderr, "bench_source: %s: %s\n", what, strerror(err));
	return 1;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct evl_xbuf *xb = NULL;
	struct evl_file *efile = NULL;
	struct stream st;
	struct checksum sum;
	unsigned long long bytes = 0, chunks, j;
	const char *dest;
	double t0;
	int fd = -1;

	if (argc != 5 || strcmp(argv[3], "--bytes")) {
		fprintf(stderr, "usage: bench_source bulk|records xbuf:NAME|fd:N|path:PATH|unix:PATH --bytes N\n");
		return 2;
	}
	bytes = strtoull(argv[4], NULL, 0);
	dest = argv[2];
	if (stream_init(&st, strcmp(argv[1], "records") ? STREAM_BULK : STREAM_RECORDS))
		return fail("stream_init", ENOMEM);
	chunks = (bytes + st.chunk - 1) / st.chunk;
	signal(SIGPIPE, SIG_IGN);

	if (!strncmp(dest, "xbuf:", 5)) {
		int efd = xbuf_open(dest + 5, 0);

		if (efd < 0)
			return fail(dest, -efd);
		xb = evl_get_xbuf(efd, &efile);
		if (!xb)
			return fail("evl_get_xbuf", EBADF);
		xbuf_close(efd);	/* the driver reference keeps the element */
	} else if (!strncmp(dest, "fd:", 3)) {
		fd = atoi(dest + 3);
	} else if (!strncmp(dest, "path:", 5)) {
		fd = open(dest + 5, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return fail(dest, errno);
	} else if (!strncmp(dest, "unix:", 5)) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		strncpy(sa.sun_path, dest + 5, sizeof(sa.sun_path) - 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return fail(dest, errno);
	} else {
		return fail(dest, EINVAL);
	}
	if (fd >= 0)
		fcntl(fd, F_SETPIPE_SZ, 1 << 20);	/* a pipe's best case; fails harmlessly on a socket */

	t0 = now_s();
	for (j = 0; j < chunks; j++) {
		const unsigned char *p = stream_chunk(&st, j);

		if (xb) {
			ssize_t ret = evl_write_xbuf(xb, p, st.chunk, 0);

			if (ret < 0)
				return fail("evl_write_xbuf", (int)-ret);
		} else {
			int ret = write_all(fd, p, st.chunk);

			if (ret < 0)
				return fail("write", -ret);
		}
	}
	t0 = now_s() - t0;
	if (fd >= 0)
		close(fd);
	if (efile) {
		evl_shutdown_xbuf(xb);	/* the end of the stream: the reader drains, then EPIPE */
		evl_put_xbuf(efile);
	}
	sum = stream_expect(&st, chunks * st.chunk);
	fprintf(stderr, "{\"bytes\":%llu,\"seconds\":%.6f", chunks * st.chunk, t0);
	checksum_print(stderr, ",", &sum);
	fprintf(stderr, "}\n");
	return 0;
}
