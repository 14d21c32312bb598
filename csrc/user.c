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
 * own seq; each end a process uses holds its pid in the shared `owner`
 * word, which is how the peer tells that it let go or died (EPIPE).
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
	for (attempt = 0; attempt < 2; attempt++) {
		int old;

		if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
			return fd;
		if (errno != EEXIST)
			goto fail_errno;
		/* Taken: by a live creator, or left behind by a dead one? */
		old = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (old >= 0) {
			bool alive = creator_alive(old);

			close(old);
			if (alive)
				break;
		}
		unlink(path);
	}
	r = -EEXIST;
	goto fail;
fail_errno:
	r = -errno;
fail:
	close(fd);
	return r;
}

/* The creator's handle went: take the name off /dev/shm before the lock goes with the fd. */
static void user_unlink(const char *name)
{
	char path[SHM_PATH_MAX];

	shm_path(path, sizeof(path), name);
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
			user_unlink(req->name);
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

static int user_map(int fd, struct xb_element *el)
{
	int r = read_info(fd, &el->info);

	if (r)
		return r;
	r = map_element(fd, &el->info, &el->base);
	if (r)
		return r;
	el->map_size = el->info.map_size;
	return 0;
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

/*
 * Has the process at the other end let go of it, or died? Costs no syscall
 * for a live peer: the watcher thread (peer.c) tells deaths.
 */
static bool peer_gone(const struct xbuf_shm_endpoint *peer)
{
	uint32_t owner = load_acquire(&peer->owner);

	return owner && owner != (uint32_t)xb_self_pid() &&
	       (owner == XBUF_OWNER_GONE || xb_peer_dead((pid_t)owner));
}

static bool user_peer_gone(const struct xb_end *e)
{
	return peer_gone(e->peer);
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
static int user_sleep(struct xb_handle *h, const struct xb_sleep_on *on, int n,
		      uint32_t gen, const struct timespec *deadline)
{
	struct futex_waitv w[3] = { 0 };
	int i;

	test_sleep_delay();
	if (__atomic_load_n(&h->closed, __ATOMIC_ACQUIRE))
		return -EBADF;
	for (i = 0; i < n; i++) {
		if (peer_gone(on[i].peer))
			return -EPIPE;
		w[i].uaddr = (uintptr_t)on[i].seq;
		w[i].val = on[i].val;
		w[i].flags = FUTEX_32;	/* shared: the word lives in a MAP_SHARED mapping */
	}
	w[n].uaddr = (uintptr_t)&xb_local_gen;
	w[n].val = gen;
	w[n].flags = FUTEX_32 | FUTEX_PRIVATE_FLAG;

	if (syscall(SYS_futex_waitv, w, n + 1, 0, deadline, CLOCK_MONOTONIC) >= 0)
		return 0;
	switch (errno) {
	case EAGAIN:		/* a word moved before we slept */
		return 0;
	case EINTR:
		return -EINTR;
	case ETIMEDOUT:
		return -ETIMEDOUT;
	default:
		return -errno;
	}
}

/*
 * Claim the end for this process: its pid goes into the endpoint's owner
 * word, which is how the peer detects our death. A live process holding
 * it already makes the end busy; a dead one's claim is taken over.
 */
static int user_claim(struct xb_end *e)
{
	uint32_t me = (uint32_t)xb_self_pid();
	uint32_t cur;

	if (e->claimed)
		return 0;
	cur = load_acquire(&e->self->owner);
	for (;;) {
		if (cur != 0 && cur != XBUF_OWNER_GONE && cur != me && !xb_peer_dead((pid_t)cur))
			return -EBUSY;
		if (__atomic_compare_exchange_n(&e->self->owner, &cur, me, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			break;
	}
	e->claimed = true;
	return 0;
}

/*
 * Give up this process's claim on the end (the last handle of its side
 * went). The peer's sleepers are told: like a pipe's, its blocked calls
 * then fail with EPIPE, until a new process takes the end.
 */
static void user_release(struct xb_end *e)
{
	uint32_t me = (uint32_t)xb_self_pid();

	if (!e->claimed)
		return;
	e->claimed = false;
	if (!__atomic_compare_exchange_n(&e->self->owner, &me, XBUF_OWNER_GONE, false,
					 __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		return;
	__atomic_fetch_add(&e->self->seq, 1, __ATOMIC_SEQ_CST);
	futex_wake_shared(&e->self->seq);
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
