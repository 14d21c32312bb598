// SPDX-License-Identifier: MIT
/*
 * xbuf.c - elements and handles, the user-space backend's objects, the
 * choice of backend, and the application (in-band) side API.
 *
 * Backends: an element is served either by this library (below) or by the
 * kernel module xbuf.ko (kernel.c). Both map the same layout, and the
 * engine of ring.c serves the application side of both through the
 * element's struct xb_backend_ops; this file only picks the backend at
 * create/open time and finds which one an fd belongs to.
 *
 * An element is a memfd (private) or a file in /dev/shm named
 * "xbuf.<name>" (public), laid out as xbuf_abi.h draws it. The creator of a
 * public element holds an OFD write lock on its first byte for as long as
 * the element lives: a name whose lock is free belongs to a dead creator
 * (the kernel drops the lock when the process dies), so xbuf_open() treats
 * it as gone and xbuf_create() reuses it.
 *
 * Handles live in a table indexed by fd. A call takes a reference on its
 * handle, so xbuf_close() on another thread never frees memory under it;
 * the fd itself is closed when the last reference goes.
 *
 * The lookup of every call takes no lock: the table is made of chunks that
 * are never freed, and handles are type-stable (a dead handle goes to a
 * free list, never back to malloc), so a reader holding a stale pointer
 * still reads a handle. It takes a reference only from a live count
 * (never from 0), then checks the slot still holds that handle; otherwise
 * it drops the reference and looks again. Everything else (install,
 * close, elements) is under table_lock.
 *
 * A closed handle keeps its slot until its fd is really closed (the last
 * reference, under table_lock): lookups then say EBADF, and nobody adopts
 * the fd number as a new element while it still names the old one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

#define SHM_DIR		"/dev/shm/"
#define SHM_PREFIX	"xbuf."
#define SHM_PATH_MAX	(sizeof(SHM_DIR SHM_PREFIX) + XBUF_NAME_MAX + 8)

#define TABLE_CHUNK	1024	/* slots per chunk */
#define TABLE_CHUNKS	4096	/* fds up to 4M */

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xb_handle **table[TABLE_CHUNKS];	/* chunks of slots, indexed by fd */
static struct xb_handle *free_handles;	/* dead handles to reuse; under table_lock */
static struct xb_element *elements;	/* mapped in this process */

/* The slot of fd, or NULL when no handle ever had an fd in its chunk. */
static struct xb_handle **slot_of(int fd)
{
	struct xb_handle **chunk;

	if (fd < 0 || fd >= TABLE_CHUNK * TABLE_CHUNKS)
		return NULL;
	chunk = __atomic_load_n(&table[fd / TABLE_CHUNK], __ATOMIC_ACQUIRE);
	return chunk ? &chunk[fd % TABLE_CHUNK] : NULL;
}

/* Layout: the info page for two capacities (see xbuf_abi.h). */
static void layout(struct xbuf_shm_info *info, uint64_t icap, uint64_t ocap, uint32_t page)
{
	uint64_t caps[2] = { icap, ocap };
	uint64_t file_off = (uint64_t)XBUF_HEADER_PAGES * page;
	uint64_t map_off = file_off;
	int r;

	memset(info, 0, sizeof(*info));
	info->magic = XBUF_MAGIC;
	info->abi_version = XBUF_ABI_VERSION;
	info->page_size = page;
	info->header_pages = XBUF_HEADER_PAGES;
	for (r = 0; r < 2; r++) {
		struct xbuf_shm_ring_info *ri = &info->ring[r];
		uint64_t size = 0;

		if (caps[r]) {
			size = page;
			while (size < caps[r])
				size <<= 1;
		}
		ri->capacity = caps[r];
		ri->data_size = size;
		ri->data_file_off = size ? file_off : 0;
		ri->data_map_off = size ? map_off : 0;
		file_off += size;
		map_off += 2 * size;
	}
	info->file_size = file_off;
	info->map_size = map_off;
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

/* Read and check the info page of fd: it must be exactly what layout() makes. */
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
	layout(&expect, info->ring[0].capacity, info->ring[1].capacity, info->page_size);
	if (memcmp(&expect, info, sizeof(expect)) || (uint64_t)st.st_size != info->file_size)
		return -EPROTO;
	return 0;
}

/*
 * Find or map the element behind fd; called with table_lock held.
 * One struct xb_element per element and process, whatever fds lead to it:
 * a user-space object is known by its inode, a kernel element by its id
 * (all clone fds share one anon inode; the id is unique while we map it).
 */
static int element_get(int fd, struct xb_element **elp)
{
	struct xb_element *el;
	struct stat st;
	uint32_t kid = 0;
	bool kernel;
	int r, ring, role;

	if (fstat(fd, &st) < 0)
		return -EBADF;
	kernel = xb_kernel_probe(fd, &st, &kid);
	for (el = elements; el; el = el->next)
		if (kernel ? el->ops == &xb_kernel_ops && el->kid == kid :
			     el->ops == &xb_user_ops && el->dev == st.st_dev && el->ino == st.st_ino) {
			el->refs++;
			*elp = el;
			return 0;
		}
	el = calloc(1, sizeof(*el));
	if (!el)
		return -ENOMEM;
	if (kernel) {
		r = xb_kernel_map(fd, el);
		if (r)
			goto fail;
	} else {
		r = read_info(fd, &el->info);
		if (r)
			goto fail;
		r = map_element(fd, &el->info, &el->base);
		if (r)
			goto fail;
		el->ops = &xb_user_ops;
		el->map_size = el->info.map_size;
		el->dev = st.st_dev;
		el->ino = st.st_ino;
	}
	el->refs = 1;
	for (ring = 0; ring < 2; ring++)
		for (role = 0; role < 2; role++)
			xb_end_init(&el->end[ring][role], el, ring,
				    role, role == XB_PRODUCER ? XBUF_PRODUCER_SIDE(ring) : XBUF_CONSUMER_SIDE(ring));
	el->next = elements;
	elements = el;
	*elp = el;
	return 0;
fail:
	free(el);
	return r;
}

/*
 * Drop an element reference of a handle of `side`, or a mapping hold
 * (side -1); called with table_lock held.
 */
static void element_put(struct xb_element *el, int side)
{
	struct xb_element **pp;
	int ring;

	if (side >= 0 && --el->side_refs[side] == 0)
		for (ring = 0; ring < 2; ring++)
			xb_end_release(xb_end_of(el, side, ring));
	if (--el->refs)
		return;
	for (pp = &elements; *pp; pp = &(*pp)->next)
		if (*pp == el) {
			*pp = el->next;
			break;
		}
	munmap(el->base, el->map_size);
	free(el);
}

/* Enter h at its fd; called with table_lock held. */
static int table_insert(struct xb_handle *h)
{
	struct xb_handle **chunk, **slot;

	if (h->fd >= TABLE_CHUNK * TABLE_CHUNKS)
		return -EMFILE;
	slot = slot_of(h->fd);
	if (!slot) {
		chunk = calloc(TABLE_CHUNK, sizeof(*chunk));
		if (!chunk)
			return -ENOMEM;
		/* Pairs with the acquire in slot_of(): readers see a zeroed chunk. */
		__atomic_store_n(&table[h->fd / TABLE_CHUNK], chunk, __ATOMIC_RELEASE);
		slot = &chunk[h->fd % TABLE_CHUNK];
	}
	/* Pairs with the acquire in handle_lookup(): a reader sees h initialized. */
	__atomic_store_n(slot, h, __ATOMIC_RELEASE);
	return 0;
}

/* A handle with one reference; called with table_lock held. */
static struct xb_handle *handle_alloc(struct xb_element *el, int fd, int side)
{
	struct xb_handle *h = free_handles;

	if (h) {
		free_handles = h->next_free;
		/* Stale lookups may still read refs and closed: atomics, not the memset. */
		__atomic_store_n(&h->closed, false, __ATOMIC_RELAXED);
		memset(&h->next_free, 0, sizeof(*h) - offsetof(struct xb_handle, next_free));
	} else {
		h = calloc(1, sizeof(*h));
		if (!h)
			return NULL;
	}
	h->fd = fd;
	h->side = side;
	h->el = el;
	h->notify.pipe_rd = h->notify.pipe_wr = -1;
	pthread_mutex_init(&h->notify.lock, NULL);
	pthread_cond_init(&h->notify.cond, NULL);
	el->side_refs[side]++;
	__atomic_store_n(&h->refs, 1, __ATOMIC_RELEASE);
	return h;
}

/* Back to the free list; called with table_lock held. */
static void handle_free(struct xb_handle *h)
{
	h->next_free = free_handles;
	free_handles = h;
}

/* Wrap an element fd in an application handle and enter it in the table. */
static int handle_install(int fd, bool public_creator, const char *name)
{
	struct xb_element *el;
	struct xb_handle *h;
	int r;

	pthread_mutex_lock(&table_lock);
	if (slot_of(fd) && *slot_of(fd)) {
		pthread_mutex_unlock(&table_lock);
		return 0;
	}
	r = element_get(fd, &el);
	if (r)
		goto out;
	h = handle_alloc(el, fd, XBUF_SIDE_APP);
	if (!h) {
		el->side_refs[XBUF_SIDE_APP]++;	/* balanced by element_put() */
		element_put(el, XBUF_SIDE_APP);
		r = -ENOMEM;
		goto out;
	}
	h->owns_fd = true;
	h->public_creator = public_creator;
	if (name && !el->name[0] && el->ops == &xb_user_ops)
		snprintf(el->name, sizeof(el->name), "%s", name);	/* a kernel element knows its own */
	r = table_insert(h);
	if (r) {
		element_put(el, XBUF_SIDE_APP);
		__atomic_store_n(&h->refs, 0, __ATOMIC_RELAXED);
		handle_free(h);
	}
out:
	pthread_mutex_unlock(&table_lock);
	return r;
}

/*
 * The handle behind fd, with a reference. An fd this process has not seen
 * yet (inherited, passed over a socket) is adopted if it is an element.
 */
/* The live handle of fd with a reference; NULL, and *closing if fd's handle is being closed. */
static struct xb_handle *handle_lookup(int fd, bool *closing)
{
	struct xb_handle **slot = slot_of(fd), *h;
	int refs;

	*closing = false;
	if (!slot)
		return NULL;
	for (;;) {
		h = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
		if (!h)
			return NULL;
		if (__atomic_load_n(&h->closed, __ATOMIC_ACQUIRE)) {
			*closing = true;
			return NULL;
		}
		refs = __atomic_load_n(&h->refs, __ATOMIC_RELAXED);
		do {
			if (!refs)
				break;	/* dying: the slot no longer holds it, look again */
		} while (!__atomic_compare_exchange_n(&h->refs, &refs, refs + 1, true,
						      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
		if (!refs)
			continue;
		if (__atomic_load_n(slot, __ATOMIC_ACQUIRE) == h)
			return h;
		xb_handle_put(h);	/* a reused handle, not fd's any more */
	}
}

struct xb_handle *xb_handle_get(int fd)
{
	struct xb_handle *h;
	bool closing;

	if (fd < 0)
		return NULL;
	h = handle_lookup(fd, &closing);
	if (h || closing || handle_install(fd, false, NULL))
		return h;
	return handle_lookup(fd, &closing);
}

static void shm_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, SHM_DIR SHM_PREFIX "%s", name);
}

/* The handle is going: its blocked calls and armed wait end with EBADF. */
void xb_handle_cancel(struct xb_handle *h)
{
	__atomic_store_n(&h->closed, true, __ATOMIC_RELEASE);
	xb_local_wake();
	h->el->ops->cancel(h);
}

void xb_handle_put(struct xb_handle *h)
{
	if (__atomic_fetch_sub(&h->refs, 1, __ATOMIC_ACQ_REL) != 1)
		return;
	xb_notifier_stop(&h->notify);
	if (h->public_creator) {
		char path[SHM_PATH_MAX];

		shm_path(path, sizeof(path), h->el->name);
		unlink(path);	/* before the lock goes with the fd: no reuse race */
	}
	pthread_mutex_destroy(&h->notify.lock);
	pthread_cond_destroy(&h->notify.cond);
	pthread_mutex_lock(&table_lock);
	if (h->owns_fd) {
		struct xb_handle **slot = slot_of(h->fd);

		/* Slot and fd go together, under the lock that adoption takes. */
		if (slot && *slot == h)
			__atomic_store_n(slot, NULL, __ATOMIC_RELEASE);
		close(h->fd);
	}
	element_put(h->el, h->side);
	handle_free(h);
	pthread_mutex_unlock(&table_lock);
}

/* A driver-side reference to the element of an application handle. */
struct xb_handle *xb_handle_new_driver(struct xb_handle *app)
{
	struct xb_handle *h;

	pthread_mutex_lock(&table_lock);
	app->el->refs++;
	h = handle_alloc(app->el, -1, XBUF_SIDE_DRIVER);
	if (!h) {
		app->el->side_refs[XBUF_SIDE_DRIVER]++;
		element_put(app->el, XBUF_SIDE_DRIVER);
	}
	pthread_mutex_unlock(&table_lock);
	return h;
}

/* After fork(): claims name the parent's pid, and the parent's threads are gone. */
void xb_atfork_child_elements(void)
{
	struct xb_element *el;
	int i, ring, role;

	for (el = elements; el; el = el->next)
		for (ring = 0; ring < 2; ring++)
			for (role = 0; role < 2; role++)
				el->end[ring][role].claimed = false;
	for (i = 0; i < TABLE_CHUNK * TABLE_CHUNKS; i += TABLE_CHUNK) {
		struct xb_handle **chunk = table[i / TABLE_CHUNK];

		for (int k = 0; chunk && k < TABLE_CHUNK; k++)
			if (chunk[k])
				chunk[k]->notify.started = false;
	}
}

int xb_fd_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_NONBLOCK);
}

/* Validate a name: no '/', not "." or "..", at most XBUF_NAME_MAX bytes. */
static int check_name(const char *name)
{
	size_t len = strlen(name);

	if (len > XBUF_NAME_MAX)
		return -ENAMETOOLONG;
	if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
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

/* $XBUF_BACKEND, read once: 0 auto, else XBUF_BACKEND_USER / _KERNEL. */
static int env_backend(void)
{
	static int cached = -1;
	int b = __atomic_load_n(&cached, __ATOMIC_RELAXED);

	if (b < 0) {
		const char *env = getenv("XBUF_BACKEND");

		b = 0;	/* unset, "auto", or anything unknown */
		if (env && !strcmp(env, "user"))
			b = XBUF_BACKEND_USER;
		else if (env && !strcmp(env, "kernel"))
			b = XBUF_BACKEND_KERNEL;
		__atomic_store_n(&cached, b, __ATOMIC_RELAXED);
	}
	return b;
}

/*
 * The backend a create or open asks for: the flags, else the environment;
 * 0 = auto. -EINVAL for both flags.
 */
static int wanted_backend(int flags)
{
	if ((flags & XBUF_CLONE_USER) && (flags & XBUF_CLONE_KERNEL))
		return -EINVAL;
	if (flags & XBUF_CLONE_USER)
		return XBUF_BACKEND_USER;
	if (flags & XBUF_CLONE_KERNEL)
		return XBUF_BACKEND_KERNEL;
	return env_backend();
}

int xbuf_backend(int fd)
{
	struct xb_handle *h = xb_handle_get(fd);
	int b;

	if (!h)
		return -EBADF;
	b = h->el->ops->backend;
	xb_handle_put(h);
	return b;
}

#define XBUF_CLONE_BACKENDS	(XBUF_CLONE_USER | XBUF_CLONE_KERNEL)

int xbuf_create(size_t i_bufsz, size_t o_bufsz, int flags, const char *fmt, ...)
{
	char name[XBUF_NAME_MAX + 2] = "";
	struct xbuf_shm_info info;
	const char *bare = name;
	bool public;
	long page;
	int fd, r, backend;

	if (flags & ~(XBUF_CLONE_PUBLIC | XBUF_CLONE_NONBLOCK | XBUF_CLONE_BACKENDS))
		return -EINVAL;
	backend = wanted_backend(flags);
	if (backend < 0)
		return backend;
	if ((!i_bufsz && !o_bufsz) || i_bufsz > XBUF_MAX_RING_SIZE || o_bufsz > XBUF_MAX_RING_SIZE)
		return -EINVAL;
	if (fmt) {
		va_list ap;
		int len;

		va_start(ap, fmt);
		len = vsnprintf(name, sizeof(name), fmt, ap);
		va_end(ap);
		if (len < 0)
			return -EINVAL;
		if ((size_t)len >= sizeof(name) - (name[0] == '/' ? 0 : 1))
			return -ENAMETOOLONG;
	}
	public = (flags & XBUF_CLONE_PUBLIC) || name[0] == '/';
	if (name[0] == '/')
		bare++;
	r = check_name(bare);
	if (r)
		return r;
	if (public && !*bare)
		return -EINVAL;

	if (backend == XBUF_BACKEND_KERNEL || (!backend && xb_kernel_available())) {
		fd = xb_kernel_create(i_bufsz, o_bufsz, public, flags & XBUF_CLONE_NONBLOCK, bare);
		if (fd < 0)
			return fd;
		r = handle_install(fd, false, bare);	/* the kernel unlists the name itself */
		if (r) {
			close(fd);
			return r;
		}
		return fd;
	}

	page = sysconf(_SC_PAGESIZE);
	layout(&info, i_bufsz, o_bufsz, (uint32_t)page);
	fd = create_object(&info, bare, public);
	if (fd < 0)
		return fd;
	if ((flags & XBUF_CLONE_NONBLOCK) && fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	r = handle_install(fd, public, bare);
	if (r)
		goto fail;
	return fd;
fail:
	if (public) {
		char path[SHM_PATH_MAX];

		shm_path(path, sizeof(path), bare);
		unlink(path);
	}
	close(fd);
	return r;
}

int xbuf_open(const char *name, int flags)
{
	char path[SHM_PATH_MAX];
	int fd, r, backend;

	if (!name)
		return -EINVAL;
	if (flags & ~(XBUF_CLONE_NONBLOCK | XBUF_CLONE_BACKENDS))
		return -EINVAL;
	backend = wanted_backend(flags);
	if (backend < 0)
		return backend;
	if (name[0] == '/')
		name++;
	r = check_name(name);
	if (r)
		return r;
	if (!*name)
		return -EINVAL;
	/* auto: the kernel's name space first, then ours. */
	if (backend == XBUF_BACKEND_KERNEL || (!backend && xb_kernel_available())) {
		fd = xb_kernel_open(name, flags & XBUF_CLONE_NONBLOCK);
		if (fd >= 0) {
			r = handle_install(fd, false, name);
			if (r) {
				close(fd);
				return r == -EBADF ? -ENOENT : r;
			}
			return fd;
		}
		if (backend == XBUF_BACKEND_KERNEL || fd != -ENOENT)
			return fd;
	}
	shm_path(path, sizeof(path), name);
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW |
		  ((flags & XBUF_CLONE_NONBLOCK) ? O_NONBLOCK : 0));
	if (fd < 0)
		return -errno;
	if (!creator_alive(fd)) {
		close(fd);
		return -ENOENT;
	}
	r = handle_install(fd, false, name);
	if (r) {
		close(fd);
		return r == -EBADF ? -ENOENT : r;
	}
	return fd;
}

int xbuf_close(int fd)
{
	struct xb_handle *h = NULL;

	struct xb_handle **slot;

	pthread_mutex_lock(&table_lock);
	slot = slot_of(fd);
	if (slot && (h = *slot) && !h->closed)
		__atomic_store_n(&h->closed, true, __ATOMIC_RELEASE);	/* the slot stays: see above */
	else
		h = NULL;
	pthread_mutex_unlock(&table_lock);
	if (!h)
		return -EBADF;
	xb_handle_cancel(h);	/* its sleepers wake with EBADF */
	xb_handle_put(h);
	return 0;
}

/*
 * read(2)/write(2) semantics. The fd's O_NONBLOCK matters only when the
 * call cannot complete at once, so the fast path costs no fcntl().
 */
static ssize_t app_read_begin(struct xb_handle *h, size_t count, const void **data)
{
	struct xb_end *e = xb_end_of(h->el, XBUF_SIDE_APP, XBUF_INBOUND);
	ssize_t n = xb_read_begin(h, e, count, XB_NOWAIT, data);

	if (n != -EAGAIN && n != -EINVAL)
		return n;
	return xb_read_begin(h, e, count, xb_fd_nonblocking(h->fd) ? XB_NONBLOCK : XB_BLOCK, data);
}

static ssize_t app_write_begin(struct xb_handle *h, size_t count, void **data)
{
	struct xb_end *e = xb_end_of(h->el, XBUF_SIDE_APP, XBUF_OUTBOUND);
	ssize_t n = xb_write_begin(h, e, count, XB_NOWAIT, data);

	if (n != -EAGAIN)
		return n;
	return xb_write_begin(h, e, count, xb_fd_nonblocking(h->fd) ? XB_NONBLOCK : XB_BLOCK, data);
}

static ssize_t set_errno(ssize_t r)
{
	if (r >= 0)
		return r;
	errno = (int)-r;
	return -1;
}

ssize_t xbuf_read(int fd, void *buf, size_t count)
{
	struct xb_handle *h = xb_handle_get(fd);
	const void *data;
	ssize_t n;

	if (!h)
		return set_errno(-EBADF);
	n = app_read_begin(h, count, &data);
	if (n > 0) {
		memcpy(buf, data, (size_t)n);
		xb_end_commit(h, xb_end_of(h->el, XBUF_SIDE_APP, XBUF_INBOUND), (size_t)n);
	}
	xb_handle_put(h);
	return set_errno(n);
}

ssize_t xbuf_write(int fd, const void *buf, size_t count)
{
	struct xb_handle *h = xb_handle_get(fd);
	void *data;
	ssize_t n;

	if (!h)
		return set_errno(-EBADF);
	n = app_write_begin(h, count, &data);
	if (n > 0) {
		memcpy(data, buf, (size_t)n);
		xb_end_commit(h, xb_end_of(h->el, XBUF_SIDE_APP, XBUF_OUTBOUND), (size_t)n);
	}
	xb_handle_put(h);
	return set_errno(n);
}

static enum xb_mode mode_of(struct xb_handle *h, int flags, int *err)
{
	*err = 0;
	if (flags & ~(XBUF_NONBLOCK | XBUF_NOWAIT) || flags == (XBUF_NONBLOCK | XBUF_NOWAIT))
		*err = -EINVAL;
	if (flags & XBUF_NONBLOCK)
		return XB_NONBLOCK;
	if (flags & XBUF_NOWAIT)
		return XB_NOWAIT;
	return xb_fd_nonblocking(h->fd) ? XB_NONBLOCK : XB_BLOCK;
}

ssize_t xbuf_read_begin(int fd, size_t count, int flags, const void **data)
{
	struct xb_handle *h;
	enum xb_mode mode;
	ssize_t n;
	int err;

	if (!data)
		return -EFAULT;
	h = xb_handle_get(fd);
	if (!h)
		return -EBADF;
	mode = mode_of(h, flags, &err);
	n = err ? err : xb_read_begin(h, xb_end_of(h->el, XBUF_SIDE_APP, XBUF_INBOUND), count, mode, data);
	xb_handle_put(h);
	return n;
}

int xbuf_read_end(int fd, size_t n)
{
	struct xb_handle *h = xb_handle_get(fd);
	int r;

	if (!h)
		return -EBADF;
	r = xb_end_commit(h, xb_end_of(h->el, XBUF_SIDE_APP, XBUF_INBOUND), n);
	xb_handle_put(h);
	return r;
}

ssize_t xbuf_write_begin(int fd, size_t count, int flags, void **data)
{
	struct xb_handle *h;
	enum xb_mode mode;
	ssize_t n;
	int err;

	if (!data)
		return -EFAULT;
	h = xb_handle_get(fd);
	if (!h)
		return -EBADF;
	mode = mode_of(h, flags, &err);
	n = err ? err : xb_write_begin(h, xb_end_of(h->el, XBUF_SIDE_APP, XBUF_OUTBOUND), count, mode, data);
	xb_handle_put(h);
	return n;
}

int xbuf_write_end(int fd, size_t n)
{
	struct xb_handle *h = xb_handle_get(fd);
	int r;

	if (!h)
		return -EBADF;
	r = xb_end_commit(h, xb_end_of(h->el, XBUF_SIDE_APP, XBUF_OUTBOUND), n);
	xb_handle_put(h);
	return r;
}

int xbuf_poll(int fd, int events, size_t count, int timeout_ms)
{
	struct xb_handle *h = xb_handle_get(fd);
	int r;

	if (!h)
		return -EBADF;
	r = xb_poll(h, events, count, timeout_ms, true);
	xb_handle_put(h);
	return r;
}

int xbuf_rings(int fd, struct xbuf_rings *rg)
{
	struct xb_handle *h;

	if (!rg)
		return -EFAULT;
	h = xb_handle_get(fd);
	if (!h)
		return -EBADF;
	if (h->el->ops == &xb_kernel_ops) {
		/* The kernel's own count: its driver positions are the authority. */
		int r = xb_kernel_rings(h->fd, rg);

		xb_handle_put(h);
		return r;
	}
	rg->isize = h->el->info.ring[XBUF_INBOUND].capacity;
	rg->osize = h->el->info.ring[XBUF_OUTBOUND].capacity;
	rg->ifill = xb_fill(&h->el->end[XBUF_INBOUND][XB_CONSUMER]);
	rg->ofill = xb_fill(&h->el->end[XBUF_OUTBOUND][XB_CONSUMER]);
	xb_handle_put(h);
	return 0;
}

static int owner_pid(uint32_t owner)
{
	return owner == XBUF_OWNER_GONE ? 0 : (int)owner;
}

static void ring_stat(struct xb_element *el, int ring, struct xbuf_ring_stat *st)
{
	const struct xbuf_shm_endpoint *p = el->end[ring][XB_PRODUCER].self;
	const struct xbuf_shm_endpoint *c = el->end[ring][XB_CONSUMER].self;

	st->capacity = el->info.ring[ring].capacity;
	st->fill = xb_fill(&el->end[ring][XB_CONSUMER]);
	st->produced = __atomic_load_n(&p->pos, __ATOMIC_ACQUIRE);
	st->consumed = __atomic_load_n(&c->pos, __ATOMIC_ACQUIRE);
	st->writes = __atomic_load_n(&p->ops, __ATOMIC_RELAXED);
	st->reads = __atomic_load_n(&c->ops, __ATOMIC_RELAXED);
	st->write_eagain = __atomic_load_n(&p->eagain, __ATOMIC_RELAXED);
	st->read_eagain = __atomic_load_n(&c->eagain, __ATOMIC_RELAXED);
	st->producer_wakeups = __atomic_load_n(&p->wakeups, __ATOMIC_RELAXED);
	st->consumer_wakeups = __atomic_load_n(&c->wakeups, __ATOMIC_RELAXED);
	st->producer_waiters = __atomic_load_n(&p->waiters, __ATOMIC_RELAXED);
	st->consumer_waiters = __atomic_load_n(&c->waiters, __ATOMIC_RELAXED);
	st->producer_pid = owner_pid(__atomic_load_n(&p->owner, __ATOMIC_RELAXED));
	st->consumer_pid = owner_pid(__atomic_load_n(&c->owner, __ATOMIC_RELAXED));
}

int xbuf_stat(int fd, struct xbuf_stat *st)
{
	struct xb_handle *h;

	if (!st)
		return -EFAULT;
	h = xb_handle_get(fd);
	if (!h)
		return -EBADF;
	ring_stat(h->el, XBUF_INBOUND, &st->inbound);
	ring_stat(h->el, XBUF_OUTBOUND, &st->outbound);
	xb_handle_put(h);
	return 0;
}

const char *xbuf_name(int fd)
{
	struct xb_handle *h = xb_handle_get(fd);
	const char *name;

	if (!h)
		return NULL;
	name = h->el->name;	/* lives as long as the element, which fd keeps */
	xb_handle_put(h);
	return name;
}

void *xbuf_map_base(int fd)
{
	struct xb_handle *h = xb_handle_get(fd);
	void *base;

	if (!h)
		return NULL;
	base = h->el->base;
	xb_handle_put(h);
	return base;
}

void *xbuf_map_hold(int fd)
{
	struct xb_handle *h = xb_handle_get(fd);
	struct xb_element *el;

	if (!h)
		return NULL;
	el = h->el;
	pthread_mutex_lock(&table_lock);
	el->refs++;
	pthread_mutex_unlock(&table_lock);
	xb_handle_put(h);
	return el;
}

void xbuf_map_release(void *hold)
{
	if (!hold)
		return;
	pthread_mutex_lock(&table_lock);
	element_put(hold, -1);
	pthread_mutex_unlock(&table_lock);
}
