/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what the library's translation units share. Not installed.
 *
 * Objects, from the outside in:
 *
 *   fd ---> struct xb_handle ---> struct xb_element ---> mapping of the object
 *           (one per fd or           (one per object per process: the
 *            evl_get_xbuf ref)        mapping, the four ring ends)
 *
 * A handle belongs to one side (application or driver). An element has one
 * struct xb_end per ring end (ring x {producer, consumer}); the end's mutex
 * serializes the process's threads on that end, and the end's claim puts
 * this process's pid into the endpoint's shared `owner` word so the peer
 * can tell when this process dies (EPIPE).
 *
 * Backends: the mapping is the same whoever serves it (xbuf_abi.h), so one
 * engine (ring.c) runs the application side of both. What differs is how
 * an end sleeps and wakes its peer, and whether ends are claimed: that is
 * struct xb_backend_ops, one per backend, reached from every end.
 *   user (ring.c):     a memfd or /dev/shm file; futex_waitv on the
 *                      peer's seq, futex_wake, owner claims and EPIPE
 *   kernel (kernel.c): an element of xbuf.ko; XBUF_IOC_WAIT to sleep (its
 *                      pages are VM_PFNMAP: no futex), XBUF_IOC_KICK to wake
 *                      the in-kernel peer, no claims (the kernel is the driver)
 */
#ifndef XBUF_INTERNAL_H
#define XBUF_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "xbuf.h"

#define XB_PRODUCER	0
#define XB_CONSUMER	1

/* Read-write modes of the ring engine (see xbuf.h: XBUF_NONBLOCK, XBUF_NOWAIT). */
enum xb_mode {
	XB_BLOCK,	/* read(2)/write(2) semantics, may sleep */
	XB_NONBLOCK,	/* O_NONBLOCK semantics: partial reads, EAGAIN */
	XB_NOWAIT,	/* blocking semantics, but EAGAIN instead of sleeping */
};

struct xb_handle;
struct xb_end;
struct stat;
struct timespec;

/* What one sleep waits on: an end's peer, and what the end needs of it. */
struct xb_sleep_on {
	uint32_t *seq;		/* the peer's seq */
	uint32_t val;		/* its value when we last checked */
	const struct xbuf_shm_endpoint *peer;
	int events;		/* XBUF_POLLIN: a consumer waits for bytes, XBUF_POLLOUT: a producer for room */
	uint64_t count;		/* how many (>= 1) */
};

struct xb_backend_ops {
	int backend;		/* XBUF_BACKEND_USER / XBUF_BACKEND_KERNEL */
	/* Take the end for this process before using it; 0 or -EBUSY. */
	int (*claim)(struct xb_end *e);
	/* The last handle of the end's side went. */
	void (*release)(struct xb_end *e);
	/*
	 * Sleep until the peers of `on` may have moved, the process-local
	 * generation moved (close, peer death) or the deadline passed.
	 * Returns 0 to re-check, or -EPIPE, -EBADF, -EINTR, -ETIMEDOUT.
	 */
	int (*sleep)(struct xb_handle *h, const struct xb_sleep_on *on, int n,
		     uint32_t gen, const struct timespec *deadline);
	/* Our seq moved and the peer of e waits: wake it. h is the calling handle. */
	void (*wake)(struct xb_handle *h, struct xb_end *e);
	/* Will the peer of e never move again (let go, or died)? Cheap: no syscall. */
	bool (*peer_gone)(const struct xb_end *e);
	/* h is being closed: end its sleeps (beyond the process-local wake-up). */
	void (*cancel)(struct xb_handle *h);
};

extern const struct xb_backend_ops xb_user_ops;
extern const struct xb_backend_ops xb_kernel_ops;

/* A thread of this process sleeping on an end, for the producer's `wanted`. */
struct xb_waitnode {
	struct xb_waitnode *next;
	uint64_t count;
};

/* One end (producer or consumer) of one ring, as this process sees it. */
struct xb_end {
	struct xb_waitnode *sleepers;	/* under `lock` */
	pthread_mutex_t lock;		/* held from begin to end of a borrow */
	pthread_t holder;			/* thread holding `lock`, for end() checks */
	bool holding;			/* a borrow is outstanding */
	uint64_t borrowed;		/* bytes handed out by the outstanding begin */
	struct xbuf_shm_endpoint *self;	/* our endpoint: we write it */
	struct xbuf_shm_endpoint *peer;	/* the other end: read and clamped only */
	unsigned char *data;		/* first copy of the data area; NULL: no ring */
	uint64_t capacity;
	uint64_t mask;			/* data_size - 1 */
	int ring;			/* XBUF_INBOUND / XBUF_OUTBOUND */
	int role;			/* XB_PRODUCER / XB_CONSUMER */
	bool claimed;			/* self->owner holds our pid */
	const struct xb_backend_ops *ops;	/* the element's */
};

struct xb_element {
	struct xb_element *next;	/* in the process's element list */
	int refs;			/* handles on it; under the table lock */
	int side_refs[2];		/* handles per side; under the table lock */
	const struct xb_backend_ops *ops;
	dev_t dev;			/* user backend: identity of the object */
	ino_t ino;
	uint32_t kid;			/* kernel backend: element id (XBUF_IOC_INFO) */
	void *base;			/* the mapping */
	size_t map_size;
	struct xbuf_shm_info info;	/* validated copy of the info page */
	struct xb_end end[2][2];	/* [ring][XB_PRODUCER / XB_CONSUMER] */
	char name[XBUF_NAME_MAX + 1];
	bool creator_of_public;		/* unlink the name when our creator handle goes */
};

/* Async waits for event loops: one helper thread per handle, started on demand. */
struct xb_notifier {
	pthread_t thread;
	bool started;
	int pipe_rd, pipe_wr;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int events;			/* armed request; 0 = none */
	size_t count;
	bool stop;
};

struct xb_handle {
	/* Read by lock-free lookups even when dead: kept atomic, first (handle_alloc()). */
	int refs;			/* table + in-flight calls */
	bool closed;			/* wakes and fails its blocked calls */
	struct xb_handle *next_free;	/* on the free list once dead (xbuf.c) */
	int fd;				/* user-visible fd; -1 for driver references */
	int side;			/* XBUF_SIDE_APP / XBUF_SIDE_DRIVER */
	bool owns_fd;			/* close(fd) when the last ref goes */
	bool public_creator;		/* this handle created a public element */
	struct xb_element *el;
	struct xb_notifier notify;
};

/* xbuf.c: handles and elements */
struct xb_handle *xb_handle_get(int fd);
void xb_handle_put(struct xb_handle *h);
void xb_handle_cancel(struct xb_handle *h);
struct xb_handle *xb_handle_new_driver(struct xb_handle *app);
int xb_fd_nonblocking(int fd);

/* ring.c: the engine */
ssize_t xb_read_begin(struct xb_handle *h, struct xb_end *e, size_t count,
		      enum xb_mode mode, const void **data);
ssize_t xb_write_begin(struct xb_handle *h, struct xb_end *e, size_t count,
		       enum xb_mode mode, void **data);
int xb_end_commit(struct xb_handle *h, struct xb_end *e, size_t n);
int xb_poll(struct xb_handle *h, int events, size_t count, int timeout_ms, bool spin);
int xb_ready(struct xb_end *e, int events, size_t count);
void xb_end_init(struct xb_end *e, struct xb_element *el, int ring, int role, int side);
void xb_end_release(struct xb_end *e);
uint64_t xb_fill(const struct xb_end *e);

/* kernel.c: the kernel backend's objects */
bool xb_kernel_available(void);
int xb_kernel_create(size_t i_bufsz, size_t o_bufsz, bool public, bool nonblock, const char *name);
int xb_kernel_open(const char *name, bool nonblock);
bool xb_kernel_probe(int fd, const struct stat *st, uint32_t *id);
int xb_kernel_map(int fd, struct xb_element *el);
int xb_kernel_rings(int fd, struct xbuf_rings *r);

/* peer.c: peer-death detection and process-local wake-ups */
extern uint32_t xb_local_gen;
pid_t xb_self_pid(void);
void xb_local_wake(void);
bool xb_peer_dead(pid_t pid);
void xb_atfork_child_elements(void);

/* notify.c */
void xb_notifier_stop(struct xb_notifier *n);

/* Which end of `ring` a handle of `side` uses. */
static inline struct xb_end *xb_end_of(struct xb_element *el, int side, int ring)
{
	int role = XBUF_PRODUCER_SIDE(ring) == side ? XB_PRODUCER : XB_CONSUMER;

	return &el->end[ring][role];
}

/* The ring a side reads (is consumer of), and the one it writes. */
static inline int xb_read_ring(int side)
{
	return side == XBUF_SIDE_APP ? XBUF_INBOUND : XBUF_OUTBOUND;
}

static inline int xb_write_ring(int side)
{
	return side == XBUF_SIDE_APP ? XBUF_OUTBOUND : XBUF_INBOUND;
}

#endif /* XBUF_INTERNAL_H */
