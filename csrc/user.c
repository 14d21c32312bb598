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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
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

/*
 * Locks on the object's first bytes (docs/ABI.md, "Peer death and
 * departure"; the ends' owner locks are on their endpoints' bytes):
 *   byte 0: the creator's write lock, on the description it created (the
 *           application, until a process claims an app end);
 *   byte 1: a read lock on every description the library knows of the
 *           element (each fd it created, opened or adopted, and each
 *           process's own lock_fd, which its mapping keeps): a name is
 *           live while anyone holds it, and the last one out removes it.
 * A private element's name is a file of its own at the same path, with
 * no element in it ("marker"), read-locked on byte 1 by its creator.
 */
#define CREATOR_BYTE	0
#define PRESENCE_BYTE	1

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

/* Take (F_RDLCK, F_WRLCK) or drop (F_UNLCK) a lock on byte `off` through fd's description. */
static int byte_lock(int fd, off_t off, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = off, .l_len = 1 };

	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/* Does a description other than fd's hold the name of the object (a presence lock)? */
static bool name_held(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = PRESENCE_BYTE, .l_len = 1 };

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return false;
	return fl.l_type != F_UNLCK;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/*
 * The name `path` is taken: take it off if nobody holds it any more (its
 * holders died). 1: we removed it, 0: it is gone (try the link again),
 * -EEXIST: a live element's (or a live private element's name).
 *
 * Atomic against other creators doing the same: we write-lock the
 * presence byte ourselves (one process gets it; a live holder's read
 * lock, or another reclaimer's, makes it fail), then remove the name only
 * if it still names the file we locked. Nobody can move a name from under
 * that lock but the one holding it, so a name just linked by another
 * creator (which holds its presence lock before it links) is never
 * removed: exactly one of racing creators wins.
 */
static int reclaim_stale(const char *path)
{
	struct stat locked, named;
	int old = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), r = 0;

	if (old < 0)
		return errno == ENOENT ? 0 : -EEXIST;
	if (byte_lock(old, PRESENCE_BYTE, F_WRLCK)) {
		close(old);
		return -EEXIST;	/* alive, or being reclaimed by a creator that will win */
	}
	if (fstat(old, &locked) == 0 && stat(path, &named) == 0 && same_file(&locked, &named) &&
	    unlink(path) == 0)
		r = 1;
	close(old);	/* drops our lock on the dead file, after its name went */
	return r;
}

/*
 * Link the initialized file fd (presence-locked) at the name's path: it
 * takes the name over from dead holders; -EEXIST if a live one has it.
 */
static int link_name(int fd, const char *name)
{
	char path[SHM_PATH_MAX], proc[64];
	int attempt;

	shm_path(path, sizeof(path), name);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	for (attempt = 0; attempt < 3; attempt++) {
		if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
		/* Taken: by a live element, or left behind by dead ones? */
		if (reclaim_stale(path) < 0)
			break;
	}
	return -EEXIST;
}

/*
 * Remove the name of fd's file if it still names it and fd's
 * description is the last to hold it: upgrading our own presence lock
 * to a write lock succeeds only then. Two holders leaving at once may
 * both see the other: the name is then stale, and reclaimed by the next
 * create, xbuf_reclaim() or xbuf_gc().
 */
static void unlink_if_last(int fd, const char *name)
{
	char path[SHM_PATH_MAX];
	struct stat ours, named;

	if (!name[0] || byte_lock(fd, PRESENCE_BYTE, F_WRLCK))
		return;
	shm_path(path, sizeof(path), name);
	if (fstat(fd, &ours) == 0 && stat(path, &named) == 0 && same_file(&ours, &named))
		unlink(path);
}

int xbuf_reclaim(const char *name)
{
	char path[SHM_PATH_MAX];
	int r;

	if (!name)
		return -EINVAL;
	if (name[0] == '/')
		name++;
	r = xbuf_abi_check_name(name, 1);
	if (r)
		return r;
	shm_path(path, sizeof(path), name);
	r = reclaim_stale(path);
	return r == -EEXIST ? 0 : r;
}

int xbuf_gc(void)
{
	DIR *dir = opendir(SHM_DIR);
	struct dirent *de;
	int n = 0;

	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		const char *name = de->d_name + strlen(SHM_PREFIX);

		if (strncmp(de->d_name, SHM_PREFIX, strlen(SHM_PREFIX)) || xbuf_abi_check_name(name, 1))
			continue;
		n += xbuf_reclaim(name) == 1;
	}
	closedir(dir);
	return n;
}

/*
 * A private element's name, held while its creator process has the
 * element: an empty file at the name's path, read-locked on byte 1. Its
 * fd goes from user_create() to the user_map() of the same fd, on the
 * same thread, through pending_marker.
 */
static __thread struct { int fd, marker; } pending_marker = { -1, -1 };

static int make_marker(const char *name)
{
	int fd = open(SHM_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600), r;

	if (fd < 0)
		return -errno;
	r = byte_lock(fd, PRESENCE_BYTE, F_RDLCK);
	if (!r)
		r = link_name(fd, name);
	if (r) {
		close(fd);
		return r;
	}
	return fd;
}

/* Create the object: a memfd, or an initialized file linked into /dev/shm. */
static int create_object(const struct xbuf_shm_info *info, const char *name, bool public)
{
	uint32_t me = (uint32_t)xb_self_pid();
	int fd, r;

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
	    pwrite(fd, info, sizeof(*info), 0) != (ssize_t)sizeof(*info) ||
	    pwrite(fd, &me, sizeof(me), (off_t)XBUF_APP_PAGE * info->page_size +
		   offsetof(struct xbuf_shm_side, creator)) != (ssize_t)sizeof(me))
		goto fail_errno;
	/* The creator's lock, and the name's presence lock, before anyone can see the object. */
	r = byte_lock(fd, CREATOR_BYTE, F_WRLCK);
	if (!r)
		r = byte_lock(fd, PRESENCE_BYTE, F_RDLCK);
	if (r)
		goto fail;
	if (!public) {
		fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
		if (name[0]) {
			int marker = make_marker(name);

			if (marker < 0) {
				r = marker;
				goto fail;
			}
			pending_marker.fd = fd;
			pending_marker.marker = marker;
		}
		return fd;
	}
	r = link_name(fd, name);
	if (!r)
		return fd;
	goto fail;
fail_errno:
	r = -errno;
fail:
	close(fd);
	return r;
}

/* A create that failed after its name was linked: take it off again. */
static void unlink_failed(const struct xb_create_req *req, int fd)
{
	if (req->public)
		unlink_if_last(fd, req->name);
	if (pending_marker.fd == fd) {
		unlink_if_last(pending_marker.marker, req->name);
		close(pending_marker.marker);
		pending_marker.fd = pending_marker.marker = -1;
	}
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
		unlink_failed(req, fd);
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
	/* Our own hold first, then is anyone else's there: then the name cannot go meanwhile. */
	if (byte_lock(fd, PRESENCE_BYTE, F_RDLCK) || !name_held(fd)) {
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

/* The public name of fd's object, from the path the kernel knows for it; "" if none. */
static void name_of(int fd, char *name, size_t len)
{
	char proc[64], link[SHM_PATH_MAX + 16];
	ssize_t n;

	name[0] = 0;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, link, sizeof(link) - 1);
	if (n <= 0)
		return;
	link[n] = 0;
	if (strncmp(link, SHM_DIR SHM_PREFIX, strlen(SHM_DIR SHM_PREFIX)) || strchr(link, ' '))
		return;	/* not in /dev/shm, or " (deleted)" */
	n = (ssize_t)strnlen(link + strlen(SHM_DIR SHM_PREFIX), len - 1);
	memcpy(name, link + strlen(SHM_DIR SHM_PREFIX), (size_t)n);
	name[n] = 0;
}

static int user_map(int fd, struct xb_element *el)
{
	int r = read_info(fd, &el->info);

	if (r)
		return r;
	el->lock_fd = own_description(fd);
	if (el->lock_fd < 0)
		return -errno;
	/* Our mapping holds the name too, while any of our handles or holds lives. */
	byte_lock(el->lock_fd, PRESENCE_BYTE, F_RDLCK);
	r = map_element(fd, &el->info, &el->base);
	if (r) {
		close(el->lock_fd);
		return r;
	}
	el->map_size = el->info.map_size;
	name_of(fd, el->shm_name, sizeof(el->shm_name));
	el->marker_fd = -1;
	if (pending_marker.fd == fd) {
		el->marker_fd = pending_marker.marker;
		pending_marker.fd = pending_marker.marker = -1;
	}
	return 0;
}

/*
 * The last handle of the element went (mapping holds may remain, e.g. a
 * garbage-collected runtime's views): a private element's name goes now,
 * so that the name can be created again at once.
 */
static void user_closed(struct xb_element *el)
{
	if (el->marker_fd < 0)
		return;
	unlink_if_last(el->marker_fd, el->name);
	close(el->marker_fd);
	el->marker_fd = -1;
}

static void user_unmap(struct xb_element *el)
{
	int ring, role;

	for (ring = 0; ring < 2; ring++)
		for (role = 0; role < 2; role++) {
			xb_peer_unref(&el->end[ring][role].peer_ref);
			xb_peer_unref(&el->end[ring][role].creator_ref);
		}
	munmap(el->base, el->map_size);
	/* The name we know it by (a created file's own path says "#<ino> (deleted)"): only if it names our file. */
	unlink_if_last(el->lock_fd, el->shm_name[0] ? el->shm_name : el->name);
	close(el->lock_fd);	/* drops any lock still held (none: the ends were released) */
	user_closed(el);
}

/*
 * A new fd of the element in this process (created, opened, adopted):
 * it holds the name (byte 1), and read(2)/write(2) on it must not reach
 * the object: its file position goes to the largest one, where read(2)
 * and write(2) of any count fail with EINVAL (the position
 * is its open file description's: dups, fork children and receivers of
 * the fd share it). pread(2)/pwrite(2) address the object itself, as
 * stores into the mapping would.
 */
static void user_adopt(int fd, struct xb_element *el)
{
	(void)el;
	byte_lock(fd, PRESENCE_BYTE, F_RDLCK);
	lseek(fd, LLONG_MAX, SEEK_SET);
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

	el->created = false;	/* the creator is the parent */
	if (el->marker_fd >= 0) {
		close(el->marker_fd);	/* the private name is the parent's: not ours to remove */
		el->marker_fd = -1;
	}
	if (lfd < 0)
		return;
	dup3(lfd, el->lock_fd, O_CLOEXEC);
	close(lfd);
	byte_lock(el->lock_fd, PRESENCE_BYTE, F_RDLCK);	/* our new description holds the name too */
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
/* The app page's creator word of e's element. */
static uint32_t *creator_word(const struct xb_end *e)
{
	return &((struct xbuf_shm_side *)((char *)e->el->base +
					  XBUF_APP_PAGE * e->el->info.page_size))->creator;
}

/*
 * Has the application side left, as the driver end e sees it? Nobody
 * stands for it: no live process holds the app end (it let go, died, or
 * none claimed it), and the creator is gone too (closed: XBUF_OWNER_GONE
 * in the creator word; or dead: its lock on byte 0 is free). While the
 * creator lives, the element lives (EVL: while an fd is open), and the
 * driver waits for whoever uses the app end next.
 */
static bool app_left(struct xb_end *e, uint32_t owner)
{
	uint32_t *word = creator_word(e), creator;

	if (owner && owner != XBUF_OWNER_GONE) {
		if (owner == (uint32_t)xb_self_pid())
			return false;
		if (!xb_peer_dead(&e->peer_ref, owner, &e->peer->owner, e->el->lock_fd, lock_off(e, e->peer)))
			return false;
	} else {
		xb_peer_unref(&e->peer_ref);
	}
	creator = load_acquire(word);
	if (!creator || creator == XBUF_OWNER_GONE)
		return true;
	if (creator == (uint32_t)xb_self_pid())
		return false;	/* we created it: our own close says XBUF_OWNER_GONE */
	return xb_peer_dead(&e->creator_ref, creator, word, e->el->lock_fd, CREATOR_BYTE);
}

static bool user_peer_gone(struct xb_end *e)
{
	uint32_t owner = load_acquire(&e->peer->owner);

	if (xb_end_side(e) == XBUF_SIDE_DRIVER)
		return app_left(e, owner);
	if (!owner) {
		xb_peer_unref(&e->peer_ref);	/* the driver let go without ending the stream: wait */
		return false;
	}
	if (owner == (uint32_t)xb_self_pid())
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
	struct futex_waitv w[XB_SLEEP_MAX + 1];
	struct timespec cap;
	bool unowned = false;
	int i;

	memset(w, 0, sizeof(*w) * (size_t)(n + 1));
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
	 * again every UNOWNED_RECHECK_MS (test/reliability/c/crash.c found it;
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
 * does not exist (a short read) and xbuf_stat show it; unless the old
 * owner was this process and calls of it still sleep (the words are
 * theirs: called with the end's lock held, e->sleepers says). pos stays (the
 * stream goes on where it stood), and so do the counters; seq only moves
 * forward: a peer asleep on it compares it with what it saw.
 */
/* Take the end for this process: its OFD write lock, then the words a peer reads. */
static int claim_end(struct xb_end *e)
{
	uint32_t me = (uint32_t)xb_self_pid();
	int ret;

	if (e->claimed)
		return 0;
	ret = owner_lock(e, F_WRLCK);
	if (ret)
		return ret;
	if (!e->sleepers) {
		/*
		 * An old owner's words. Ours stay: a call of this process
		 * asleep across its own evl_shutdown_xbuf() and this claim is
		 * still registered, and the peer's K1 must keep seeing it
		 * (t_claim_reset; the model's SHUTDOWN, MUT_CLAIM_RESET).
		 */
		__atomic_store_n(&e->self->waiters, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&e->self->wanted, 0, __ATOMIC_RELAXED);
	}
	/* How our sleepers pair with the peer's K1 (fence.c): a dead holder's word is not ours. */
	__atomic_store_n(&e->self->fence, xb_fence_ready() ? XBUF_FENCE_MEMBARRIER : 0, __ATOMIC_RELAXED);
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

static int user_claim(struct xb_end *e)
{
	int ret;

	if (e->claimed)
		return 0;	/* every call comes here: nothing more on the hot path */
	ret = claim_end(e);
	if (!ret && xb_end_side(e) == XBUF_SIDE_DRIVER) {
		/*
		 * A driver back after evl_shutdown_xbuf() starts a new stream
		 * both ways (xbuf.ko's rule too): its other end, ended and held
		 * by nobody since, reads as never held, so an application
		 * write before the driver's first read there is no EPIPE.
		 */
		struct xb_end *o = xb_end_of(e->el, XBUF_SIDE_DRIVER, !e->ring);
		uint32_t gone = XBUF_OWNER_GONE;

		if (o->data)
			__atomic_compare_exchange_n(&o->self->owner, &gone, 0, false,
						    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
	}
	return ret;
}

/*
 * Give up this process's claim on the end (the last handle of its side
 * went). The peer's sleepers are told: like a pipe's, its blocked calls
 * then fail with EPIPE (after the drain), until a new process takes the
 * end. The owner word says XBUF_OWNER_GONE before the lock goes, so a
 * peer never takes a clean departure for a death.
 */
static void let_go(struct xb_end *e, uint32_t from, uint32_t to)
{
	if (__atomic_compare_exchange_n(&e->self->owner, &from, to, false,
					__ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
		__atomic_fetch_add(&e->self->seq, 1, __ATOMIC_SEQ_CST);
		futex_wake_shared(&e->self->seq);
	}
}

static void user_release(struct xb_end *e)
{
	uint32_t me = (uint32_t)xb_self_pid();
	bool app = xb_end_side(e) == XBUF_SIDE_APP;

	if (app && e->el->created) {
		/*
		 * The creator's last handle went: it no longer stands for the
		 * application. Once no live process holds the app ends either,
		 * the driver's calls fail with EIDRM; its sleepers look again.
		 */
		uint32_t *word = creator_word(e), pid = me;

		__atomic_compare_exchange_n(word, &pid, XBUF_OWNER_GONE, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
		if (!e->claimed) {
			__atomic_fetch_add(&e->self->seq, 1, __ATOMIC_SEQ_CST);
			futex_wake_shared(&e->self->seq);
		}
	}
	if (!e->claimed)
		return;
	e->claimed = false;
	/*
	 * The application leaving ends the driver's calls (EIDRM); the driver
	 * dropping its last reference ends nothing (EVL: evl_put_xbuf()): the
	 * end is free again (owner 0) and the application keeps waiting. Only
	 * evl_shutdown_xbuf() (user_shutdown()) or its death ends the stream.
	 */
	let_go(e, me, app ? XBUF_OWNER_GONE : 0);
	owner_lock(e, F_UNLCK);
}

/* evl_shutdown_xbuf(): the driver ends the stream on end e (claimed for it). */
static int user_shutdown(struct xb_end *e)
{
	uint32_t me = (uint32_t)xb_self_pid();
	int ret = e->claimed ? 0 : claim_end(e);	/* not user_claim(): that would revive the other end */

	if (ret)
		return ret;
	e->claimed = false;
	let_go(e, me, XBUF_OWNER_GONE);
	owner_lock(e, F_UNLCK);
	return 0;
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
	.unlink		= NULL,	/* the last holder removes the name (user_unmap()) */
	.adopt		= user_adopt,
	.closed		= user_closed,
	.shutdown	= user_shutdown,
	.claim		= user_claim,
	.release	= user_release,
	.wait_token	= user_wait_token,
	.sleep		= user_sleep,
	.wake		= user_wake,
	.peer_gone	= user_peer_gone,
	.cancel		= user_cancel,
};
