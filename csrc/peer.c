// SPDX-License-Identifier: MIT
/*
 * peer.c - knowing when the process at the other end dies.
 *
 * No lock lives in shared memory, so a process killed mid-call leaves a
 * consistent ring; what it must not leave is a survivor asleep forever.
 * Each end holds its process's pid in the shared `owner` word. A sleeper
 * asks xb_peer_dead() about the peer's pid, which opens a pidfd for it
 * once; a watcher thread polls all pidfds and, when one process exits,
 * bumps xb_local_gen and wakes it. Every sleeper also waits on that word
 * (futex_waitv), re-checks, and fails with EPIPE.
 *
 * xb_local_gen is also bumped when a handle is closed (the user backend's
 * cancel hook), to wake the closed fd's sleepers with EBADF.
 *
 * The bottom layer: it calls nothing of the library, and its fork handler
 * resets only its own state (handle.c has its own).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "internal.h"

#define XB_MAX_WATCHED	256

uint32_t xb_local_gen;

static struct {
	pthread_mutex_t lock;
	bool started;
	int kick_fd;			/* eventfd: the set of pidfds changed */
	int n;
	pid_t pid[XB_MAX_WATCHED];
	int pidfd[XB_MAX_WATCHED];
	bool dead[XB_MAX_WATCHED];
} watch = { .lock = PTHREAD_MUTEX_INITIALIZER, .kick_fd = -1 };

static pid_t self_pid;

pid_t xb_self_pid(void)
{
	pid_t pid = __atomic_load_n(&self_pid, __ATOMIC_RELAXED);

	if (!pid) {
		pid = getpid();
		__atomic_store_n(&self_pid, pid, __ATOMIC_RELAXED);
	}
	return pid;
}

void xb_local_wake(void)
{
	__atomic_fetch_add(&xb_local_gen, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &xb_local_gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static bool pidfd_exited(int pidfd)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

static void *watcher(void *arg)
{
	struct pollfd pfd[XB_MAX_WATCHED + 1];
	int i, n;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&watch.lock);
		pfd[0] = (struct pollfd){ .fd = watch.kick_fd, .events = POLLIN };
		for (i = 0, n = watch.n; i < n; i++)
			pfd[i + 1] = (struct pollfd){
				.fd = watch.dead[i] ? -1 : watch.pidfd[i],
				.events = POLLIN,
			};
		pthread_mutex_unlock(&watch.lock);

		if (poll(pfd, n + 1, -1) < 0)
			continue;
		if (pfd[0].revents) {
			uint64_t v;

			if (read(watch.kick_fd, &v, sizeof(v)) < 0)
				continue;
		}
		for (i = 0; i < n; i++)
			if (pfd[i + 1].revents & POLLIN)
				break;
		if (i == n)
			continue;
		/*
		 * Entries may have moved since the snapshot: ask every pidfd
		 * again rather than trusting the index.
		 */
		pthread_mutex_lock(&watch.lock);
		for (i = 0; i < watch.n; i++)
			if (!watch.dead[i] && pidfd_exited(watch.pidfd[i]))
				watch.dead[i] = true;
		pthread_mutex_unlock(&watch.lock);
		xb_local_wake();
	}
	return NULL;
}

static void forget(int i)
{
	close(watch.pidfd[i]);
	watch.n--;
	watch.pid[i] = watch.pid[watch.n];
	watch.pidfd[i] = watch.pidfd[watch.n];
	watch.dead[i] = watch.dead[watch.n];
}

static int start_watcher(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t thr;
	int ret;

	watch.kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (watch.kick_fd < 0)
		return -errno;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	/* Signals belong to the application's threads, not to ours. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&thr, &attr, watcher, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (ret) {
		close(watch.kick_fd);
		watch.kick_fd = -1;
		return -ret;
	}
	watch.started = true;
	return 0;
}

/*
 * Has the process `pid` exited? From now on its exit also wakes every
 * sleeper of this process. A dead pid is reported once and forgotten, so
 * a new process that reuses the pid is looked at afresh.
 */
bool xb_peer_dead(pid_t pid)
{
	bool dead = false;
	int i, pidfd;

	if (pid <= 0 || pid == xb_self_pid())
		return false;
	pthread_mutex_lock(&watch.lock);
	for (i = 0; i < watch.n; i++)
		if (watch.pid[i] == pid)
			break;
	if (i < watch.n) {
		/* Watched: the watcher thread says when it exits; no syscall here. */
		dead = watch.dead[i];
		if (dead)
			forget(i);
		goto out;
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		dead = errno == ESRCH;
		goto out;
	}
	if (pidfd_exited(pidfd)) {	/* a zombie: exited, not yet reaped */
		close(pidfd);
		dead = true;
		goto out;
	}
	if (!watch.started && start_watcher() < 0) {
		close(pidfd);
		goto out;	/* cannot watch: treated as alive, as before */
	}
	if (watch.n == XB_MAX_WATCHED) {
		close(pidfd);
		goto out;
	}
	watch.pid[watch.n] = pid;
	watch.pidfd[watch.n] = pidfd;
	watch.dead[watch.n] = false;
	watch.n++;
	{
		uint64_t one = 1;

		if (write(watch.kick_fd, &one, sizeof(one)) < 0)
			dead = false;	/* the eventfd is only full if a kick is pending */
	}
out:
	pthread_mutex_unlock(&watch.lock);
	return dead;
}

/* After fork(): the child is another process, with no watcher thread. */
static void atfork_child(void)
{
	int i;

	self_pid = 0;
	pthread_mutex_init(&watch.lock, NULL);
	for (i = 0; i < watch.n; i++)
		close(watch.pidfd[i]);
	watch.n = 0;
	if (watch.kick_fd >= 0)
		close(watch.kick_fd);
	watch.kick_fd = -1;
	watch.started = false;
}

__attribute__((constructor)) static void peer_init(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}
