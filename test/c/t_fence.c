// SPDX-License-Identifier: MIT
/*
 * t_fence - the two uses of membarrier() on the message path (csrc/fence.c):
 *
 *  - K1's asymmetric form: a claim stores the end's `fence` word
 *    (XBUF_FENCE_MEMBARRIER, or 0 under XBUF_FENCE=full), and a sleeper
 *    pairs with a light commit (release store, no barrier) by fencing after
 *    W1. A ping-pong with XBUF_SPIN_US=0, so that every read sleeps,
 *    between this process and a driver process (this program re-executed),
 *    against a light driver and against a full one (XBUF_FENCE=full): a
 *    lost wake-up hangs, and the alarm fails the test.
 *  - the biased end lock: the main thread takes the outbound producer end
 *    (it is biased to it), then four more threads write to it at once (the
 *    first of them revokes the bias); a driver thread checks that every
 *    thread's messages arrive whole, in order, none lost.
 *
 * Exit 77 when the kernel has no membarrier() expedited commands.
 */
#define _GNU_SOURCE
#include <linux/membarrier.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "test.h"
#include "xbuf/abi.h"

#define ROUNDS	20000
#define WRITERS	5	/* the main thread and four more */
#define PER	20000

static struct xbuf_shm_side *side(int fd, int which)
{
	return (struct xbuf_shm_side *)((char *)xbuf_map_base(fd) + which * sysconf(_SC_PAGESIZE));
}

/* The driver process: echo ROUNDS 8-byte messages, one blocking call each. */
static int driver(const char *name)
{
	int efd = xbuf_open(name, 0);
	struct evl_file *efile;
	struct evl_xbuf *xb;
	uint64_t v;

	CHECK(efd >= 0);
	xb = evl_get_xbuf(efd, &efile);
	CHECK(xb != NULL);
	for (int i = 0; i < ROUNDS; i++) {
		ssize_t n;

		/*
		 * Busy-poll for the request, answer at once: the answer's
		 * commit lands while the application, which wrote the request
		 * a moment before, is between its W1 and its second look. That
		 * is the race a missing fence loses (a wake-up lost: a hang).
		 */
		while ((n = evl_read_xbuf(xb, &v, sizeof(v), O_NONBLOCK)) == -EAGAIN)
			;
		CHECK_EQ(n, (ssize_t)sizeof(v));
		CHECK_EQ(evl_write_xbuf(xb, &v, sizeof(v), 0), (ssize_t)sizeof(v));
	}
	evl_shutdown_xbuf(xb);
	evl_put_xbuf(efile);
	xbuf_close(efd);
	return T_EXIT_PASS;
}

static pid_t spawn_driver(const char *self, const char *name, bool full)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		if (full)
			setenv("XBUF_FENCE", "full", 1);
		execl(self, "t_fence", "driver", name, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* One ping-pong against a driver process; its fence word must say `want`. */
static void ping_pong(const char *self, bool full)
{
	const char *name = unique_name(full ? "fence-full" : "fence");
	int fd = xbuf_create(4096, 4096, XBUF_CLONE_PUBLIC | XBUF_CLONE_USER, "%s", name), status;
	struct xbuf_stat st;
	pid_t pid;
	uint64_t v;

	CHECK(fd >= 0);
	pid = spawn_driver(self, name, full);
	for (uint64_t i = 0; i < ROUNDS; i++) {
		CHECK_EQ(xbuf_write(fd, &i, sizeof(i)), (ssize_t)sizeof(i));
		CHECK_EQ(xbuf_read(fd, &v, sizeof(v)), (ssize_t)sizeof(v));
		CHECK_EQ(v, i);
	}
	/* Both ends claimed: our page says we fence, the driver's what its process does. */
	CHECK_EQ(side(fd, XBUF_APP_PAGE)->cons.fence, XBUF_FENCE_MEMBARRIER);
	CHECK_EQ(side(fd, XBUF_APP_PAGE)->prod.fence, XBUF_FENCE_MEMBARRIER);
	CHECK_EQ(side(fd, XBUF_DRIVER_PAGE)->prod.fence, full ? 0 : XBUF_FENCE_MEMBARRIER);
	CHECK_EQ(side(fd, XBUF_DRIVER_PAGE)->cons.fence, full ? 0 : XBUF_FENCE_MEMBARRIER);
	/* Our reads slept (spin 0), so the driver's commits woke them: the handshake was used. */
	CHECK_EQ(xbuf_stat(fd, &st), 0);
	CHECK(st.inbound.producer_wakeups > 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(xbuf_close(fd), 0);
}

struct writer {
	int fd;
	uint32_t id;
};

/* A message: (writer id, its sequence number). */
static void *write_many(void *arg)
{
	struct writer *w = arg;

	for (uint32_t i = 0; i < PER; i++) {
		uint32_t msg[2] = { w->id, i };

		CHECK_EQ(xbuf_write(w->fd, msg, sizeof(msg)), (ssize_t)sizeof(msg));
	}
	return NULL;
}

static void *read_all(void *arg)
{
	struct evl_xbuf *xb = arg;
	uint32_t next[WRITERS] = { 0 };

	for (int n = 0; n < WRITERS * PER; n++) {
		uint32_t msg[2];

		CHECK_EQ(evl_read_xbuf(xb, msg, sizeof(msg), 0), (ssize_t)sizeof(msg));
		CHECK(msg[0] < WRITERS);
		if (msg[1] != next[msg[0]])
			fprintf(stderr, "writer %u: message %u, expected %u\n", msg[0], msg[1], next[msg[0]]);
		CHECK_EQ(msg[1], next[msg[0]]);
		next[msg[0]]++;
	}
	return NULL;
}

static void biased_then_shared(void)
{
	int fd = xbuf_create(4096, 4096, XBUF_CLONE_USER, "fence-bias");
	struct writer w[WRITERS];
	pthread_t t[WRITERS], reader;
	struct evl_file *efile;
	struct evl_xbuf *xb;
	uint32_t first[2] = { 0, 0 };

	CHECK(fd >= 0);
	xb = evl_get_xbuf(fd, &efile);
	CHECK(xb != NULL);
	/* The main thread first: the end is biased to it. */
	CHECK_EQ(xbuf_write(fd, first, sizeof(first)), (ssize_t)sizeof(first));
	CHECK_EQ(pthread_create(&reader, NULL, read_all, xb), 0);
	{
		/* A borrow held on the bias is an error-checking mutex's: EBUSY for its own thread. */
		uint64_t dummy = 0;
		void *wp;

		CHECK(xbuf_write_begin(fd, sizeof(dummy), 0, &wp) == sizeof(dummy));
		CHECK_ERR(xbuf_write_begin(fd, sizeof(dummy), 0, &wp), EBUSY);
		CHECK_EQ(xbuf_write_end(fd, 0), 0);
	}
	for (uint32_t i = 0; i < WRITERS; i++) {
		w[i].fd = fd;
		w[i].id = i;
	}
	for (uint32_t i = 1; i < WRITERS; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, write_many, &w[i]), 0);
	for (uint32_t i = 1; i < PER; i++) {	/* the main thread goes on beside them */
		uint32_t msg[2] = { 0, i };

		CHECK_EQ(xbuf_write(fd, msg, sizeof(msg)), (ssize_t)sizeof(msg));
	}
	for (uint32_t i = 1; i < WRITERS; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	CHECK_EQ(pthread_join(reader, NULL), 0);
	evl_put_xbuf(efile);
	CHECK_EQ(xbuf_close(fd), 0);
}

int main(int argc, char **argv)
{
	int cmds = (int)syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	setenv("XBUF_SPIN_US", "0", 1);	/* before the library reads it: every wait sleeps */
	if (argc == 3 && !strcmp(argv[1], "driver"))
		return driver(argv[2]);
	if (cmds < 0 || !(cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) {
		fprintf(stderr, "t_fence: no expedited membarrier() here: skipped\n");
		return T_EXIT_SKIP;
	}
	alarm(120);	/* a lost wake-up hangs a ping-pong: SIGALRM fails the test */
	CHECK_EQ(xbuf_fast_fence(), 0);	/* nothing claimed yet: undecided, so not light */
	ping_pong("/proc/self/exe", false);
	CHECK_EQ(xbuf_fast_fence(), 1);
	ping_pong("/proc/self/exe", true);
	biased_then_shared();
	return T_EXIT_PASS;
}
