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
 * serializes the process's threads on that end, and the end's claim (user
 * backend: an OFD lock on the endpoint's byte of the object, then this
 * process's pid in the shared `owner` word) lets the peer tell when this
 * process lets go or dies (EPIPE), whatever becomes of its pid.
 *
 * Layers, each calling only downward (test/c/deps.sh checks the link graph):
 *
 *   api.c driver.c latmus.c   entry points (xbuf_*, evl_*, xbuf_latmus_*)
 *   handle.c                  fd table, element registry, its own atfork
 *   notify.c                  the helper thread of xbuf_arm(), over the engine
 *   user.c kernel.c           the backends, behind struct xb_backend_ops
 *   ring.c                    the engine: begin, commit, copy, poll
 *   peer.c                    peer-death watcher, the process-local wake word
 *
 * Backends: the mapping is the same whoever serves it (xbuf/abi.h), so one
 * engine (ring.c) runs the application side of both. What differs is how
 * an object is created, opened, recognized and mapped, how an end sleeps
 * and wakes its peer, and whether ends are claimed: that is struct
 * xb_backend_ops, one per backend (as the kernel's bpf_map_ops), reached
 * from every element and every end. Nothing above it asks which backend an
 * element has.
 *   user (user.c):     a memfd or /dev/shm file; futex_waitv on the
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
struct xb_element;
struct xbuf_rings;
struct stat;
struct timespec;

/* What one sleep waits on: an end's peer, and what the end needs of it. */
struct xb_sleep_on {
	uint32_t *seq;		/* the peer's seq */
	uint32_t val;		/* its value when we last checked */
	const struct xbuf_shm_endpoint *peer;
	struct xb_end *end;	/* whose peer it is (its peer_gone()) */
	int events;		/* XBUF_POLLIN: a consumer waits for bytes, XBUF_POLLOUT: a producer for room */
	uint64_t count;		/* how many (>= 1) */
};

/* Which object an element is: user (st_dev, st_ino), kernel (element id, 0). */
struct xb_ident {
	uint64_t a, b;
};

/* What xbuf_create() asks of a backend; the name is checked and without '/'. */
struct xb_create_req {
	size_t isize, osize;
	bool public;
	bool nonblock;
	const char *name;
};

struct xb_backend_ops {
	int backend;		/* XBUF_BACKEND_USER / XBUF_BACKEND_KERNEL */
	/* The driver side of an element may run in this process (evl_get_xbuf). */
	bool local_driver;

	/* Objects. */
	/* May `auto` pick this backend (XBUF_BACKEND unset)? Cheap. */
	bool (*available)(void);
	/* A new element; its fd (O_CLOEXEC), or -errno. */
	int (*create)(const struct xb_create_req *req);
	/* The public element `name` (checked, no '/'); -ENOENT if this backend has none. */
	int (*open)(const char *name, bool nonblock);
	/* Is fd an element of this backend? Then *id says which. */
	bool (*probe)(int fd, const struct stat *st, struct xb_ident *id);
	/* Map fd's element: set el->base, map_size, info (validated), name if known. */
	int (*map)(int fd, struct xb_element *el);
	/* Fill levels and capacities, as the element's authority counts them. */
	int (*rings)(struct xb_element *el, int fd, struct xbuf_rings *r);
	/*
	 * Take a public name off the name space when its creator's handle
	 * goes, if it still names fd's object; NULL: the backend does.
	 */
	void (*unlink)(const char *name, int fd);
	/*
	 * A new fd of the element in this process (created, opened or
	 * adopted): make it safe for read(2)/write(2) and hold the name.
	 * NULL: nothing to do (the kernel's file is the element).
	 */
	void (*adopt)(int fd, struct xb_element *el);
	/* The last handle (fd or driver reference) of the element went; holds may remain. NULL: nothing. */
	void (*closed)(struct xb_element *el);
	/* Undo map (the last reference to the element went). */
	void (*unmap)(struct xb_element *el);
	/* After fork(), in the child: drop what names the parent (its claims). */
	void (*forked)(struct xb_element *el);

	/* Ends. */
	/* Take the end for this process before using it; 0 or -EBUSY. */
	int (*claim)(struct xb_end *e);
	/* The last handle of the end's side went. */
	void (*release)(struct xb_end *e);
	/* evl_shutdown_xbuf() on a driver end: end the stream; 0 or -EBUSY. NULL: not here. */
	int (*shutdown)(struct xb_end *e);
	/*
	 * A token to read before the caller's last look at the ring, for
	 * sleep(): a wake-up of this process (close, peer death) moves it.
	 */
	uint32_t (*wait_token)(void);
	/*
	 * Sleep until the peers of `on` may have moved, the token moved or
	 * the deadline passed. Returns 0 to re-check, or -EPIPE, -EBADF,
	 * -EINTR, -ETIMEDOUT.
	 */
	int (*sleep)(struct xb_handle *h, const struct xb_sleep_on *on, int n,
		     uint32_t token, const struct timespec *deadline);
	/* Our seq moved and the peer of e waits: wake it. h is the calling handle. */
	void (*wake)(struct xb_handle *h, struct xb_end *e);
	/* Will the peer of e never move again (let go, or died)? Cheap: no syscall. */
	bool (*peer_gone)(struct xb_end *e);
	/* h is being closed (h->closed is set): end its sleeps, now and later. */
	void (*cancel)(struct xb_handle *h);
};

extern const struct xb_backend_ops xb_user_ops;
extern const struct xb_backend_ops xb_kernel_ops;

/* A thread of this process sleeping on an end, for the producer's `wanted`. */
struct xb_waitnode {
	struct xb_waitnode *next;
	uint64_t count;
};

/*
 * What an end knows of its peer's owner (peer.c; user backend): the
 * owner word it last looked at and that owner's watch entry.
 */
struct xb_watched;
struct xb_peer_ref {
	uint32_t owner;			/* 0: none */
	uint32_t epoch;			/* peer.c's at the time: a fork makes it stale */
	struct xb_watched *w;		/* NULL: not watched (dead, or none) */
};

/* One end (producer or consumer) of one ring, as this process sees it. */
enum { XB_BIAS_NONE, XB_BIAS_ON, XB_BIAS_OFF };	/* xb_end.bias_state (ring.c, end_lock()) */

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
	bool claimed;			/* self->owner holds our pid (and we its lock, user backend) */
	struct xb_handle *fast;		/* under `lock`: the handle whose binding moves this end itself (xb_fast_claim) */
	const struct xb_backend_ops *ops;	/* the element's */
	struct xb_element *el;		/* the element the end is of */
	struct xb_peer_ref peer_ref;	/* user backend: the peer's owner, as last seen */
	struct xb_peer_ref creator_ref;	/* user backend, driver end: the element's creator, as last seen */
	uint32_t peer_dead;		/* driver end: the app owner word when the app side was seen gone */
	uint64_t peer_seen;		/* the peer's pos as last loaded (ring.c peer_look()) */
	pthread_t bias;			/* the thread `lock` is biased to (ring.c, end_lock()) */
	uint32_t bias_state;		/* BIAS_NONE, BIAS_ON (to `bias`), BIAS_OFF (the mutex, for good) */
	uint32_t bias_in;		/* the biased thread is inside, on the bias */
};

struct xb_element {
	struct xb_element *next;	/* in the process's element list */
	int refs;			/* handles on it; under the table lock */
	int side_refs[2];		/* handles per side; under the table lock */
	const struct xb_backend_ops *ops;
	struct xb_ident id;		/* which object (the backend's probe says) */
	void *base;			/* the mapping */
	size_t map_size;
	struct xbuf_shm_info info;	/* validated copy of the info page */
	struct xb_end end[2][2];	/* [ring][XB_PRODUCER / XB_CONSUMER] */
	char name[XBUF_NAME_MAX + 1];
	int lock_fd;			/* user backend: our own open file description, for the owner locks */
	int marker_fd;			/* user backend: a private element's name file, held by its creator */
	bool created;			/* this process created the element (and not a fork child of it) */
	char shm_name[XBUF_NAME_MAX + 1];	/* user backend: the public name our file has, if any */
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
	struct xb_handle *next_free;	/* on the free list once dead (handle.c) */
	int fd;				/* user-visible fd; -1 for driver references */
	dev_t dev, rdev;		/* the file fd named when installed: a number closed with */
	ino_t ino;			/* close(2) and handed out again names another one */
	int side;			/* XBUF_SIDE_APP / XBUF_SIDE_DRIVER */
	bool owns_fd;			/* close(fd) when the last ref goes */
	bool public_creator;		/* this handle created a public element */
	struct xb_element *el;
	struct xb_notifier notify;
};

/* handle.c: the fd table and the element registry */
extern const struct xb_backend_ops *const xb_backends[];	/* auto's order, NULL-terminated */
struct xb_handle *xb_handle_get(int fd);
void xb_handle_put(struct xb_handle *h);
void xb_handle_cancel(struct xb_handle *h);
#define XB_INSTALL_FRESH	0x1	/* the fd was just made: a handle in its slot is stale */
#define XB_INSTALL_CREATOR	0x2	/* this process created the element */
int xb_handle_install(int fd, unsigned int flags, const char *name);
struct xb_handle *xb_handle_get_bound(int fd);
struct xb_handle *xb_handle_close(int fd);
struct xb_handle *xb_handle_new_driver(struct xb_handle *app);
struct xb_element *xb_element_hold(struct xb_handle *h);
void xb_element_release(struct xb_element *el);
int xb_fd_nonblocking(int fd);

/* ring.c: the engine */
ssize_t xb_begin(struct xb_handle *h, struct xb_end *e, size_t count,
		 enum xb_mode mode, void **data);
int xb_end_commit(struct xb_handle *h, struct xb_end *e, size_t n);
ssize_t xb_copy(struct xb_handle *h, struct xb_end *e, void *buf, size_t count,
		enum xb_mode mode);
int xb_poll(struct xb_handle *h, int events, size_t count, int timeout_ms, bool spin);
int xb_ready(struct xb_end *e, int events, size_t count);
#define XB_SLEEP_MAX	126	/* ends one sleep waits on (futex_waitv: 128 words, one is the wake word) */
int xb_poll_ends(struct xb_handle **hs, struct xb_end **ends, int *revents, int *err,
		 int n, int timeout_ms);
void xb_end_init(struct xb_end *e, struct xb_element *el, int ring, int role, int side);
void xb_end_release(struct xb_end *e);
uint64_t xb_fill(const struct xb_end *e);
int xb_fast_claim(struct xb_handle *h, struct xb_end *e);
void xb_fast_drop(struct xb_handle *h);
void xb_fast_wake(struct xb_handle *h, struct xb_end *e);
int xb_end_lock(struct xb_end *e);
void xb_end_unlock(struct xb_end *e);

/* fence.c: K1's asymmetric form (membarrier) */
bool xb_fence_ready(void);
bool xb_fence_light(void);
void xb_fence_heavy(void);
bool xb_fence_private_ready(void);
void xb_fence_private(void);

/* peer.c: peer-death detection and process-local wake-ups (user backend) */
extern uint32_t xb_local_gen;
pid_t xb_self_pid(void);
void xb_local_wake(void);
bool xb_peer_dead(struct xb_peer_ref *ref, uint32_t owner, const uint32_t *word,
		  int lock_fd, off_t lock_off);
void xb_peer_unref(struct xb_peer_ref *ref);

/* notify.c: the helper thread of xbuf_arm(), one per handle */
void xb_notifier_init(struct xb_notifier *n);
int xb_notifier_fd(struct xb_notifier *n);
int xb_notifier_arm(struct xb_notifier *n, struct xb_handle *h, int events, size_t count);
bool xb_notifier_running(struct xb_notifier *n);
void xb_notifier_stop(struct xb_notifier *n);

/* Which end of `ring` a handle of `side` uses. */
static inline struct xb_end *xb_end_of(struct xb_element *el, int side, int ring)
{
	int role = XBUF_PRODUCER_SIDE(ring) == side ? XB_PRODUCER : XB_CONSUMER;

	return &el->end[ring][role];
}

/* No owner word has this value (0, pids, XBUF_OWNER_GONE): xb_end.peer_dead's "none". */
#define XB_NOT_SEEN	0xfffffffeu

/* The side (XBUF_SIDE_APP / XBUF_SIDE_DRIVER) an end belongs to. */
static inline int xb_end_side(const struct xb_end *e)
{
	return e->role == XB_PRODUCER ? XBUF_PRODUCER_SIDE(e->ring) : XBUF_CONSUMER_SIDE(e->ring);
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
