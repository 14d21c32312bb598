// SPDX-License-Identifier: MIT
/*
 * user.c - the user-space backend: both sides are processes sharing the
 * object, laid out as xbuf/abi.h draws it (xbuf_abi_layout()).
 *
 * An element is a memfd (private) or a file in /dev/shm named
 * "xbuf.<name>" (public). The creator of a public element holds an OFD
 * write lock on its first byte for as long as the element lives: a name
 * whose lock is free belongs to a dead creator (the kernel drops the lock
 * when the process dies), so an open treats it as gone and a create
 * reuses it.
 *
 * Ends: a sleeper waits with futex_waitv on the peer's seq and on the
 * process-local generation word (peer.c), a waker does FUTEX_WAKE on its
 * own seq.
 *
 * Owners (docs/ABI.md, "Peer death and departure"): a process that uses
 * an end claims it by taking an OFD write lock on the first byte of the
 * end's endpoint in the object file, through an open file description of
 * its own (el->lock_fd, never shared with another process), then writes
 * its pid into the endpoint's `owner` word. The lock is the ownership: the
 * kernel drops it when the holder dies, so a dead owner's end is free to
 * claim, and a recycled pid cannot pass for the dead owner (the lock it
 * would have to hold is gone). The pid is for display (xbuf_stat) and for
 * the pidfd that tells a live owner's death without a syscall per check.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

#define load_acquire(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)

#define SHM_DIR		"/dev/shm/"
#define SHM_PREFIX	"xbuf."
#define SHM_PATH_MAX	(sizeof(SHM_DIR SHM_PREFIX) + XBUF_NAME_MAX + 8)

static void shm_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, SHM_DIR SHM_PREFIX "%s", name);
}

static void futex_wake_shared(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Objects. */

static bool user_available(void)
{
	return true;
}

/*
 * Map the object: header pages once, each data area twice back to back,
 * in one reserved range so the copies are adjacent.
 */
static int map_element(int fd, const struct xbuf_shm_info *info, void **basep)
{
	size_t hdr = (size_t)XBUF_HEADER_PAGES * info->page_size;
	char *base;
	int r, copy;

	base = mmap(NULL, info->map_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	if (mmap(base, hdr, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
		goto fail;
	for (r = 0; r < 2; r++) {
		const struct xbuf_shm_ring_info *ri = &info->ring[r];

		for (copy = 0; ri->data_size && copy < 2; copy++)
			if (mmap(base + ri->data_map_off + copy * ri->data_size, ri->data_size,
				 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
				 (off_t)ri->data_file_off) == MAP_FAILED)
				goto fail;
	}
	*basep = base;
	return 0;
fail:
	r = -errno;
	munmap(base, info->map_size);
	return r;
}

/* Read and check the info page of fd: it must be exactly what xbuf_abi_layout() makes. */
static int read_info(int fd, struct xbuf_shm_info *info)
{
	struct xbuf_shm_info expect;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -EBADF;
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(*info))
		return -EBADF;
	if (pread(fd, info, sizeof(*info), 0) != (ssize_t)sizeof(*info))
		return -EBADF;
	if (info->magic != XBUF_MAGIC || info->ring[0].capacity > XBUF_MAX_RING_SIZE ||
	    info->ring[1].capacity > XBUF_MAX_RING_SIZE)
		return -EBADF;
	if (info->abi_version != XBUF_ABI_VERSION || info->page_size != (uint32_t)sysconf(_SC_PAGESIZE))
		return -EPROTO;
	xbuf_abi_layout(&expect, info->ring[0].capacity, info->ring[1].capacity, info->page_size);
	if (memcmp(&expect, info, sizeof(expect)) || (uint64_t)st.st_size != info->file_size)
		return -EPROTO;
	return 0;
}

/* Is the public element at path held by a live creator? */
static bool creator_alive(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return false;
	return fl.l_type != F_UNLCK;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/*
 * The name `path` is taken: take it off if its creator is dead. 0: it is
 * gone (try the link again), -EEXIST: a live creator's.
 *
 * Atomic against other creators doing the same: we take the dead
 * creator's lock ourselves (one process gets it; a live creator's, or
 * another reclaimer's, makes it fail), then remove the name only if it
 * still names the file we locked. Nobody can move a name from under that
 * lock but the one holding it, so a name just linked by another creator
 * is never removed: exactly one of racing creators wins.
 */
static int reclaim_stale(const char *path)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	struct stat locked, named;
	int old = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);

	if (old < 0)
		return errno == ENOENT ? 0 : -EEXIST;
	if (fcntl(old, F_OFD_SETLK, &fl) < 0) {
		close(old);
		return -EEXIST;	/* alive, or being reclaimed by a creator that will win */
	}
	if (fstat(old, &locked) == 0 && stat(path, &named) == 0 && same_file(&locked, &named))
		unlink(path);
	close(old);	/* drops our lock on the dead file, after its name went */
	return 0;
}

/* Create the object: a memfd, or an initialized file linked into /dev/shm. */
static int create_object(const struct xbuf_shm_info *info, const char *name, bool public)
{
	char path[SHM_PATH_MAX], proc[64];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	int fd, r, attempt;

	if (!public) {
		char label[XBUF_NAME_MAX + 8];

		snprintf(label, sizeof(label), "xbuf:%s", name);
		fd = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	} else {
		/* Unnamed until fully initialized and locked: nobody maps half an element. */
		fd = open(SHM_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)info->file_size) < 0 ||
	    pwrite(fd, info, sizeof(*info), 0) != (ssize_t)sizeof(*info))
		goto fail_errno;
	if (!public) {
		fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
		return fd;
	}
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0)
		goto fail_errno;
	shm_path(path, sizeof(path), name);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	for (attempt = 0; attempt < 3; attempt++) {
		if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
			return fd;
		if (errno != EEXIST)
			goto fail_errno;
		/* Taken: by a live creator, or left behind by a dead one? */
		if (reclaim_stale(path))
			break;
	}
	r = -EEXIST;
	goto fail;
fail_errno:
	r = -errno;
fail:
	close(fd);
	return r;
}

/*
 * The creator's handle went: take the name off /dev/shm before the lock
 * goes with the fd, if it is still ours (a name another creator took
 * after ours was removed, e.g. by hand, stays).
 */
static void user_unlink(const char *name, int fd)
{
	char path[SHM_PATH_MAX];
	struct stat ours, named;

	shm_path(path, sizeof(path), name);
	if (fstat(fd, &ours) == 0 && stat(path, &named) == 0 && same_file(&ours, &named))
		unlink(path);
}

static int user_create(const struct xb_create_req *req)
{
	struct xbuf_shm_info info;
	int fd, r;

	xbuf_abi_layout(&info, req->isize, req->osize, (uint32_t)sysconf(_SC_PAGESIZE));
	fd = create_object(&info, req->name, req->public);
	if (fd < 0)
		return fd;
	if (req->nonblock && fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		if (req->public)
			user_unlink(req->name, fd);
		close(fd);
		return r;
	}
	return fd;
}

static int user_open(const char *name, bool nonblock)
{
	char path[SHM_PATH_MAX];
	int fd;

	shm_path(path, sizeof(path), name);
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (nonblock ? O_NONBLOCK : 0));
	if (fd < 0)
		return -errno;
	if (!creator_alive(fd)) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/* The fallback of the probe order: anything not the kernel's is tried as ours (map checks it). */
static bool user_probe(int fd, const struct stat *st, struct xb_ident *id)
{
	(void)fd;
	id->a = (uint64_t)st->st_dev;
	id->b = (uint64_t)st->st_ino;
	return true;
}

/*
 * An open file description of the object for this process alone, for
 * the owner locks: a new one, not a dup of fd, which may be shared with
 * other processes (inherited, passed over a socket) that would then hold
 * our locks with us, and see theirs as none.
 */
static int own_description(int fd)
{
	char proc[64];
	int lfd;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	lfd = open(proc, O_RDWR | O_CLOEXEC);
	if (lfd < 0)
		lfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);	/* no /proc: shared with fd's other holders */
	return lfd;
}

static int user_map(int fd, struct xb_element *el)
{
	int r = read_info(fd, &el->info);

	if (r)
		return r;
	el->lock_fd = own_description(fd);
	if (el->lock_fd < 0)
		return -errno;
	r = map_element(fd, &el->info, &el->base);
	if (r) {
		close(el->lock_fd);
		return r;
	}
	el->map_size = el->info.map_size;
	return 0;
}

static void user_unmap(struct xb_element *el)
{
	int ring, role;

	for (ring = 0; ring < 2; ring++)
		for (role = 0; role < 2; role++)
			xb_peer_unref(&el->end[ring][role].peer_ref);
	munmap(el->base, el->map_size);
	close(el->lock_fd);	/* drops any lock still held (none: the ends were released) */
}

/*
 * After fork(), in the child: lock_fd is the parent's open file
 * description, whose locks are the parent's claims. Keep them the
 * parent's alone (closing our reference does not drop them while the
 * parent holds its own) and take a description of our own, on which the
 * parent's locks count as another process's.
 */
static void user_forked(struct xb_element *el)
{
	int lfd = own_description(el->lock_fd);

	if (lfd < 0)
		return;
	dup3(lfd, el->lock_fd, O_CLOEXEC);
	close(lfd);
}

/* Both ends are in shared memory: count them here. */
static int user_rings(struct xb_element *el, int fd, struct xbuf_rings *rg)
{
	(void)fd;
	rg->isize = el->info.ring[XBUF_INBOUND].capacity;
	rg->osize = el->info.ring[XBUF_OUTBOUND].capacity;
	rg->ifill = xb_fill(&el->end[XBUF_INBOUND][XB_CONSUMER]);
	rg->ofill = xb_fill(&el->end[XBUF_OUTBOUND][XB_CONSUMER]);
	return 0;
}

/* Ends. */

/* Read before the caller's last look at the ring: see user_sleep(). */
static uint32_t user_wait_token(void)
{
	return __atomic_load_n(&xb_local_gen, __ATOMIC_ACQUIRE);
}

/* The file offset of an endpoint's owner lock: its first byte (header pages map at their file offsets). */
static off_t lock_off(const struct xb_end *e, const struct xbuf_shm_endpoint *ep)
{
	return (off_t)((const char *)ep - (const char *)e->el->base);
}

/*
 * Has the process at the other end let go of it, or died? Costs no syscall
 * for a live peer: the watcher thread (peer.c) tells deaths. A peer that
 * let go is forgotten here, pidfd and all.
 */
static bool user_peer_gone(struct xb_end *e)
{
	uint32_t owner = load_acquire(&e->peer->owner);

	if (!owner || owner == (uint32_t)xb_self_pid())
		return false;
	if (owner == XBUF_OWNER_GONE) {
		xb_peer_unref(&e->peer_ref);	/* no syscall, and none at all once forgotten */
		return true;
	}
	return xb_peer_dead(&e->peer_ref, owner, &e->peer->owner, e->el->lock_fd,
			    lock_off(e, e->peer));
}

/*
 * Test hook: $XBUF_TEST_SLEEP_DELAY_US (read once) holds every sleep that
 * long between the caller's last look at the ring and the sleep's own
 * peer check, so a death that happens in between is first seen here
 * (test/c/t_peer_race.c). Costs a relaxed load per sleep, nothing on the
 * fast path.
 */
static long sleep_delay_us = -1;

static void test_sleep_delay(void)
{
	long us = __atomic_load_n(&sleep_delay_us, __ATOMIC_RELAXED);

	if (us < 0) {
		const char *env = getenv("XBUF_TEST_SLEEP_DELAY_US");

		us = env && *env ? strtol(env, NULL, 10) : 0;
		if (us < 0 || us > 10000000)
			us = 0;
		__atomic_store_n(&sleep_delay_us, us, __ATOMIC_RELAXED);
	}
	if (us) {
		struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

		nanosleep(&ts, NULL);
	}
}

/*
 * Sleep until one of the peers' seq moves, the process-local generation
 * moves (close, peer death), or the deadline passes. `gen` is
 * user_wait_token(), read before the caller's last check of the ring, so
 * nothing in between is missed. Returns 0 to re-check, or -EPIPE, -EBADF, -EINTR, -ETIMEDOUT.
 */
#define UNOWNED_RECHECK_MS	100

static int user_sleep(struct xb_handle *h, const struct xb_sleep_on *on, int n,
		      uint32_t gen, const struct timespec *deadline)
{
	struct futex_waitv w[3] = { 0 };
	struct timespec cap;
	bool unowned = false;
	int i;

	test_sleep_delay();
	if (__atomic_load_n(&h->closed, __ATOMIC_ACQUIRE))
		return -EBADF;
	for (i = 0; i < n; i++) {
		if (user_peer_gone(on[i].end))
			return -EPIPE;
		unowned |= !load_acquire(&on[i].peer->owner);
		w[i].uaddr = (uintptr_t)on[i].seq;
		w[i].val = on[i].val;
		w[i].flags = FUTEX_32;	/* shared: the word lives in a MAP_SHARED mapping */
	}
	w[n].uaddr = (uintptr_t)&xb_local_gen;
	w[n].val = gen;
	w[n].flags = FUTEX_32 | FUTEX_PRIVATE_FLAG;
	/*
	 * A peer end never held has no owner to watch: a process that claims
	 * it and dies between storing its pid and bumping seq (user_claim())
	 * would leave us asleep for ever, its death told to nobody. Then look
	 * again every UNOWNED_RECHECK_MS (a kill -9 loop of producers found it;
	 * test/c/t_claim_death.c). A watched owner costs nothing more.
	 */
	if (unowned) {
		clock_gettime(CLOCK_MONOTONIC, &cap);
		cap.tv_nsec += UNOWNED_RECHECK_MS * 1000000L;
		if (cap.tv_nsec >= 1000000000L) {
			cap.tv_sec++;
			cap.tv_nsec -= 1000000000L;
		}
		if (deadline && (deadline->tv_sec < cap.tv_sec ||
				 (deadline->tv_sec == cap.tv_sec && deadline->tv_nsec <= cap.tv_nsec)))
			unowned = false;	/* the caller's deadline comes first */
		else
			deadline = &cap;
	}

	if (syscall(SYS_futex_waitv, w, n + 1, 0, deadline, CLOCK_MONOTONIC) >= 0)
		return 0;
	switch (errno) {
	case EAGAIN:		/* a word moved before we slept */
		return 0;
	case EINTR:
		return -EINTR;
	case ETIMEDOUT:
		return unowned ? 0 : -ETIMEDOUT;	/* our own cap: re-check */
	default:
		return -errno;
	}
}

/* Take (F_WRLCK) or drop (F_UNLCK) this process's owner lock on end e. */
static int owner_lock(struct xb_end *e, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = lock_off(e, e->self), .l_len = 1 };

	if (fcntl(e->el->lock_fd, F_OFD_SETLK, &fl) < 0)
		return errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
	return 0;
}

/*
 * Claim the end for this process: its owner lock, then its pid in the
 * endpoint's owner word. A live holder of the lock makes the end busy
 * (-EBUSY); a dead one's lock went with it (the kernel's, whatever became
 * of its pid), so its end is taken over.
 *
 * The endpoint's words that were the old owner's are reset here: its
 * sleepers are gone (it died, or it let go after they left), so waiters
 * and wanted start at 0, or the consumer would count a writer stuck that
 * does not exist (a short read) and xbuf_stat show it. pos stays (the
 * stream goes on where it stood), and so do the counters; seq only moves
 * forward: a peer asleep on it compares it with what it saw.
 */
static int user_claim(struct xb_end *e)
{
	uint32_t me = (uint32_t)xb_self_pid();
	int ret;

	if (e->claimed)
		return 0;
	ret = owner_lock(e, F_WRLCK);
	if (ret)
		return ret;
	__atomic_store_n(&e->self->waiters, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->self->wanted, 0, __ATOMIC_RELAXED);
	/* Release: a peer that sees our pid sees the reset words (it loads the owner with acquire). */
	__atomic_store_n(&e->self->owner, me, __ATOMIC_RELEASE);
	/*
	 * K1, as a producer entering a wait does: a consumer asleep may have
	 * counted the dead owner's writer as stuck; it looks again.
	 */
	__atomic_fetch_add(&e->self->seq, 1, __ATOMIC_SEQ_CST);
	futex_wake_shared(&e->self->seq);
	e->claimed = true;
	return 0;
}

/*
 * Give up this process's claim on the end (the last handle of its side
 * went). The peer's sleepers are told: like a pipe's, its blocked calls
 * then fail with EPIPE (after the drain), until a new process takes the
 * end. The owner word says XBUF_OWNER_GONE before the lock goes, so a
 * peer never takes a clean departure for a death.
 */
static void user_release(struct xb_end *e)
{
	uint32_t me = (uint32_t)xb_self_pid();

	if (!e->claimed)
		return;
	e->claimed = false;
	if (__atomic_compare_exchange_n(&e->self->owner, &me, XBUF_OWNER_GONE, false,
					__ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
		__atomic_fetch_add(&e->self->seq, 1, __ATOMIC_SEQ_CST);
		futex_wake_shared(&e->self->seq);
	}
	owner_lock(e, F_UNLCK);
}

/* The peer sleeps in futex_waitv() on our seq, which the caller bumped. */
static void user_wake(struct xb_handle *h, struct xb_end *e)
{
	(void)h;
	futex_wake_shared(&e->self->seq);
}

/*
 * Every sleeper of this process also waits on xb_local_gen: bumping it
 * wakes the closed handle's sleepers, which then see h->closed (EBADF).
 */
static void user_cancel(struct xb_handle *h)
{
	(void)h;
	xb_local_wake();
}

const struct xb_backend_ops xb_user_ops = {
	.backend	= XBUF_BACKEND_USER,
	.local_driver	= true,
	.available	= user_available,
	.create		= user_create,
	.open		= user_open,
	.probe		= user_probe,
	.map		= user_map,
	.unmap		= user_unmap,
	.forked		= user_forked,
	.rings		= user_rings,
	.unlink		= user_unlink,
	.claim		= user_claim,
	.release	= user_release,
	.wait_token	= user_wait_token,
	.sleep		= user_sleep,
	.wake		= user_wake,
	.peer_gone	= user_peer_gone,
	.cancel		= user_cancel,
};
