// SPDX-License-Identifier: MIT
/*
 * bench_msg - the C ends of the message-rate and round-trip benchmarks
 * (bench/msgrate.ts, bench/roundtrip.ts): one message per call, no
 * batching by the caller. Each message carries its sequence number in its
 * first 8 bytes; every reader checks it. Timed from the first message to
 * the last by the side that prints the JSON line.
 *
 *   bench_msg drv-write NAME COUNT SIZE   evl_write_xbuf() per message (driver side, inbound)
 *   bench_msg drv-read NAME COUNT SIZE    evl_read_xbuf() per message (driver side, outbound); prints
 *   bench_msg app-read NAME COUNT SIZE    xbuf_read() per message (application side, inbound); prints
 *   bench_msg app-fast-read NAME COUNT SIZE   the same with xbuf/fast.h's xbuf_fast_read(); prints
 *   bench_msg bare COUNT SIZE RING        a bare SPSC ring over shared memory, two processes
 *                                         (fork): two positions on their own cache lines,
 *                                         acquire/release, no handle, no lock, busy-polling; prints
 *   bench_msg pipe COUNT SIZE             write(2)/read(2) per message over a pipe (fork); prints
 *   bench_msg socket COUNT SIZE           the same over a unix stream socketpair; prints
 *   bench_msg rt-client NAME COUNT SIZE   application side, busy-poll round trips against
 *                                         `bench_echo xbuf NAME SIZE spin`; prints p50/p99 (us)
 *
 * Pin with taskset (bench/msgrate.ts does); `bare`, `pipe` and `socket`
 * pin their child to the CPU after the parent's when $BENCH_CPU2 names one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "xbuf.h"
#include "xbuf/fast.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fail(const char *what, long err)
{
	fprintf(stderr, "bench_msg: %s: %s\n", what, strerror((int)err));
	return 1;
}

static void report(unsigned long long count, double seconds, int ok)
{
	printf("{\"msgs\":%llu,\"seconds\":%.9f,\"ok\":%s}\n", count, seconds, ok ? "true" : "false");
}

static void pin_child(void)
{
	const char *cpu = getenv("BENCH_CPU2");
	cpu_set_t set;

	if (!cpu || !*cpu)
		return;
	CPU_ZERO(&set);
	CPU_SET(atoi(cpu), &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static struct evl_xbuf *driver(const char *name, struct evl_file **efile)
{
	int efd = xbuf_open(name, 0);
	struct evl_xbuf *xb;

	if (efd < 0)
		return NULL;
	xb = evl_get_xbuf(efd, efile);
	xbuf_close(efd);
	return xb;
}

static int drv_write(const char *name, uint64_t count, size_t size)
{
	unsigned char buf[4096] = { 0 };
	struct evl_file *efile;
	struct evl_xbuf *xb = driver(name, &efile);

	if (!xb)
		return fail(name, ENOENT);
	for (uint64_t i = 0; i < count; i++) {
		ssize_t n;

		memcpy(buf, &i, 8);
		n = evl_write_xbuf(xb, buf, size, 0);
		if (n == -EPIPE)
			return fail("evl_write_xbuf", EPIPE);
		if (n != (ssize_t)size)
			return fail("evl_write_xbuf", n < 0 ? -n : EIO);
	}
	evl_shutdown_xbuf(xb);	/* the end of the stream: the reader drains, then EPIPE */
	evl_put_xbuf(efile);
	return 0;
}

static int drv_read(const char *name, uint64_t count, size_t size)
{
	unsigned char buf[4096];
	struct evl_file *efile;
	struct evl_xbuf *xb = driver(name, &efile);
	double t0 = 0;
	int ok = 1;

	if (!xb)
		return fail(name, ENOENT);
	for (uint64_t i = 0; i < count; i++) {
		ssize_t n = evl_read_xbuf(xb, buf, size, 0);
		uint64_t seq;

		if (n != (ssize_t)size)
			return fail("evl_read_xbuf", n < 0 ? -n : EIO);
		if (!i)
			t0 = now();
		memcpy(&seq, buf, 8);
		ok &= seq == i;
	}
	report(count - 1, now() - t0, ok);
	evl_put_xbuf(efile);
	return 0;
}

/*
 * The application side reading one message per call: xbuf_read() (fast
 * false: the fd API, which checks the fd and takes the end's lock per
 * call), or xbuf/fast.h's inline xbuf_fast_read() (no syscall, no lock).
 */
static int app_read(const char *name, uint64_t count, size_t size, bool fast)
{
	unsigned char buf[4096];
	struct xbuf_fast in;
	int fd = xbuf_open(name, 0), r;
	double t0 = 0;
	int ok = 1;

	if (fd < 0)
		return fail(name, -fd);
	if (fast && (r = xbuf_fast_init(&in, fd, XBUF_POLLIN)))
		return fail("xbuf_fast_init", -r);
	for (uint64_t i = 0; i < count; i++) {
		ssize_t n = fast ? xbuf_fast_read(&in, buf, size, 0) : xbuf_read(fd, buf, size);
		uint64_t seq;

		if (n != (ssize_t)size)
			return fail(fast ? "xbuf_fast_read" : "xbuf_read", n >= 0 ? EIO : fast ? (int)-n : errno);
		if (!i)
			t0 = now();
		memcpy(&seq, buf, 8);
		ok &= seq == i;
	}
	report(count - 1, now() - t0, ok);
	if (fast)
		xbuf_fast_fini(&in);
	xbuf_close(fd);
	return 0;
}

/* The bare ring: what a single-producer single-consumer ring costs with nothing else. */
struct bare {
	_Alignas(128) uint64_t prod;
	_Alignas(128) uint64_t cons;
	_Alignas(128) unsigned char data[];
};

static int bare(uint64_t count, size_t size, size_t ring)
{
	struct bare *b = mmap(NULL, sizeof(*b) + ring, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int status;
	pid_t pid;

	if (b == MAP_FAILED)
		return fail("mmap", errno);
	pid = fork();
	if (pid == 0) {	/* producer */
		unsigned char msg[4096] = { 0 };
		uint64_t pos = 0, cons = 0;

		pin_child();
		for (uint64_t i = 0; i < count; i++) {
			memcpy(msg, &i, 8);
			while (pos + size - cons > ring)
				cons = __atomic_load_n(&b->cons, __ATOMIC_ACQUIRE);
			memcpy(b->data + (pos & (ring - 1)), msg, size);	/* size divides ring */
			pos += size;
			__atomic_store_n(&b->prod, pos, __ATOMIC_RELEASE);
		}
		_exit(0);
	}
	{
		unsigned char msg[4096];
		uint64_t pos = 0, prod = 0;
		double t0 = 0;
		int ok = 1;

		for (uint64_t i = 0; i < count; i++) {
			uint64_t seq;

			while (prod - pos < size)
				prod = __atomic_load_n(&b->prod, __ATOMIC_ACQUIRE);
			memcpy(msg, b->data + (pos & (ring - 1)), size);
			pos += size;
			__atomic_store_n(&b->cons, pos, __ATOMIC_RELEASE);
			if (!i)
				t0 = now();
			memcpy(&seq, msg, 8);
			ok &= seq == i;
		}
		report(count - 1, now() - t0, ok);
	}
	waitpid(pid, &status, 0);
	return 0;
}

/* One message per write(2) and per read(2) (a read loops only on a short read). */
static int stream(int socket, uint64_t count, size_t size)
{
	int fds[2], status;
	pid_t pid;

	if (socket ? socketpair(AF_UNIX, SOCK_STREAM, 0, fds) : pipe(fds))
		return fail("pipe", errno);
	pid = fork();
	if (pid == 0) {
		unsigned char msg[4096] = { 0 };

		pin_child();
		close(fds[0]);
		for (uint64_t i = 0; i < count; i++) {
			memcpy(msg, &i, 8);
			if (write(fds[1], msg, size) != (ssize_t)size)
				_exit(1);
		}
		_exit(0);
	}
	close(fds[1]);
	{
		unsigned char msg[4096];
		double t0 = 0;
		int ok = 1;

		for (uint64_t i = 0; i < count; i++) {
			size_t got = 0;
			uint64_t seq;

			while (got < size) {
				ssize_t n = read(fds[0], msg + got, size - got);

				if (n <= 0)
					return fail("read", n ? errno : EPIPE);
				got += (size_t)n;
			}
			if (!i)
				t0 = now();
			memcpy(&seq, msg, 8);
			ok &= seq == i;
		}
		report(count - 1, now() - t0, ok);
	}
	waitpid(pid, &status, 0);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int rt_client(const char *name, uint64_t count, size_t size)
{
	unsigned char msg[4096] = { 0 };
	uint64_t warm = count < 1000 ? count : 1000;
	double *lat = calloc(count, sizeof(double));
	int fd = xbuf_open(name, 0), ok = 1;

	if (fd < 0 || !lat)
		return fail(name, fd < 0 ? -fd : ENOMEM);
	for (uint64_t j = 0; j < warm + count; j++) {
		const void *data;
		double t0 = now();
		ssize_t n;
		uint64_t seq;

		memcpy(msg, &j, 8);
		if (xbuf_write(fd, msg, size) != (ssize_t)size)
			return fail("xbuf_write", errno);
		do
			n = xbuf_read_begin(fd, size, XBUF_NONBLOCK, &data);
		while (n == -EAGAIN);
		if (n != (ssize_t)size)
			return fail("xbuf_read_begin", n < 0 ? -n : EIO);
		memcpy(&seq, data, 8);
		xbuf_read_end(fd, (size_t)n);
		ok &= seq == j;
		if (j >= warm)
			lat[j - warm] = (now() - t0) * 1e6;
	}
	qsort(lat, count, sizeof(double), cmp_double);
	printf("{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,\"ok\":%s}\n", lat[count / 2],
	       lat[(size_t)(count * 0.99)], lat[(size_t)(count * 0.999)], lat[count - 1], ok ? "true" : "false");
	xbuf_close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (argc == 5 && !strcmp(mode, "drv-write"))
		return drv_write(argv[2], strtoull(argv[3], NULL, 0), strtoul(argv[4], NULL, 0));
	if (argc == 5 && !strcmp(mode, "drv-read"))
		return drv_read(argv[2], strtoull(argv[3], NULL, 0), strtoul(argv[4], NULL, 0));
	if (argc == 5 && (!strcmp(mode, "app-read") || !strcmp(mode, "app-fast-read")))
		return app_read(argv[2], strtoull(argv[3], NULL, 0), strtoul(argv[4], NULL, 0),
				!strcmp(mode, "app-fast-read"));
	if (argc == 5 && !strcmp(mode, "bare"))
		return bare(strtoull(argv[2], NULL, 0), strtoul(argv[3], NULL, 0), strtoul(argv[4], NULL, 0));
	if (argc == 4 && (!strcmp(mode, "pipe") || !strcmp(mode, "socket")))
		return stream(!strcmp(mode, "socket"), strtoull(argv[2], NULL, 0), strtoul(argv[3], NULL, 0));
	if (argc == 5 && !strcmp(mode, "rt-client"))
		return rt_client(argv[2], strtoull(argv[3], NULL, 0), strtoul(argv[4], NULL, 0));
	fprintf(stderr, "usage: see bench/c/bench_msg.c\n");
	return 2;
}
