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
#include <libgen.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include "xbuf/fast.h"
#include "peer.h"

#define TOTAL	(1u << 20)
#define RING	4096

/*
 * The driver side in another process: tools/c/xbuf_peer, exec'd (a forked
 * child of a threaded test may not start threads under TSan), writing or
 * checking test/check.h's pattern, then ending the stream.
 */
static char peer_path[4096];

static pid_t spawn_peer(const char *verb, const char *name, const char *chunk)
{
	char bytes[32];
	pid_t pid = fork();

	CHECK(pid >= 0);
	snprintf(bytes, sizeof(bytes), "%u", TOTAL);
	if (pid == 0) {
		execl(peer_path, "xbuf_peer", verb, name, "--bytes", bytes, "--chunk", chunk, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int reap(pid_t pid)
{
	int status;

	CHECK(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * A driver thread of this process (a fork would need exec under TSan):
 * 3200 bytes, then 4096 more, which block for room until the reader
 * takes the first ones. Keeps its reference (drv_file) for the close test.
 */
static struct evl_file *drv_file;

static void *stuck_writer(void *arg)
{
	static unsigned char bytes[RING];
	struct evl_xbuf *xb = evl_get_xbuf(*(int *)arg, &drv_file);

	if (!xb || evl_write_xbuf(xb, bytes, 3200, 0) != 3200 || evl_write_xbuf(xb, bytes, RING, 0) != RING)
		abort();
	return NULL;
}

int main(void)
{
	const char *name = unique_name("fast");
	unsigned char buf[2 * RING];
	struct xbuf_fast in, out;
	const void *p;
	uint64_t done = 0;
	struct xbuf_stat st;
	pthread_t writer;
	ssize_t n;
	pid_t pid;
	int fd;

	time_limit(60);
	snprintf(peer_path, sizeof(peer_path), "%s/xbuf_peer", dirname(realpath("/proc/self/exe", (char[4096]){ 0 })));
	if (access(peer_path, X_OK))
		return T_EXIT_SKIP;
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
	pid = spawn_peer("produce", name, "700");
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
			CHECK_EQ(buf[i], pattern_byte(done + i));
		done += (uint64_t)got;
	}
	CHECK_EQ(done, TOTAL);	/* the tail, then EPIPE: no byte lost */
	CHECK_EQ(reap(pid), 0);
	CHECK_ERR(xbuf_fast_read(&in, buf, 1, 0), EPIPE);

	/* Outbound: the fast producer, random sizes; the child checks every byte. */
	pid = spawn_peer("consume", name, "900");
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
			buf[i] = pattern_byte(done + i);
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
	CHECK(pthread_create(&writer, NULL, stuck_writer, &fd) == 0);
	while (xbuf_stat(fd, &st) == 0 && !st.inbound.producer_waiters)
		usleep(1000);
	n = xbuf_fast_read(&in, buf, RING, 0);
	CHECK(n >= 3200 && n < RING);	/* short: not all it asked */
	CHECK_EQ(xbuf_fast_read(&in, buf, RING, 0), RING);	/* its write completed in the room we made */
	CHECK(pthread_join(writer, NULL) == 0);

	/*
	 * The mapping outlives xbuf_close(): the struct still reads it; a call
	 * that must sleep needs the fd: EBADF (the driver's reference lives:
	 * no EPIPE).
	 */
	CHECK(xbuf_close(fd) == 0);
	CHECK_EQ(xbuf_fast_fill(&in), 0);
	CHECK_ERR(xbuf_fast_read(&in, buf, 1, XBUF_NONBLOCK), EAGAIN);
	CHECK_ERR(xbuf_fast_read(&in, buf, 1, 0), EBADF);
	evl_put_xbuf(drv_file);
	xbuf_fast_fini(&in);
	xbuf_fast_fini(&out);
	return T_EXIT_PASS;
}
