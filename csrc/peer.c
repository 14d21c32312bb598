// SPDX-License-Identifier: MIT
/*
 * peer.c - knowing when the process at the other end dies.
 *
 * No lock lives in shared memory, so a process killed mid-call leaves a
 * consistent ring; what it must not leave is a survivor asleep forever.
 * Each end holds its process's pid in the shared `owner` word, and an
 * OFD lock on the end's byte of the object (user.c). A sleeper asks
 * xb_peer_dead() about the peer's owner, which checks the lock and opens
 * a pidfd for it once; a watcher thread polls all pidfds and, when one
 * process exits, closes its pidfd, bumps xb_local_gen and wakes it. Every
 * sleeper also waits on that word (futex_waitv), re-checks, and fails
 * with EPIPE once the bytes the dead peer published are read.
 *
 * xb_local_gen is also bumped when a handle is closed (the user backend's
 * cancel hook), to wake the closed fd's sleepers with EBADF.
 *
 * The bottom layer: it calls nothing of the library, and its fork handler
 * resets only its own state (handle.c has its own).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "internal.h"

uint32_t xb_local_gen;

/*
 * One watched process: a live peer owner, shared by every end whose
 * peer it owns. Entries exist only while an end refers to them (refs):
 * an owner that lets go (XBUF_OWNER_GONE) or is replaced is dropped with
 * its pidfd, and one that dies has its pidfd closed by the watcher, so
 * nothing accumulates however many peers come and go.
 */
struct xb_watched {
	struct xb_watched *next;
	pid_t pid;
	int pidfd;		/* -1 once it exited (the watcher closed it) */
	int refs;		/* struct xb_peer_ref pointing here */
	bool dead;
};

static struct {
	pthread_mutex_t lock;
	bool started;
	int kick_fd;			/* eventfd: the set of pidfds changed */
	uint32_t epoch;			/* moves at fork: a ref of another epoch points nowhere */
	struct xb_watched *list;
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
	struct pollfd *pfd = NULL;
	size_t cap = 0;
	int i, n;

	(void)arg;
	for (;;) {
		struct xb_watched *w;
		bool exited = false;

		pthread_mutex_lock(&watch.lock);
		for (n = 0, w = watch.list; w; w = w->next)
			n += w->pidfd >= 0;
		if ((size_t)n + 1 > cap) {
			struct pollfd *p = realloc(pfd, ((size_t)n + 1) * 2 * sizeof(*pfd));

			if (p) {
				pfd = p;
				cap = ((size_t)n + 1) * 2;
			}
		}
		if (!pfd) {
			pthread_mutex_unlock(&watch.lock);
			sleep(1);	/* no memory for even the kick: try again */
			continue;
		}
		pfd[0] = (struct pollfd){ .fd = watch.kick_fd, .events = POLLIN };
		for (i = 1, w = watch.list; w && (size_t)i < cap; w = w->next)
			if (w->pidfd >= 0)
				pfd[i++] = (struct pollfd){ .fd = w->pidfd, .events = POLLIN };
		n = i;
		pthread_mutex_unlock(&watch.lock);

		if (poll(pfd, (nfds_t)n, -1) < 0)
			continue;
		if (pfd[0].revents) {
			uint64_t v;

			if (read(watch.kick_fd, &v, sizeof(v)) < 0)
				continue;
		}
		for (i = 1; i < n; i++)
			if (pfd[i].revents & POLLIN)
				exited = true;
		if (!exited)
			continue;
		/*
		 * Entries may have gone since the snapshot: ask every pidfd
		 * again rather than trusting the index. A dead one's pidfd is
		 * closed now; its entry stays (dead) while ends refer to it.
		 */
		pthread_mutex_lock(&watch.lock);
		for (w = watch.list; w; w = w->next)
			if (w->pidfd >= 0 && pidfd_exited(w->pidfd)) {
				close(w->pidfd);
				w->pidfd = -1;
				__atomic_store_n(&w->dead, true, __ATOMIC_RELEASE);
			}
		pthread_mutex_unlock(&watch.lock);
		xb_local_wake();
	}
	return NULL;
}

/* Drop ref's entry; with watch.lock held. The last ref frees it (and its pidfd). */
static void unref_locked(struct xb_peer_ref *ref)
{
	struct xb_watched *w = ref->w, **pp;

	ref->w = NULL;
	/* atomic: xb_peer_unref() reads it without the lock, from another thread of the end */
	__atomic_store_n(&ref->owner, 0, __ATOMIC_RELAXED);
	if (!w || ref->epoch != watch.epoch || --w->refs)
		return;
	for (pp = &watch.list; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	if (w->pidfd >= 0)
		close(w->pidfd);	/* the watcher's snapshot may still hold the number: it re-checks */
	free(w);
}

void xb_peer_unref(struct xb_peer_ref *ref)
{
	if (!__atomic_load_n(&ref->owner, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&watch.lock);
	unref_locked(ref);
	pthread_mutex_unlock(&watch.lock);
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

/* Does a live open file description other than lock_fd's hold a write lock on byte off? */
static bool owner_locked(int lock_fd, off_t off)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = off, .l_len = 1 };

	if (lock_fd < 0 || fcntl(lock_fd, F_OFD_GETLK, &fl) < 0)
		return true;	/* cannot tell: the pid alone decides, as before */
	return fl.l_type != F_UNLCK;
}

/*
 * Is the owner `owner` (a pid, from the owner word at *word) of a peer
 * endpoint dead? ref is the asking end's memory of it.
 *
 * A pid alone cannot say: the process may be gone and its pid reused. An
 * owner holds an OFD write lock on byte lock_off of the object (user.c)
 * for as long as it holds the end, and the kernel drops the lock when
 * the process dies, whoever has its pid now. So the first look at an
 * owner opens a pidfd for the pid, then asks the lock (after: if the pid
 * was reused before our pidfd_open(), the lock is already free) and the
 * owner word again (unchanged: the lock is that owner's, not a newer
 * claimant's). From then on the watcher thread tells its exit: a live,
 * known owner costs a lookup under a process-local mutex, no syscall.
 * A dead owner is looked at afresh every time (the EPIPE path only).
 */
bool xb_peer_dead(struct xb_peer_ref *ref, uint32_t owner, const uint32_t *word,
		  int lock_fd, off_t lock_off)
{
	struct xb_watched *w;
	pid_t pid = (pid_t)owner;
	bool dead = false;
	int pidfd;

	if (pid <= 0 || pid == xb_self_pid())
		return false;
	pthread_mutex_lock(&watch.lock);
	if (ref->epoch != watch.epoch) {
		/* Forked since: the entry was the parent's. */
		ref->w = NULL;
		__atomic_store_n(&ref->owner, 0, __ATOMIC_RELAXED);
		ref->epoch = watch.epoch;
	}
	if (ref->w && ref->owner == owner) {
		/* Known: the watcher thread says when it exits; no syscall here. */
		dead = __atomic_load_n(&ref->w->dead, __ATOMIC_ACQUIRE);
		goto out;
	}
	unref_locked(ref);	/* another owner than last time: the old one is no peer of ours now */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		dead = errno == ESRCH;
		goto out;
	}
	if (pidfd_exited(pidfd) || !owner_locked(lock_fd, lock_off)) {
		/* A zombie (exited, not reaped yet), or the pid is another process's now. */
		close(pidfd);
		dead = true;
		goto out;
	}
	if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != owner) {
		close(pidfd);	/* a new claimant holds the lock: the caller looks again */
		goto out;
	}
	for (w = watch.list; w; w = w->next)
		if (w->pid == pid && !w->dead)
			break;	/* a live process keeps its pid: the same one */
	if (w) {
		close(pidfd);
	} else {
		if (!watch.started && start_watcher() < 0) {
			close(pidfd);
			goto out;	/* cannot watch: treated as alive, looked at again next time */
		}
		w = calloc(1, sizeof(*w));
		if (!w) {
			close(pidfd);
			goto out;
		}
		w->pid = pid;
		w->pidfd = pidfd;
		w->next = watch.list;
		watch.list = w;
		{
			uint64_t one = 1;

			/* The eventfd is only full if a kick is pending anyway. */
			(void)!write(watch.kick_fd, &one, sizeof(one));
		}
	}
	w->refs++;
	ref->w = w;
	__atomic_store_n(&ref->owner, owner, __ATOMIC_RELAXED);
out:
	pthread_mutex_unlock(&watch.lock);
	return dead;
}

/* After fork(): the child is another process, with no watcher thread. */
static void atfork_child(void)
{
	struct xb_watched *w, *next;

	self_pid = 0;
	pthread_mutex_init(&watch.lock, NULL);
	for (w = watch.list; w; w = next) {
		next = w->next;
		if (w->pidfd >= 0)
			close(w->pidfd);
		free(w);
	}
	watch.list = NULL;
	watch.epoch++;	/* every end's ref is stale: xb_peer_dead() starts afresh */
	if (watch.kick_fd >= 0)
		close(watch.kick_fd);
	watch.kick_fd = -1;
	watch.started = false;
}
__attribute__((constructor)) static void peer_init(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}
