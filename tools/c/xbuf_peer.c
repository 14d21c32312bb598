// SPDX-License-Identifier: MIT
/*
 * xbuf_peer - a driver-side (out-of-band) peer process for a public
 * cross-buffer, written only against EVL's driver API (evl_get_xbuf and
 * friends). Tests, benchmarks and the demo use it as the other end.
 *
 *   xbuf_peer produce NAME [--bytes N] [--seconds S] [--chunk C] [--static 1]
 *       write the test pattern into the inbound ring; the pattern is keyed
 *       by absolute stream position, so a consumer can check every byte.
 *       --static 1 writes one pre-filled chunk over and over instead: the
 *       producer then costs a memcpy per write, for throughput runs
 *   xbuf_peer consume NAME --bytes N
 *       read N bytes from the outbound ring and check the pattern
 *   xbuf_peer echo NAME --size S [--delay-us D]
 *       read S bytes from outbound, write them back inbound (D us later),
 *       until the application side is gone (EIDRM)
 *   xbuf_peer wait NAME
 *       block in evl_read_xbuf() for one byte of outbound traffic and print
 *       what it returned ("wait -43": EIDRM, the application left)
 *
 * produce and consume end the stream when done (evl_shutdown_xbuf()): the
 * application then drains what is left and gets EPIPE.
 *
 * Prints one line "<verb> <bytes> bytes <seconds> s" to stdout on success.
 * The pattern is test/check.h's, the one every test and the binding check.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "xbuf.h"
#include "check.h"	/* pattern_fill(), pattern_check(): the stream pattern */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(const char *why)
{
	fprintf(stderr, "xbuf_peer: %s\n"
		"usage: xbuf_peer produce NAME [--bytes N] [--seconds S] [--chunk C] [--static 1]\n"
		"       xbuf_peer consume NAME --bytes N [--chunk C]\n"
		"       xbuf_peer echo NAME --size S [--delay-us D]\n", why);
	return 2;
}

static int fail(const char *what, long long err)
{
	fprintf(stderr, "xbuf_peer: %s: %s\n", what, strerror((int)-err));
	return 1;
}

int main(int argc, char **argv)
{
	unsigned long long bytes = 0, chunk = 65536, size = 64, delay_us = 0, fixed = 0;
	double seconds = 0, t0;
	struct evl_file *efile;
	struct evl_xbuf *xb;
	struct xbuf_stat st;
	uint8_t *buf;
	const char *verb, *name;
	int fd, i;

	if (argc < 3)
		return usage("missing verb or name");
	verb = argv[1];
	name = argv[2];
	for (i = 3; i < argc; i += 2) {
		char *end;
		double v;

		if (i + 1 >= argc)
			return usage("option without value");
		v = strtod(argv[i + 1], &end);
		if (*end || v < 0)
			return usage("bad number");
		if (!strcmp(argv[i], "--bytes"))
			bytes = (unsigned long long)v;
		else if (!strcmp(argv[i], "--seconds"))
			seconds = v;
		else if (!strcmp(argv[i], "--chunk"))
			chunk = (unsigned long long)v;
		else if (!strcmp(argv[i], "--size"))
			size = (unsigned long long)v;
		else if (!strcmp(argv[i], "--static"))
			fixed = (unsigned long long)v;
		else if (!strcmp(argv[i], "--delay-us"))
			delay_us = (unsigned long long)v;
		else
			return usage("unknown option");
	}
	if (!chunk || !size)
		return usage("--chunk and --size must be positive");

	fd = xbuf_open(name, 0);
	if (fd < 0)
		return fail(name, fd);
	xb = evl_get_xbuf(fd, &efile);
	if (!xb)
		return fail("evl_get_xbuf", -EBADF);
	if (xbuf_stat(fd, &st) < 0)
		return fail("xbuf_stat", -EBADF);
	xbuf_close(fd);	/* the driver reference keeps the element */
	buf = malloc(chunk > size ? chunk : size);
	if (!buf)
		return fail("malloc", -ENOMEM);

	t0 = now();
	if (!strcmp(verb, "produce")) {
		unsigned long long done = 0;
		uint64_t pos = st.inbound.produced;	/* the pattern goes on where the stream stands */

		while ((!bytes || done < bytes) && (!seconds || now() - t0 < seconds)) {
			size_t n = chunk;
			ssize_t ret;

			if (bytes && bytes - done < n)
				n = (size_t)(bytes - done);
			if (!fixed || !done)
				pattern_fill(buf, pos, n);
			ret = evl_write_xbuf(xb, buf, n, 0);
			if (ret < 0)
				return fail("evl_write_xbuf", ret);
			pos += (uint64_t)ret;
			done += (unsigned long long)ret;
		}
		printf("produce %llu bytes %.3f s\n", done, now() - t0);
	} else if (!strcmp(verb, "consume")) {
		unsigned long long done = 0;
		uint64_t pos = st.outbound.consumed;
		if (!bytes)
			return usage("consume needs --bytes");
		while (done < bytes) {
			size_t n = chunk < bytes - done ? chunk : (size_t)(bytes - done);
			ssize_t ret = evl_read_xbuf(xb, buf, n, 0);

			if (ret < 0)
				return fail("evl_read_xbuf", ret);
			long long bad = pattern_check(buf, pos, (size_t)ret);

			if (bad >= 0) {
				fprintf(stderr, "xbuf_peer: byte %llu is wrong\n",
					(unsigned long long)(pos + (uint64_t)bad));
				return 1;
			}
			pos += (uint64_t)ret;
			done += (unsigned long long)ret;
		}
		printf("consume %llu bytes %.3f s\n", done, now() - t0);
	} else if (!strcmp(verb, "echo")) {
		unsigned long long done = 0;

		for (;;) {
			ssize_t ret = evl_read_xbuf(xb, buf, size, 0);

			if (ret == -EIDRM)
				break;
			if (ret < 0)
				return fail("evl_read_xbuf", ret);
			if (delay_us) {
				struct timespec ts = { (time_t)(delay_us / 1000000),
						       (long)(delay_us % 1000000) * 1000 };

				nanosleep(&ts, NULL);
			}
			ret = evl_write_xbuf(xb, buf, (size_t)ret, 0);
			if (ret == -EIDRM)
				break;
			if (ret < 0)
				return fail("evl_write_xbuf", ret);
			done += (unsigned long long)ret;
		}
		printf("echo %llu bytes %.3f s\n", done, now() - t0);
	} else if (!strcmp(verb, "wait")) {
		printf("wait %zd\n", evl_read_xbuf(xb, buf, 1, 0));
		fflush(stdout);
	} else {
		return usage("unknown verb");
	}
	if (strcmp(verb, "echo") && strcmp(verb, "wait"))
		evl_shutdown_xbuf(xb);	/* done: the application drains, then EPIPE */
	evl_put_xbuf(efile);
	free(buf);
	return 0;
}
