// SPDX-License-Identifier: MIT
/*
 * api.c - the application (in-band) side: xbuf_create() and xbuf_open()
 * (the choice of backend), xbuf_close(), read(2)/write(2)-style calls,
 * zero-copy borrows, waiting, statistics, mappings, and the event-loop
 * calls xbuf_notify_fd()/xbuf_arm(). Every call looks its handle up
 * (handle.c) and runs the engine (ring.c) on its end; what differs
 * between backends is behind the element's ops.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

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

/*
 * May a create or open try ops? Asked for by the flags or $XBUF_BACKEND,
 * or, for auto (0), available.
 */
static bool backend_fits(const struct xb_backend_ops *ops, int wanted)
{
	return wanted ? ops->backend == wanted : ops->available();
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
	const struct xb_backend_ops *ops = NULL;
	struct xb_create_req req;
	const char *bare = name;
	bool public, creator;
	int fd, r, backend, i;

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
	/* The module's rule, for both backends: a name means the same element on either. */
	r = xbuf_abi_check_name(bare, public);
	if (r)
		return r;

	/* The first backend that fits: the kernel's when available, unless asked. */
	for (i = 0; !ops && xb_backends[i]; i++)
		if (backend_fits(xb_backends[i], backend))
			ops = xb_backends[i];
	if (!ops)
		return -ENODEV;
	req = (struct xb_create_req){
		.isize = i_bufsz,
		.osize = o_bufsz,
		.public = public,
		.nonblock = flags & XBUF_CLONE_NONBLOCK,
		.name = bare,
	};
	fd = ops->create(&req);
	if (fd < 0)
		return fd;
	creator = public && ops->unlink;	/* else the backend unlists the name itself */
	r = xb_handle_install(fd, XB_INSTALL_FRESH | XB_INSTALL_CREATOR, bare);
	if (r) {
		if (creator)
			ops->unlink(bare, fd);
		close(fd);
		return r;
	}
	return fd;
}

int xbuf_open(const char *name, int flags)
{
	int fd = -ENODEV, r, backend, i;

	if (!name)
		return -EINVAL;
	if (flags & ~(XBUF_CLONE_NONBLOCK | XBUF_CLONE_BACKENDS))
		return -EINVAL;
	backend = wanted_backend(flags);
	if (backend < 0)
		return backend;
	if (name[0] == '/')
		name++;
	/* Reserved names are no element: the backends answer ENOENT for them. */
	r = xbuf_abi_check_name(name, 0);
	if (r)
		return r;
	if (!*name)
		return -EINVAL;
	/* auto: each available backend's name space in turn, the kernel's first. */
	for (i = 0; xb_backends[i]; i++) {
		if (!backend_fits(xb_backends[i], backend))
			continue;
		fd = xb_backends[i]->open(name, flags & XBUF_CLONE_NONBLOCK);
		if (fd >= 0)
			break;
		if (backend || fd != -ENOENT)
			return fd;
	}
	if (fd < 0)
		return fd;
	r = xb_handle_install(fd, XB_INSTALL_FRESH, name);
	if (r) {
		close(fd);
		return r == -EBADF ? -ENOENT : r;
	}
	return fd;
}

int xbuf_close(int fd)
{
	struct xb_handle *h = xb_handle_get(fd);	/* a stale handle goes: fd names another file */

	if (!h)
		return -EBADF;
	xb_handle_put(h);
	h = xb_handle_close(fd);

	if (!h)
		return -EBADF;
	xb_fast_drop(h);	/* its fast-path ends go back to the C calls */
	xb_handle_cancel(h);	/* its sleepers wake with EBADF */
	xb_handle_put(h);
	return 0;
}

static ssize_t set_errno(ssize_t r)
{
	if (r >= 0)
		return r;
	errno = (int)-r;
	return -1;
}

/*
 * read(2)/write(2) semantics on the application end of `ring`. The fd's
 * O_NONBLOCK matters only when the call cannot complete at once, so the
 * fast path costs no fcntl(): try without waiting first (a read above the
 * capacity says EINVAL there, but may take a part when non-blocking).
 */
static ssize_t app_copy(int fd, int ring, void *buf, size_t count)
{
	struct xb_handle *h = xb_handle_get(fd);
	struct xb_end *e;
	ssize_t n;

	if (!h)
		return set_errno(-EBADF);
	e = xb_end_of(h->el, XBUF_SIDE_APP, ring);
	n = xb_copy(h, e, buf, count, XB_NOWAIT);
	if (n == -EAGAIN || n == -EINVAL)
		n = xb_copy(h, e, buf, count, xb_fd_nonblocking(h->fd) ? XB_NONBLOCK : XB_BLOCK);
	xb_handle_put(h);
	return set_errno(n);
}

ssize_t xbuf_read(int fd, void *buf, size_t count)
{
	return app_copy(fd, XBUF_INBOUND, buf, count);
}

ssize_t xbuf_write(int fd, const void *buf, size_t count)
{
	return app_copy(fd, XBUF_OUTBOUND, (void *)buf, count);	/* a producer only reads buf */
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

/* A zero-copy borrow of the application end of `ring`. */
static ssize_t app_begin(int fd, int ring, size_t count, int flags, void **data)
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
	n = err ? err : xb_begin(h, xb_end_of(h->el, XBUF_SIDE_APP, ring), count, mode, data);
	xb_handle_put(h);
	return n;
}

static int app_end(int fd, int ring, size_t n)
{
	struct xb_handle *h = xb_handle_get_bound(fd);	/* the begin checked the fd */
	int r;

	if (!h)
		return -EBADF;
	r = xb_end_commit(h, xb_end_of(h->el, XBUF_SIDE_APP, ring), n);
	xb_handle_put(h);
	return r;
}

ssize_t xbuf_read_begin(int fd, size_t count, int flags, const void **data)
{
	void *p;
	ssize_t n;

	if (!data)
		return -EFAULT;
	n = app_begin(fd, XBUF_INBOUND, count, flags, &p);
	if (n > 0)
		*data = p;
	return n;
}

int xbuf_read_end(int fd, size_t n)
{
	return app_end(fd, XBUF_INBOUND, n);
}

ssize_t xbuf_write_begin(int fd, size_t count, int flags, void **data)
{
	return app_begin(fd, XBUF_OUTBOUND, count, flags, data);
}

int xbuf_write_end(int fd, size_t n)
{
	return app_end(fd, XBUF_OUTBOUND, n);
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
	int r;

	if (!rg)
		return -EFAULT;
	h = xb_handle_get(fd);
	if (!h)
		return -EBADF;
	r = h->el->ops->rings(h->el, h->fd, rg);	/* whoever counts authoritatively */
	xb_handle_put(h);
	return r;
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
	el = xb_element_hold(h);
	xb_handle_put(h);
	return el;
}

void xbuf_map_release(void *hold)
{
	if (hold)
		xb_element_release(hold);
}

int xbuf_notify_fd(int fd)
{
	struct xb_handle *h = xb_handle_get(fd);
	int ret;

	if (!h)
		return -EBADF;
	ret = xb_notifier_fd(&h->notify);
	xb_handle_put(h);
	return ret;
}

int xbuf_arm(int fd, int events, size_t count)
{
	struct xb_handle *h = xb_handle_get(fd);
	int ret;

	if (!h)
		return -EBADF;
	ret = xb_notifier_arm(&h->notify, h, events, count);
	xb_handle_put(h);
	return ret;
}

/*
 * The binding's fast path (docs/ABI.md, "The fast path of a binding"):
 * `events` names one application end, XBUF_POLLIN the inbound consumer,
 * XBUF_POLLOUT the outbound producer.
 */
static struct xb_end *fast_end(struct xb_handle *h, int events)
{
	if (h->side != XBUF_SIDE_APP)
		return NULL;
	if (events == XBUF_POLLIN)
		return xb_end_of(h->el, XBUF_SIDE_APP, XBUF_INBOUND);
	if (events == XBUF_POLLOUT)
		return xb_end_of(h->el, XBUF_SIDE_APP, XBUF_OUTBOUND);
	return NULL;
}

int xbuf_fast_claim(int fd, int events)
{
	struct xb_handle *h = xb_handle_get(fd);
	struct xb_end *e;
	int ret;

	if (!h)
		return -EBADF;
	e = fast_end(h, events);
	ret = e ? xb_fast_claim(h, e) : -EINVAL;
	xb_handle_put(h);
	return ret;
}

int xbuf_wake(int fd, int events)
{
	struct xb_handle *h = xb_handle_get(fd);
	struct xb_end *e;
	int ret = 0;

	if (!h)
		return -EBADF;
	e = fast_end(h, events);
	if (e && e->data)
		xb_fast_wake(h, e);
	else
		ret = e ? -ENOBUFS : -EINVAL;
	xb_handle_put(h);
	return ret;
}

int xbuf_fast_fence(void)
{
	return xb_fence_light();
}

int xbuf_peer_gone(int fd, int events)
{
	struct xb_handle *h = xb_handle_get(fd);
	struct xb_end *e;
	int ret;

	if (!h)
		return -EBADF;
	e = fast_end(h, events);
	ret = !e ? -EINVAL : !e->data ? -ENOBUFS : e->ops->peer_gone(e);
	xb_handle_put(h);
	return ret;
}

const uint32_t *xbuf_wake_word(void)
{
	return &xb_local_gen;
}
