// SPDX-License-Identifier: MIT
/*
 * handle.c - the fd table, the element registry and the backend list.
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
 *
 * Elements: one struct xb_element per object and process, found by the
 * identity its backend's probe gives, mapped by its backend's map hook.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "internal.h"

#define TABLE_CHUNK	1024	/* slots per chunk */
#define TABLE_CHUNKS	4096	/* fds up to 4M */

/*
 * The backends, in the order `auto` tries them and the registry probes an
 * fd: the kernel's name space first; the user backend takes what is left.
 */
const struct xb_backend_ops *const xb_backends[] = { &xb_kernel_ops, &xb_user_ops, NULL };

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

/*
 * Find or map the element behind fd; called with table_lock held.
 * One struct xb_element per element and process, whatever fds lead to it:
 * the first backend whose probe knows fd says which object it is (a
 * user-space object by its inode, a kernel element by its id).
 */
static int element_get(int fd, struct xb_element **elp, struct stat *stp)
{
	const struct xb_backend_ops *ops = NULL;
	struct xb_element *el;
	struct xb_ident id;
	struct stat st;
	int r, ring, role, i;

	if (fstat(fd, &st) < 0)
		return -EBADF;
	*stp = st;
	for (i = 0; !ops && xb_backends[i]; i++)
		if (xb_backends[i]->probe(fd, &st, &id))
			ops = xb_backends[i];
	if (!ops)
		return -EBADF;
	for (el = elements; el; el = el->next)
		if (el->ops == ops && el->id.a == id.a && el->id.b == id.b) {
			/*
			 * The backend's own fd of the element (the user backend's
			 * owner locks): no handle's, never adopted, so that a
			 * stale fd number cannot become a handle closing it.
			 */
			if (fd == el->lock_fd)
				return -EBADF;
			el->refs++;
			*elp = el;
			return 0;
		}
	el = calloc(1, sizeof(*el));
	if (!el)
		return -ENOMEM;
	el->lock_fd = -1;	/* none unless the backend's map opens one */
	el->marker_fd = -1;
	r = ops->map(fd, el);
	if (r)
		goto fail;
	el->ops = ops;
	el->id = id;
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

	if (side >= 0 && --el->side_refs[side] == 0) {
		for (ring = 0; ring < 2; ring++)
			xb_end_release(xb_end_of(el, side, ring));
		if (!el->side_refs[!side] && el->ops->closed)
			el->ops->closed(el);	/* no handle left, only mapping holds */
	}
	if (--el->refs)
		return;
	for (pp = &elements; *pp; pp = &(*pp)->next)
		if (*pp == el) {
			*pp = el->next;
			break;
		}
	el->ops->unmap(el);
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
	xb_notifier_init(&h->notify);
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

/*
 * Take a stale handle off its slot, with table_lock held: its fd number
 * no longer names its file (close(2) instead of xbuf_close(), then the
 * number was handed out again). Its calls fail with EBADF, and the number
 * is not ours to close any more. Returns h if the caller must cancel it
 * and drop the table's reference (outside the lock), else NULL.
 */
static struct xb_handle *evict_locked(struct xb_handle *h)
{
	struct xb_handle **slot = slot_of(h->fd);

	if (!slot || *slot != h || h->closed)
		return NULL;
	__atomic_store_n(&h->closed, true, __ATOMIC_RELEASE);
	h->owns_fd = false;
	h->public_creator = false;
	__atomic_store_n(slot, NULL, __ATOMIC_RELEASE);
	return h;
}

static void evict_finish(struct xb_handle *h)
{
	if (!h)
		return;
	xb_handle_cancel(h);	/* its sleepers wake with EBADF */
	xb_handle_put(h);
}

/*
 * Does h's fd number still name the file h was made for? One statx(2).
 * The number may be closed and handed out again by another thread at any
 * moment (close(2) behind the library's back is what this detects), so
 * the call is made as a raw system call: it races by design, and a
 * sanitizer's model of fd lifetimes (which does not see memfd_create())
 * has nothing to say about it.
 */
static bool fd_still_ours(const struct xb_handle *h)
{
	struct statx stx;

	if (syscall(SYS_statx, h->fd, "", AT_EMPTY_PATH, STATX_INO, &stx) < 0)
		return false;
	return makedev(stx.stx_dev_major, stx.stx_dev_minor) == h->dev && stx.stx_ino == h->ino &&
	       makedev(stx.stx_rdev_major, stx.stx_rdev_minor) == h->rdev;
}

/*
 * Wrap an element fd in an application handle and enter it in the table.
 * XB_INSTALL_FRESH: fd was just made by the kernel (create, open), so a
 * handle still in its slot is stale: it goes. XB_INSTALL_CREATOR: this
 * process created the element (for its public name, the backend's unlink
 * hook when this handle goes). name: the element's, if its backend's map
 * did not say.
 */
int xb_handle_install(int fd, unsigned int flags, const char *name)
{
	struct xb_handle *stale = NULL;
	struct xb_element *el;
	struct xb_handle *h;
	struct stat st;
	int r;

	pthread_mutex_lock(&table_lock);
	if (slot_of(fd) && *slot_of(fd)) {
		if (!(flags & XB_INSTALL_FRESH)) {
			pthread_mutex_unlock(&table_lock);
			return 0;
		}
		stale = evict_locked(*slot_of(fd));
	}
	r = element_get(fd, &el, &st);
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
	h->dev = st.st_dev;
	h->ino = st.st_ino;
	h->rdev = st.st_rdev;
	h->public_creator = (flags & XB_INSTALL_CREATOR) && el->ops->unlink;
	if (flags & XB_INSTALL_CREATOR)
		el->created = true;
	if (el->ops->adopt)
		el->ops->adopt(fd, el);
	if (name && !el->name[0])
		snprintf(el->name, sizeof(el->name), "%s", name);
	r = table_insert(h);
	if (r) {
		element_put(el, XBUF_SIDE_APP);
		__atomic_store_n(&h->refs, 0, __ATOMIC_RELAXED);
		handle_free(h);
	}
out:
	pthread_mutex_unlock(&table_lock);
	evict_finish(stale);
	return r;
}

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

/*
 * The handle behind fd, with a reference. An fd this process has not seen
 * yet (inherited, passed over a socket) is adopted if it is an element.
 */
struct xb_handle *xb_handle_get(int fd)
{
	struct xb_handle *h;
	bool closing;

	if (fd < 0)
		return NULL;
	h = handle_lookup(fd, &closing);
	if (h && !fd_still_ours(h)) {
		/* Closed with close(2), and the number names another file now. */
		struct xb_handle *stale;

		pthread_mutex_lock(&table_lock);
		stale = evict_locked(h);
		pthread_mutex_unlock(&table_lock);
		evict_finish(stale);
		xb_handle_put(h);
		h = NULL;
		closing = false;
	}
	if (h || closing || xb_handle_install(fd, 0, NULL))
		return h;
	return handle_lookup(fd, &closing);
}

/* xb_handle_get() without the fd check: for calls bound to a borrow the handle's begin made. */
struct xb_handle *xb_handle_get_bound(int fd)
{
	bool closing;

	return fd < 0 ? NULL : handle_lookup(fd, &closing);
}

/* The handle is going: its blocked calls and armed wait end with EBADF. */
void xb_handle_cancel(struct xb_handle *h)
{
	__atomic_store_n(&h->closed, true, __ATOMIC_RELEASE);	/* before the backend wakes the sleepers */
	h->el->ops->cancel(h);
}

void xb_handle_put(struct xb_handle *h)
{
	if (__atomic_fetch_sub(&h->refs, 1, __ATOMIC_ACQ_REL) != 1)
		return;
	if (xb_notifier_running(&h->notify))
		xb_handle_cancel(h);	/* the helper thread's wait ends at once */
	xb_notifier_stop(&h->notify);
	if (h->public_creator)
		h->el->ops->unlink(h->el->name, h->fd);	/* before the lock goes with the fd: no reuse race */
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

/*
 * xbuf_close(): mark fd's handle closed, under the lock adoption takes
 * (its slot stays until its fd is closed: see above), and return it with
 * the table's reference, for the caller to cancel and put; NULL: EBADF.
 */
struct xb_handle *xb_handle_close(int fd)
{
	struct xb_handle **slot, *h = NULL;

	pthread_mutex_lock(&table_lock);
	slot = slot_of(fd);
	if (slot && (h = *slot) && !h->closed)
		__atomic_store_n(&h->closed, true, __ATOMIC_RELEASE);
	else
		h = NULL;
	pthread_mutex_unlock(&table_lock);
	return h;
}

/* A reference on h's element alone (xbuf_map_hold): the mapping outlives h. */
struct xb_element *xb_element_hold(struct xb_handle *h)
{
	struct xb_element *el = h->el;

	pthread_mutex_lock(&table_lock);
	el->refs++;
	pthread_mutex_unlock(&table_lock);
	return el;
}

void xb_element_release(struct xb_element *el)
{
	pthread_mutex_lock(&table_lock);
	element_put(el, -1);
	pthread_mutex_unlock(&table_lock);
}

/* After fork(): claims name the parent's pid, and the parent's threads are gone. */
static void atfork_child(void)
{
	struct xb_element *el;
	int i, ring, role;

	for (el = elements; el; el = el->next) {
		for (ring = 0; ring < 2; ring++)
			for (role = 0; role < 2; role++) {
				struct xb_end *e = &el->end[ring][role];

				e->claimed = false;
				e->sleepers = NULL;	/* the parent's threads */
				/*
				 * A bias to one of the parent's other threads ends here:
				 * that thread is not in the child, so no one is inside
				 * on it and no one needs a fence.
				 */
				if (e->bias_state == XB_BIAS_ON && !pthread_equal(e->bias, pthread_self())) {
					e->bias_in = 0;
					e->bias_state = XB_BIAS_OFF;
				}
			}
		el->ops->forked(el);
	}
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

__attribute__((constructor)) static void handle_init(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}
