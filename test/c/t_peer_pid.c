// SPDX-License-Identifier: MIT
/*
 * Issue 10.6: a driver is killed while nobody watches it, and its pid
 * comes back as an unrelated process. That process must not pass for the
 * dead owner: the application drains and gets EPIPE (not EAGAIN), and a
 * new driver claims the end (not EBUSY). We fork until the pid comes
 * back (vfork for the bulk, a real child near it), or skip (77) if it
 * does not within the time limit.
 */
#include <time.h>
#include "peer.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A live process with pid `target` (paused), or -1. */
static pid_t recycle(pid_t target, double seconds)
{
	double t0 = now();
	pid_t p = 0;
	int status;

	while (now() - t0 < seconds) {
		if (p >= target - 16 && p < target) {
			/* Near it: real children, the one that gets it stays. */
			p = fork();
			CHECK(p >= 0);
			if (p == 0) {
				if (getpid() == target)
					pause();
				_exit(0);
			}
			if (p == target)
				return p;
		} else {
			p = vfork();
			CHECK(p >= 0);
			if (p == 0)
				_exit(0);
		}
		CHECK(waitpid(p, &status, 0) == p);
	}
	return -1;
}

int main(void)
{
	const char *name = unique_name("pid");
	struct evl_file *f;
	struct evl_xbuf *xb;
	struct xbuf_stat st;
	uint8_t buf[16];
	const void *p;
	struct driver d;
	pid_t target, q;
	int fd;

	time_limit(28);
	fd = xbuf_create(4096, 4096, XBUF_CLONE_PUBLIC, "%s", name);
	CHECK(fd >= 0);
	d = driver_spawn(name);
	driver_write(&d, 1);
	target = d.pid;
	driver_kill(&d);	/* nobody looked at it: nobody watched it */
	q = recycle(target, 20);
	if (q < 0) {
		printf("pid %d did not come back within 20 s\n", (int)target);
		return T_EXIT_SKIP;
	}
	CHECK(xbuf_stat(fd, &st) == 0);
	CHECK_EQ(st.inbound.producer_pid, target);	/* the word still names it, for display */
	CHECK_EQ(xbuf_read(fd, buf, 16), 16);		/* the drain */
	CHECK_ERR(xbuf_read_begin(fd, 1, XBUF_NONBLOCK, &p), EPIPE);
	CHECK_ERRNO(xbuf_read(fd, buf, 1), EPIPE);
	/* A new driver (this process) takes the end over. */
	xb = evl_get_xbuf(fd, &f);
	CHECK(xb);
	CHECK_EQ(evl_write_xbuf(xb, "y", 1, 0), 1);
	CHECK_EQ(xbuf_read(fd, buf, 1), 1);
	CHECK(buf[0] == 'y');
	evl_put_xbuf(f);
	kill(q, SIGKILL);
	CHECK(waitpid(q, NULL, 0) == q);
	CHECK(xbuf_close(fd) == 0);
	return T_EXIT_PASS;
}
