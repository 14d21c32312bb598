// SPDX-License-Identifier: MIT
/*
 * xbuf/fast.h, the inline fast path for C (issue 12): a driver in another
 * process streams through a 4 KiB ring (both sides sleep often, so the
 * W1/K1 handshake and the wake rule carry the run), in both directions,
 * every byte checked; EVL's rules at the edges (count 0, above the
 * capacity, non-blocking, the short read of a stuck writer, the tail then
 * EPIPE), the mixing rule (the fd calls of a fast end answer EBUSY), and
 * the mapping held past xbuf_close().
 */
#include <stdlib.h>
#include <sys/wait.h>
#include "xbuf/fast.h"
#include "peer.h"

#define TOTAL	(1u << 20)
#define RING	4096

static unsigned char at(uint64_t i)
{
	return (unsigned char)(i * 7 + (i >> 9));
}

/* The driver side, in a child: write TOTAL bytes of the pattern in random chunks, then end the stream. */
static void child_producer(const char *name)
{
	struct evl_file *f;
	struct evl_xbuf *xb;
	unsigned char buf[RING];
	uint64_t done = 0;
	int fd = xbuf_open(name, 0);

	if (fd < 0 || !(xb = evl_get_xbuf(fd, &f)))
		_exit(2);
	srand(1);
	while (done < TOTAL) {
		size_t n = 1 + (size_t)rand() % 700, i;

		if (n > TOTAL - done)
			n = TOTAL - done;
		for (i = 0; i < n; i++)
			buf[i] = at(done + i);
		if (evl_write_xbuf(xb, buf, n, 0) != (ssize_t)n)
			_exit(3);
		done += n;
	}
	if (evl_shutdown_xbuf(xb))
		_exit(4);
	evl_put_xbuf(f);
	_exit(0);
}

/* The driver side reading the outbound ring: every byte checked, then exit 0. */
static void child_consumer(const char *name)
{
	struct evl_file *f;
	struct evl_xbuf *xb;
	unsigned char buf[RING];
	uint64_t done = 0;
	int fd = xbuf_open(name, 0);

	if (fd < 0 || !(xb = evl_get_xbuf(fd, &f)))
		_exit(2);
	srand(2);
	while (done < TOTAL) {
		size_t want = 1 + (size_t)rand() % 900, i;
		ssize_t n;

		if (want > TOTAL - done)
			want = TOTAL - done;	/* a blocking read waits for all it asks */
		n = evl_read_xbuf(xb, buf, want, 0);

		if (n <= 0)
			_exit(3);
		for (i = 0; i < (size_t)n; i++)
			if (buf[i] != at(done + i))
				_exit(5);
		done += (uint64_t)n;
	}
	evl_put_xbuf(f);
	_exit(0);
}

static int reap(pid_t pid)
{
	int status;

	CHECK(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(void)
{
	const char *name = unique_name("fast");
	unsigned char buf[2 * RING];
	struct xbuf_fast in, out;
	const void *p;
	uint64_t done = 0;
	struct xbuf_stat st;
	struct driver d;
	ssize_t n;
	pid_t pid;
	int fd;

	time_limit(60);
	fd = xbuf_create(RING, RING, XBUF_CLONE_PUBLIC, "%s", name);
	CHECK(fd >= 0);
	CHECK_EQ(xbuf_fast_init(&in, fd, XBUF_POLLIN), 0);
	CHECK_EQ(xbuf_fast_init(&out, fd, XBUF_POLLOUT), 0);
	CHECK_ERR(xbuf_fast_init(&in, fd, XBUF_POLLIN | XBUF_POLLOUT), EINVAL);
	CHECK_EQ(xbuf_fast_init(&in, fd, XBUF_POLLIN), 0);	/* the claim is the fd's: taken again, fine */

	/* EVL's rules at the edges, and the mixing rule. */
	CHECK_EQ(xbuf_fast_read(&in, buf, 0, 0), 0);
	CHECK_EQ(xbuf_fast_write(&out, buf, 0, 0), 0);
	CHECK_ERR(xbuf_fast_read(&in, buf, RING + 1, 0), EINVAL);
	CHECK_ERR(xbuf_fast_write(&out, buf, RING + 1, 0), EINVAL);
	CHECK_ERR(xbuf_fast_read(&in, buf, 1, XBUF_NONBLOCK), EAGAIN);
	CHECK_ERR(xbuf_fast_read(&out, buf, 1, 0), ENOBUFS);
	CHECK_ERR(xbuf_fast_write(&in, buf, 1, 0), ENOBUFS);
	CHECK_ERRNO(xbuf_read(fd, buf, 1), EBUSY);
	CHECK_ERRNO(xbuf_write(fd, buf, 1), EBUSY);
	CHECK_ERR(xbuf_read_begin(fd, 1, XBUF_NONBLOCK, &p), EBUSY);

	/* Inbound: a driver in another process streams; random read sizes, blocking and not. */
	pid = fork();
	CHECK(pid >= 0);
	if (!pid)
		child_producer(name);
	srand(3);
	for (;;) {
		size_t want = 1 + (size_t)rand() % 1000, i;
		int flags = rand() % 4 ? 0 : XBUF_NONBLOCK;
		ssize_t got = xbuf_fast_read(&in, buf, want, flags);

		if (got == -EAGAIN && flags)
			continue;
		if (got == -EPIPE)
			break;
		CHECK(got > 0 && (size_t)got <= want);
		for (i = 0; i < (size_t)got; i++)
			CHECK_EQ(buf[i], at(done + i));
		done += (uint64_t)got;
	}
	CHECK_EQ(done, TOTAL);	/* the tail, then EPIPE: no byte lost */
	CHECK_EQ(reap(pid), 0);
	CHECK_ERR(xbuf_fast_read(&in, buf, 1, 0), EPIPE);

	/* Outbound: the fast producer, random sizes; the child checks every byte. */
	pid = fork();
	CHECK(pid >= 0);
	if (!pid)
		child_consumer(name);
	/* The first child let go of the outbound end too: EPIPE until this one holds it. */
	while (xbuf_stat(fd, &st) == 0 && st.outbound.consumer_pid != pid)
		usleep(1000);
	srand(4);
	for (done = 0; done < TOTAL;) {
		size_t n = 1 + (size_t)rand() % 800, i;
		ssize_t r;

		if (n > TOTAL - done)
			n = TOTAL - done;
		for (i = 0; i < n; i++)
			buf[i] = at(done + i);
		while ((r = xbuf_fast_write(&out, buf, n, rand() % 4 ? 0 : XBUF_NONBLOCK)) == -EAGAIN)
			;
		CHECK_EQ(r, (ssize_t)n);
		done += n;
	}
	CHECK_EQ(reap(pid), 0);

	/*
	 * EVL's short read: a driver writer blocked for room makes a blocking
	 * read take what is there rather than wait for all it asked.
	 */
	d = driver_spawn(name);
	driver_write(&d, 200);	/* 3200 bytes */
	driver_write(&d, 255);	/* 4096 more: it is about to block for room */
	while (xbuf_stat(fd, &st) == 0 && !st.inbound.producer_waiters)
		usleep(1000);
	n = xbuf_fast_read(&in, buf, RING, 0);
	CHECK(n >= 3200 && n < RING);	/* short: not all it asked */
	CHECK_EQ(xbuf_fast_read(&in, buf, RING, 0), RING);	/* its write completed in the room we made */

	/*
	 * The mapping outlives xbuf_close(): the struct still reads it; a call
	 * that must sleep needs the fd: EBADF (the driver lives: no EPIPE).
	 */
	CHECK(xbuf_close(fd) == 0);
	CHECK_EQ(xbuf_fast_fill(&in), 0);
	CHECK_ERR(xbuf_fast_read(&in, buf, 1, XBUF_NONBLOCK), EAGAIN);
	CHECK_ERR(xbuf_fast_read(&in, buf, 1, 0), EBADF);
	driver_exit(&d);
	xbuf_fast_fini(&in);
	xbuf_fast_fini(&out);
	return T_EXIT_PASS;
}
