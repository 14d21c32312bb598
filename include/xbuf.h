/* SPDX-License-Identifier: MIT */
/*
 * xbuf.h - the one public header of libxbuf: EVL-style cross-buffers with
 * zero-copy access.
 *
 * A cross-buffer is a pair of byte rings between an application (the
 * in-band side) and a driver or real-time thread (the out-of-band side):
 *
 *   inbound ring:  driver --evl_write_xbuf()--> ring --xbuf_read()-->  app
 *   outbound ring: app    --xbuf_write()------> ring --evl_read_xbuf()--> driver
 *
 * Every call that returns int or ssize_t returns a negative errno value on
 * failure, except xbuf_read() and xbuf_write(), which behave like read(2)
 * and write(2): -1 with errno set. Each call's comment lists every errno it
 * can return. Common to all calls on an fd: EBADF (not an element fd of
 * this process, or closed).
 *
 * The element fd (user-space backend: a memfd, or a file in /dev/shm; the
 * kernel backend: xbuf.ko's file, whose read(2)/write(2)/poll(2) are EVL's):
 *   close(2)  instead of xbuf_close() is safe: a later element, or any other
 *             file, that gets the same number never reaches the closed
 *             element (each call checks the number still names its file,
 *             one statx(2); the zero-copy end calls, bound to their begin,
 *             do not), and its sleeping calls fail with EBADF once seen.
 *   read(2), write(2), poll(2), epoll on a user-space element fd never
 *             reach the rings nor the header: its file position is the
 *             largest one, so read(2) and write(2) fail with EINVAL (the
 *             position plus any count overflows); poll(2)/select(2) see a regular file
 *             (always ready) and epoll_ctl(2) fails with EPERM. Use
 *             xbuf_read()/xbuf_write(), and xbuf_poll() or
 *             xbuf_notify_fd()/xbuf_arm() for readiness. (pread/pwrite
 *             address the object itself, as stores into the mapping do.)
 *   dup(2)    the new number leads to the same element (one per object per
 *             process); xbuf_close() of one number leaves the others.
 *   fork      the child inherits the fds and the library's state; the
 *             parent's claims stay the parent's: an end the parent uses is
 *             EBUSY for the child until the parent lets go or dies.
 *   exec      element fds are O_CLOEXEC: exec closes them. Cleared with
 *             fcntl(F_SETFD, 0), the fd survives, and the new program's
 *             first call adopts it (as below).
 *   SCM_RIGHTS passing the fd over a unix socket: the receiver's first
 *             call on it adopts the element (maps it), as for an inherited
 *             fd; ends are claimed per process, so each end is still
 *             used by one process at a time (EBUSY).
 *
 * Lifetimes (both backends unless said):
 *   - the stream (inbound) ends only when the driver side calls
 *     evl_shutdown_xbuf() or the process holding the driver end dies; then
 *     the application reads what is left, then EPIPE. evl_get_xbuf() and
 *     evl_put_xbuf() never end it: the application keeps waiting.
 *   - the application side leaving (its last fd of the element closed, or
 *     its death) makes every driver call fail with -EIDRM: blocked ones at
 *     once, whether or not the ring was used, and later ones. User-space
 *     backend: the application side has left when no live process holds
 *     an app end and the element's creator is gone (closed its last fd of
 *     it, or died); while the creator lives the element lives, and the
 *     driver waits for whoever uses the app end next (another process may
 *     open it by name and claim it). After a death, a call that finds
 *     bytes or room before anything noticed may still complete. The
 *     driver's reference still keeps the memory mapped until evl_put_xbuf().
 */
#ifndef XBUF_H
#define XBUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "xbuf/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Version of this header. The library's exported symbols are versioned
 * (XBUF_0.1 ... in csrc/libxbuf.map): a program built against this header
 * runs with any later library of the same major version.
 */
#define XBUF_VERSION_MAJOR	0
#define XBUF_VERSION_MINOR	7
#define XBUF_VERSION		(XBUF_VERSION_MAJOR * 10000 + XBUF_VERSION_MINOR * 100)

/* Creation flags, as libevl's evl_create_xbuf(). */
#define XBUF_CLONE_PRIVATE	0
#define XBUF_CLONE_PUBLIC	(1 << 16)
#define XBUF_CLONE_NONBLOCK	(1 << 18)

/*
 * Backend of a new element (xbuf_create) or of the one to open (xbuf_open).
 * Neither: as $XBUF_BACKEND says (read once: "user", "kernel", or "auto",
 * the default): auto takes the kernel module (kmod/) when /dev/xbuf/clone
 * exists, else the user-space backend; xbuf_open() in auto looks the name
 * up in the kernel first, then in user space. Asking for the kernel without
 * the module loaded fails with -ENODEV; both flags with -EINVAL.
 */
#define XBUF_CLONE_USER		(1 << 20)
#define XBUF_CLONE_KERNEL	(1 << 21)

/* XBUF_NAME_MAX, the longest element name without the leading '/', and the name rule: xbuf/abi.h. */

/* Fill levels, as EVL's sysfs "rings" attribute. */
struct xbuf_rings {
	size_t ifill, isize;	/* inbound: bytes waiting for xbuf_read(), capacity */
	size_t ofill, osize;	/* outbound: bytes waiting for evl_read_xbuf(), capacity */
};

/* Counters of one direction, read from both endpoints. */
struct xbuf_ring_stat {
	unsigned long long capacity;
	unsigned long long fill;
	unsigned long long produced;		/* bytes written so far */
	unsigned long long consumed;		/* bytes read so far */
	unsigned long long writes, reads;
	unsigned long long write_eagain, read_eagain;
	unsigned long long producer_wakeups;	/* wakes the producer sent the consumer */
	unsigned long long consumer_wakeups;	/* wakes the consumer sent the producer */
	unsigned int producer_waiters, consumer_waiters;
	int producer_pid, consumer_pid;		/* user-space backend: who holds (or held, if it died) each end; 0 none */
};

struct xbuf_stat {
	struct xbuf_ring_stat inbound, outbound;
};

/*
 * Application (in-band) side.
 */

/*
 * Create a cross-buffer. i_bufsz is the inbound ring's capacity (data the
 * driver sends to the application), o_bufsz the outbound one's. A size may
 * be 0 (no ring in that direction: ENOBUFS there), not both; at most 2^30.
 * fmt names the element; a name starting with '/' makes it public, as does
 * XBUF_CLONE_PUBLIC. Names follow one rule on both backends
 * (xbuf_abi_check_name() in xbuf/abi.h). Returns a file descriptor or:
 *   -EINVAL        both sizes 0, a size above 2^30, an unknown flag, both
 *                  backend flags, a public element without a name, or a bad
 *                  name ('/', a control character, a leading '@', "." or "..")
 *   -ENAMETOOLONG  a name above XBUF_NAME_MAX bytes
 *   -EEXIST        a live element, public or private, has that name, or it
 *                  is reserved (XBUF_RESERVED_NAMES: the kernel module's
 *                  own devices). Scope, user-space backend: one name space
 *                  per /dev/shm (per machine, or per mount namespace), for
 *                  public and private elements alike; a public name is held
 *                  while any fd or mapping of the element lives in any
 *                  process, a private one while its creating process has
 *                  an fd of it or a driver reference
 *                  (not a mere xbuf_map_hold()). A name whose holders
 *                  all died is taken over. Kernel backend: the module's
 *                  name space, as xbuf.ko says.
 *   -ENODEV        XBUF_CLONE_KERNEL without the kernel module
 *   -ENOMEM, -ENOSPC, -EMFILE, -ENFILE, -EACCES   from the system
 */
int xbuf_create(size_t i_bufsz, size_t o_bufsz, int flags, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Open a public element by name ("foo" or "/foo"); it stays openable while
 * any fd or mapping of it lives, not only its creator's. flags: 0,
 * XBUF_CLONE_NONBLOCK, and one of XBUF_CLONE_USER / XBUF_CLONE_KERNEL.
 * Returns a file descriptor or:
 *   -ENOENT        no live element has that name (or it is a reserved name)
 *   -EINVAL        an unknown flag, both backend flags, no name, a bad name
 *   -ENAMETOOLONG  a name above XBUF_NAME_MAX bytes
 *   -ENODEV        XBUF_CLONE_KERNEL without the kernel module
 *   -EPROTO        the element was made by another ABI version or page size
 *   -ENOMEM, -EMFILE, -ENFILE, -EACCES   from the system
 */
int xbuf_open(const char *name, int flags);

/*
 * read(2) on the element: takes inbound traffic. Blocking reads return
 * exactly count bytes, or fewer only while a writer is blocked on the ring
 * waiting for room. Non-blocking (O_NONBLOCK on the fd): whatever is there,
 * -1/EAGAIN when empty. Count 0 returns 0, before any other check. Once
 * the driver side ended the stream (evl_shutdown_xbuf()) or died holding
 * it, like a pipe: what it wrote comes first (a blocking read returns the
 * tail, fewer than count bytes), then -1/EPIPE. errno:
 *   EAGAIN   non-blocking and nothing to read
 *   EINVAL   a blocking read above the capacity
 *   ENOBUFS  no inbound ring
 *   EPIPE    the driver side ended the stream or died, and the ring is drained
 *   EBUSY    another process holds the application end, or this thread
 *            holds a zero-copy borrow on it
 *   EINTR    a signal interrupted the wait
 *   EBADF    not an element fd, or closed meanwhile
 */
ssize_t xbuf_read(int fd, void *buf, size_t count);

/*
 * write(2) on the element: feeds outbound traffic. All count bytes or none;
 * count 0 returns 0, before any other check. errno:
 *   EAGAIN   non-blocking, no room for all of it
 *   EINVAL   count above the capacity (EVL would wait for ever)
 *   ENOBUFS  no outbound ring
 *   EPIPE    the driver side ended the stream or died: nobody will make room
 *   EBUSY, EINTR, EBADF   as xbuf_read()
 */
ssize_t xbuf_write(int fd, const void *buf, size_t count);

/*
 * Close an element fd; threads blocked on it wake with EBADF. Use this, not
 * close(2): the library keeps per-fd state that close(2) would leave behind
 * naming a number the kernel may hand out again.
 */
int xbuf_close(int fd);

/*
 * Stale public names (user-space backend): a name whose holders all died
 * (kill -9) is a file left in /dev/shm until something takes it off.
 * xbuf_reclaim() takes off the name `name` if nobody holds it: 1 if it
 * did, 0 if the name is live or absent, -EINVAL/-ENAMETOOLONG for a bad
 * name. xbuf_gc() does that for every xbuf name in /dev/shm: how many it
 * removed, or -errno if /dev/shm cannot be read. Every `xbuf` command runs
 * it first; `xbuf ls` shows what it removed as stale.
 */
int xbuf_reclaim(const char *name);
int xbuf_gc(void);

/* Fill levels of both rings. 0, -EFAULT (r NULL), -EBADF. */
int xbuf_rings(int fd, struct xbuf_rings *r);

/* Both directions' counters. 0, -EFAULT (st NULL), -EBADF. */
int xbuf_stat(int fd, struct xbuf_stat *st);

/* The element's name (without '/'), "" when private and unnamed; NULL if fd is no element. */
const char *xbuf_name(int fd);

/*
 * Which backend serves the element: XBUF_BACKEND_USER (shared memory
 * between processes, futex waits, EPIPE on peer death) or
 * XBUF_BACKEND_KERNEL (xbuf.ko: the driver side runs in the kernel and
 * ends its streams with the module's evl_shutdown_xbuf(); owner pids 0,
 * evl_get_xbuf() from user space returns NULL).
 * -EBADF if fd is no element.
 */
#define XBUF_BACKEND_USER	1
#define XBUF_BACKEND_KERNEL	2
int xbuf_backend(int fd);

/*
 * Zero-copy access. A begin call borrows a contiguous span of the ring and
 * the matching end call returns it; between the two, the calling thread
 * owns that end of the ring (other threads of the process wait in begin,
 * the same thread gets -EBUSY). Every positive begin must be followed by
 * an end on the same thread.
 *
 * Modes (flags):
 *   0              as the fd's O_NONBLOCK says, with read(2)/write(2) semantics
 *   XBUF_NONBLOCK  never wait: a read borrows what is there (-EAGAIN if empty)
 *   XBUF_NOWAIT    succeed only if a blocking call would complete right now,
 *                  else -EAGAIN: what an event loop needs before it waits
 */
#define XBUF_NONBLOCK	0x1
#define XBUF_NOWAIT	0x2

/*
 * Borrow up to count readable bytes at *data; returns how many (> 0), 0 for
 * count 0, or the errnos of xbuf_read() (negated), and -EFAULT (data NULL),
 * -EINVAL (unknown flags, or both).
 */
ssize_t xbuf_read_begin(int fd, size_t count, int flags, const void **data);
/* Consume n <= the borrowed bytes and return the borrow. 0, -EINVAL (no borrow of this thread, n too large), -EBADF. */
int xbuf_read_end(int fd, size_t n);
/* Borrow exactly count writable bytes at *data; returns count, 0 for count 0, or as xbuf_read_begin() with xbuf_write()'s errnos. */
ssize_t xbuf_write_begin(int fd, size_t count, int flags, void **data);
/* Publish n <= the borrowed bytes and return the borrow. 0, -EINVAL, -EBADF, as xbuf_read_end(). */
int xbuf_write_end(int fd, size_t n);

/*
 * Waiting without consuming.
 *   XBUF_POLLIN:  a blocking xbuf_read(count) would complete (count 0: any byte)
 *   XBUF_POLLOUT: a blocking xbuf_write(count) would complete
 * xbuf_poll() blocks the calling thread (timeout_ms < 0: forever) and returns
 * the ready events, 0 on timeout, or -EINVAL (unknown events, count above a
 * capacity), -ENOBUFS (no ring there), -EPIPE (the peer let go or died and
 * nothing is left), -EBUSY (another process holds the end), -EINTR, -EBADF.
 * The peer gone (let go or died): XBUF_POLLIN while bytes it wrote are left
 * (a blocking read would return them), -EPIPE once none are, also with
 * timeout_ms 0; xbuf_arm() likewise returns 1 while a tail is left and
 * -EPIPE after, and an armed wait ends ready (byte 0) when the producer
 * goes with bytes left.
 *
 * Every blocking call (reads, writes, xbuf_poll, evl_* without O_NONBLOCK)
 * polls the ring for up to 50 us before it sleeps; the environment variable
 * XBUF_SPIN_US, read once, sets that budget (0: sleep at once).
 *
 * xbuf_notify_fd() and xbuf_arm() serve event loops: arm hands the wait to a
 * helper thread and returns at once (1 if already ready, 0 if armed); when
 * the wait ends, the helper writes one byte to the notify fd: 0 when ready,
 * else the errno that ended it. One wait is armed per fd at a time.
 * xbuf_notify_fd() returns the read end of the pipe (the caller closes it),
 * -EEXIST (one already), -EMFILE, -ENFILE. xbuf_arm() returns 1, 0,
 * xbuf_poll()'s errnos, -ENOTCONN (no notify fd yet), -EBUSY (a wait is
 * armed already), -EAGAIN (no helper thread could be started).
 */
#define XBUF_POLLIN	0x1
#define XBUF_POLLOUT	0x4
int xbuf_poll(int fd, int events, size_t count, int timeout_ms);
int xbuf_notify_fd(int fd);
int xbuf_arm(int fd, int events, size_t count);

/*
 * The mapping, for bindings that view the rings directly: the base address
 * of this process's mapping of the element (laid out as xbuf/abi.h draws it).
 * It stays valid until the fd is closed.
 */
void *xbuf_map_base(int fd);

/*
 * Keep the element's mapping alive past xbuf_close(fd): for bindings that
 * hand out views of the rings which may outlive the fd (a garbage-collected
 * runtime). Returns a hold to pass to xbuf_map_release(), NULL if fd is no
 * element. A hold takes no part in the traffic: it claims no end.
 */
void *xbuf_map_hold(int fd);
void xbuf_map_release(void *hold);

/*
 * The fast path of a binding (docs/ABI.md, "The fast path of a binding"):
 * code that moves an application end's position itself, through the
 * mapping, with the ordering protocol of xbuf/abi.h, and calls C only to
 * sleep (xbuf_poll, xbuf_arm) and to wake the peer.
 *
 * xbuf_fast_claim() takes the end `events` names (XBUF_POLLIN: the inbound
 * consumer end, XBUF_POLLOUT: the outbound producer end) for fd: from then
 * on, until fd is closed, the calls that borrow it in this process
 * (xbuf_read, xbuf_write, xbuf_*_begin) answer -EBUSY: a C thread never
 * races the binding on one end. Readiness and sleeping (xbuf_poll,
 * xbuf_arm) still work. 0 (also when fd has it already), -EBADF, -EINVAL
 * (events not one of the two), -ENOBUFS (no ring there), -EBUSY (another
 * fd has it, a borrow of it is outstanding or a call is inside it, or
 * another process holds the end).
 *
 * xbuf_wake(): the binding published a position, found the peer's
 * `waiters` non-zero and its `wanted` satisfiable (K1 and the wake rule):
 * bump the end's seq and wake the peer (FUTEX_WAKE, or XBUF_IOC_KICK on a
 * kernel element). 0, -EBADF, -EINVAL, -ENOBUFS.
 *
 * xbuf_wake_word(): a process-local word that moves whenever a handle of
 * the process is closed or a peer this process watches dies: a binding
 * that caches "the peer is alive" (xbuf_peer_gone() said 0) re-asks when it
 * moves, or when the peer endpoint's `owner` word changes.
 *
 * xbuf_peer_gone(): has the peer of that end let go of it or died (1), or
 * not (0)? No syscall for a live peer once watched. -EBADF, -EINVAL, -ENOBUFS.
 *
 * xbuf_fast_fence(): 1 if this process may use K1's asymmetric form
 * (xbuf/abi.h): against a peer endpoint whose `fence` word is
 * XBUF_FENCE_MEMBARRIER, a commit may store its position with release and
 * load the peer's `waiters` with acquire, with no barrier between (a
 * compiler barrier only). 0: every commit keeps the full barrier. Decided
 * by this process's first claim (xbuf_fast_claim() included), constant
 * after it until fork; XBUF_FENCE=full makes it 0.
 */
int xbuf_fast_claim(int fd, int events);
int xbuf_wake(int fd, int events);
const uint32_t *xbuf_wake_word(void);
int xbuf_peer_gone(int fd, int events);
int xbuf_fast_fence(void);

/*
 * Driver (out-of-band) side: EVL's in-kernel API, same signatures and
 * return values. Driver code using only these compiles unchanged against
 * the kernel module (kmod/).
 */
struct evl_file;
struct evl_xbuf;

/*
 * Resolve an element fd of the calling process; NULL if it is none, if it
 * is a kernel element (its driver side is xbuf.ko's own evl_get_xbuf()), or
 * out of memory. Holds a reference.
 */
struct evl_xbuf *evl_get_xbuf(int efd, struct evl_file **efilpp);
/*
 * Drop the reference taken by evl_get_xbuf(). It does not end the stream:
 * the application keeps waiting for more (EVL), until evl_shutdown_xbuf()
 * or the death of a process holding the driver end.
 */
void evl_put_xbuf(struct evl_file *efilp);
/*
 * End the stream (not in EVL, which has none): the application reads what
 * is left, then EPIPE; a write that finds no room fails with EPIPE instead
 * of waiting. A later driver call, of
 * this process or another, starts a new stream where this one stopped.
 * 0, -EBUSY (another process holds a driver end, or this thread holds a
 * borrow), -EBADF (NULL). xbuf.ko exports the same call for in-kernel
 * drivers.
 */
int evl_shutdown_xbuf(struct evl_xbuf *xbuf);
/*
 * Driver-side readiness over several elements (user-space backend), so
 * one thread serves several applications: events POLLIN (outbound traffic
 * to read) and/or POLLOUT (room in the inbound ring), for one byte.
 * revents: POLLIN, POLLOUT, POLLHUP (the application side left: calls on
 * it return -EIDRM), POLLERR (-EBUSY: another process holds that end),
 * POLLNVAL (NULL handle, unknown events, or no ring in that direction).
 * Returns how many entries have revents, 0 on timeout (timeout_ms < 0:
 * none), -EINTR, -EFAULT, -EINVAL (more than 126 directions in all).
 */
struct evl_xbuf_pollfd {
	struct evl_xbuf *xbuf;
	short events;
	short revents;
};
int evl_poll_xbuf(struct evl_xbuf_pollfd *fds, int nfds, int timeout_ms);
/*
 * Read outbound traffic (f_flags: 0 or O_NONBLOCK); bytes read, 0 for
 * count 0 (before any other check), or -EAGAIN (non-blocking, empty),
 * -EINVAL (blocking, above the capacity), -ENOBUFS (no outbound ring),
 * -EIDRM (the application side left: at once, also for a blocked call),
 * -EBUSY (another process holds the driver end), -EINTR, -EBADF (NULL).
 */
ssize_t evl_read_xbuf(struct evl_xbuf *xbuf, void *buf, size_t count, int f_flags);
/*
 * Write inbound traffic (f_flags: 0 or O_NONBLOCK), all or nothing: count,
 * 0 for count 0 (before any other check), or -EAGAIN (non-blocking, no
 * room), -EINVAL (above the capacity), -ENOBUFS, -EIDRM, -EBUSY, -EINTR,
 * -EBADF, as evl_read_xbuf().
 */
ssize_t evl_write_xbuf(struct evl_xbuf *xbuf, const void *buf, size_t count, int f_flags);

#ifdef __cplusplus
}
#endif

#endif /* XBUF_H */
