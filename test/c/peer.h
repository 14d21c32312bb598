/* SPDX-License-Identifier: MIT */
/*
 * peer.h - what the peer-lifecycle tests (t_peer_*.c) share: a forked
 * driver process on a public element, told what to do over pipes, and
 * the fd count of this process.
 */
#ifndef XBUF_TEST_PEER_H
#define XBUF_TEST_PEER_H

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include "test.h"

/* A forked child that is the driver side of a public element. */
struct driver {
	pid_t pid;
	int cmd;	/* we write one byte per step */
	int ack;	/* it writes one byte per step done */
};

/*
 * The child's steps: a command byte each; 0: end the stream
 * (evl_shutdown_xbuf()), let go and exit; 254: let go without ending it
 * and exit; else see driver_write().
 */
static inline void driver_child(const char *name, int cmd, int ack)
{
	struct evl_file *f;
	struct evl_xbuf *xb;
	struct xbuf_stat st;
	uint8_t buf[4096], c;
	int fd = xbuf_open(name, 0);

	if (fd < 0 || !(xb = evl_get_xbuf(fd, &f)) || xbuf_stat(fd, &st))
		_exit(2);
	for (;;) {
		ssize_t n;

		if (read(cmd, &c, 1) != 1)
			_exit(3);
		if (c == 0 || c == 254)
			break;
		n = c == 255 ? 4096 : 16 * c;
		pattern_fill(buf, st.inbound.produced, (size_t)n);
		if (c == 255)
			(void)!write(ack, "w", 1);	/* about to block: the parent watches producer_waiters */
		if (evl_write_xbuf(xb, buf, (size_t)n, 0) != n)
			_exit(4);
		st.inbound.produced += (uint64_t)n;
		if (c != 255)
			(void)!write(ack, "d", 1);
	}
	if (c == 0 && evl_shutdown_xbuf(xb))
		_exit(5);
	evl_put_xbuf(f);
	xbuf_close(fd);
	_exit(0);
}

static inline struct driver driver_spawn(const char *name)
{
	int cmd[2], ack[2];
	struct driver d;

	CHECK(pipe(cmd) == 0 && pipe(ack) == 0);
	d.pid = fork();
	CHECK(d.pid >= 0);
	if (d.pid == 0) {
		close(cmd[1]);
		close(ack[0]);
		driver_child(name, cmd[0], ack[1]);
	}
	close(cmd[0]);
	close(ack[1]);
	d.cmd = cmd[1];
	d.ack = ack[0];
	return d;
}

/*
 * Write 16 * units bytes of the pattern (inbound) and wait until they are
 * in the ring; units 255: start a write of 4096 bytes, which blocks for
 * room, and return when it is about to.
 */
static inline void driver_write(struct driver *d, int units)
{
	uint8_t c = (uint8_t)units, a;

	CHECK(write(d->cmd, &c, 1) == 1);
	CHECK(read(d->ack, &a, 1) == 1);
}

static inline int driver_wait(struct driver *d)
{
	int status;

	CHECK(waitpid(d->pid, &status, 0) == d->pid);
	close(d->cmd);
	close(d->ack);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Let go cleanly: end the stream, put the driver reference, close, exit 0. */
static inline void driver_exit(struct driver *d)
{
	CHECK(write(d->cmd, "", 1) == 1);
	CHECK_EQ(driver_wait(d), 0);
}

/* Put the driver reference without ending the stream (EVL), close, exit 0. */
static inline void driver_leave(struct driver *d)
{
	CHECK(write(d->cmd, "\xfe", 1) == 1);
	CHECK_EQ(driver_wait(d), 0);
}

static inline void driver_kill(struct driver *d)
{
	kill(d->pid, SIGKILL);
	CHECK_EQ(driver_wait(d), 128 + SIGKILL);
}

static inline int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	CHECK(dir);
	while ((de = readdir(dir)))
		n += de->d_name[0] != '.';
	closedir(dir);
	return n - 1;	/* the directory's own fd */
}

/* Files of killed creators left in /dev/shm under our names (issue 9 reclaims them). */
static inline int stale_files(const char *prefix)
{
	DIR *dir = opendir("/dev/shm");
	struct dirent *de;
	char want[80];
	int n = 0;

	snprintf(want, sizeof(want), "xbuf.%s", prefix);
	CHECK(dir);
	while ((de = readdir(dir)))
		n += !strncmp(de->d_name, want, strlen(want));
	closedir(dir);
	return n;
}

static void on_alarm(int sig)
{
	static const char msg[] = "timed out: a call hung\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(T_EXIT_FAIL);
}

/* Fail, rather than hang the suite, if the test takes longer than `s` seconds. */
static inline void time_limit(unsigned s)
{
	signal(SIGALRM, on_alarm);
	alarm(s);
}

#endif
