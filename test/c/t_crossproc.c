// SPDX-License-Identifier: MIT
/*
 * Two processes on one public element: a driver-side peer process
 * (xbuf_peer) streams the position-keyed pattern; we check every byte.
 * Then the peer is SIGKILLed mid-stream: we drain what it published and
 * get EPIPE instead of sleeping forever; a new peer clears it and the
 * stream goes on exactly where it stood. Then the other way round: the
 * application process dies while the driver side is blocked.
 */
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include "test.h"

static char peer_path[4096];
static char name[64];
static uint64_t in_r;

static pid_t spawn_peer(const char *verb, const char *bytes)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		execl(peer_path, "xbuf_peer", verb, name, "--bytes", bytes, "--chunk", "4000", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void read_checked(int fd, uint64_t total, bool retry_epipe)
{
	uint8_t buf[8192];
	uint64_t done = 0;

	while (done < total) {
		size_t n = 1 + (size_t)rand() % sizeof(buf);
		ssize_t got;

		if (n > total - done)
			n = (size_t)(total - done);
		got = xbuf_read(fd, buf, n);
		if (got < 0 && errno == EPIPE && retry_epipe) {
			/* the old peer is dead and the new one has not written yet */
			usleep(1000);
			continue;
		}
		if (got != (ssize_t)n)
			fprintf(stderr, "read %zu at %llu: got %zd\n", n, (unsigned long long)in_r, got);
		CHECK(got == (ssize_t)n);
		CHECK(pattern_check(buf, in_r, n) < 0);
		in_r += n;
		done += n;
	}
}

static int exit_code(pid_t pid)
{
	int status;

	CHECK(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void *kill_later(void *arg)
{
	struct timespec ts = { 0, 100 * 1000000L };

	nanosleep(&ts, NULL);
	kill((pid_t)(intptr_t)arg, SIGKILL);
	return NULL;
}

int main(int argc, char **argv)
{
	uint8_t buf[65536];
	struct xbuf_stat st;
	pthread_t killer;
	pid_t pid;
	ssize_t got;
	int fd;

	snprintf(peer_path, sizeof(peer_path), "%s/xbuf_peer", dirname(realpath("/proc/self/exe", (char[4096]){ 0 })));
	if (access(peer_path, X_OK))
		return T_EXIT_SKIP;
	snprintf(name, sizeof(name), "%s", unique_name("xproc"));
	fd = xbuf_create(65536, 65536, XBUF_CLONE_PUBLIC, "%s", name);
	CHECK(fd >= 0);

	/* 1. a full stream from another process, every byte checked */
	pid = spawn_peer("produce", "8000000");
	read_checked(fd, 8000000, false);
	CHECK(exit_code(pid) == 0);
	/* the producer let go of its end: like a pipe, a blocked read fails */
	CHECK(xbuf_read(fd, buf, 1) == -1 && errno == EPIPE);
	CHECK(xbuf_stat(fd, &st) == 0 && st.inbound.producer_pid == 0);

	/* 2. the peer dies mid-stream while we sleep: drain, then EPIPE */
	pid = spawn_peer("produce", "0");	/* forever */
	read_checked(fd, 1000000, true);
	CHECK(pthread_create(&killer, NULL, kill_later, (void *)(intptr_t)pid) == 0);
	/* like a pipe: what the dead producer published drains (the last read may be short), then EPIPE */
	for (;;) {
		got = xbuf_read(fd, buf, 1000);
		if (got < 0)
			break;
		CHECK(got > 0 && got <= 1000);
		CHECK(pattern_check(buf, in_r, (size_t)got) < 0);
		in_r += (uint64_t)got;
	}
	CHECK(errno == EPIPE);
	pthread_join(killer, NULL);
	CHECK(xbuf_stat(fd, &st) == 0);
	CHECK(st.inbound.fill == 0 && st.inbound.consumed == in_r && st.inbound.produced == in_r);
	/* a zombie is dead too (not reaped yet): EPIPE again, also without blocking */
	CHECK(xbuf_read(fd, buf, 10) == -1 && errno == EPIPE);
	CHECK_ERR(xbuf_read_begin(fd, 10, XBUF_NONBLOCK, &(const void *){ NULL }), EPIPE);
	CHECK(exit_code(pid) == 128 + SIGKILL);
	CHECK(xbuf_poll(fd, XBUF_POLLIN, 1, -1) == -EPIPE);

	/* 3. a new peer clears it; its stream starts where the old one stopped */
	pid = spawn_peer("produce", "500000");
	read_checked(fd, 500000, true);
	CHECK(exit_code(pid) == 0);

	/* 4. a process using the application side dies while the creator lives */
	{
		struct evl_file *f;
		struct evl_xbuf *xb = evl_get_xbuf(fd, &f);
		pid_t app;
		int pipefd[2];
		char c;

		CHECK(xb);
		/*
		 * The peer of step 3 ended its stream (evl_shutdown_xbuf()):
		 * application writes fail with EPIPE until a driver call starts
		 * the next one; this one does.
		 */
		CHECK(evl_read_xbuf(xb, buf, 4, O_NONBLOCK) == -EAGAIN);
		CHECK(pipe(pipefd) == 0);
		app = fork();
		CHECK(app >= 0);
		if (app == 0) {
			int afd = xbuf_open(name, 0);

			if (afd < 0 || xbuf_write(afd, "ping", 4) != 4)
				_exit(1);
			(void)!write(pipefd[1], "x", 1);
			pause();
			_exit(0);
		}
		CHECK(read(pipefd[0], &c, 1) == 1);
		CHECK(evl_read_xbuf(xb, buf, 4, 0) == 4 && !memcmp(buf, "ping", 4));
		kill(app, SIGKILL);
		CHECK(exit_code(app) == 128 + SIGKILL);
		/*
		 * Issue 9: the element lives while its creator (this process)
		 * does, as in EVL while an fd is open: the driver waits for the
		 * next user of the app end, no EIDRM (t_eidrm: the creator too).
		 */
		CHECK_ERR(evl_read_xbuf(xb, buf, 4, O_NONBLOCK), EAGAIN);
		/* we are the application side too: writing claims the end again */
		CHECK(xbuf_write(fd, "pong", 4) == 4);
		CHECK(evl_read_xbuf(xb, buf, 4, 0) == 4 && !memcmp(buf, "pong", 4));
		evl_put_xbuf(f);
		close(pipefd[0]);
		close(pipefd[1]);
	}
	CHECK(xbuf_close(fd) == 0);
	(void)argc;
	(void)argv;
	return T_EXIT_PASS;
}
