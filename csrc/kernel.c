// SPDX-License-Identifier: MIT
/*
 * kernel.c - the kernel backend: elements served by xbuf.ko (kmod/).
 *
 * The module lays the element out exactly as xbuf/abi.h draws it and maps
 * it with one mmap(2) of map_size (the kernel places the data areas twice
 * itself), so the engine of ring.c runs the application side unchanged
 * over that mapping. What differs is below:
 *
 *  - sleeping: the pages are VM_PFNMAP, and a futex on them fails (EFAULT).
 *    An end sleeps in XBUF_IOC_WAIT, which waits for exactly what
 *    xb_ready() tests (a blocking read or write of `count` bytes would
 *    complete) on the kernel's wait queues, which the in-kernel driver
 *    wakes after its K1 (xbuf_drv_k1() in kmod/xbuf_ring.c);
 *  - waking: our commit's K1 (ring.c: seq_cst store of the position, then
 *    seq_cst load of the driver page's `waiters`) found an in-kernel
 *    sleeper: XBUF_IOC_KICK wakes the driver's wait queues;
 *  - claims: the kernel keeps them (XBUF_IOC_CLAIM: an end belongs to one
 *    address space, until it unmaps the element or unclaims), so a second
 *    process on the same end gets EBUSY, as with the user backend; our
 *    `owner` words stay 0;
 *  - the end of the stream: the in-kernel driver's evl_shutdown_xbuf()
 *    (or the death of a process driving an in-kernel driver) stores
 *    XBUF_OWNER_GONE in both driver page endpoints' `owner`, after its
 *    last positions (release), and XBUF_IOC_WAIT then answers EPIPE:
 *    kernel_peer_gone() reads that word, so ring.c drains, then says
 *    EPIPE, as on the user backend. The driver's next call stores 0
 *    again (a new stream).
 *
 * The element fd is the kernel's file: the mapping pins it (a VMA holds
 * its file), so a mapping hold keeps the element alive after close(2),
 * and xbuf_close() just closes the fd when the last reference goes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"
#include "xbuf/kernel.h"

static bool kernel_available(void)
{
	return access(XBUF_KDEV_CLONE, F_OK) == 0;
}

/* The module unlists a public name itself when the element goes. */
static int kernel_create(const struct xb_create_req *cr)
{
	struct xbuf_clone_req req;
	int cfd, fd;

	memset(&req, 0, sizeof(req));
	req.i_bufsz = cr->isize;
	req.o_bufsz = cr->osize;
	req.flags = (cr->public ? XBUF_KCLONE_PUBLIC : 0) | (cr->nonblock ? XBUF_KCLONE_NONBLOCK : 0);
	snprintf(req.name, sizeof(req.name), "%s", cr->name);	/* checked: <= XBUF_NAME_MAX */

	cfd = open(XBUF_KDEV_CLONE, O_RDWR | O_CLOEXEC);
	if (cfd < 0)
		return errno == ENOENT || errno == ENXIO || errno == ENODEV ? -ENODEV : -errno;
	fd = ioctl(cfd, XBUF_IOC_CLONE, &req);
	if (fd < 0)
		fd = -errno;
	close(cfd);
	return fd;
}

/*
 * Device nodes of /dev/xbuf/ that are no element (XBUF_RESERVED_NAMES,
 * which no public element may take): never open them as one.
 */
static bool reserved_name(const char *name)
{
	return xbuf_abi_check_name(name, 1) == -EEXIST;
}

static int kernel_open(const char *name, bool nonblock)
{
	char path[sizeof(XBUF_KDEV_DIR) + XBUF_NAME_MAX + 2];
	struct xbuf_elem_info ei;
	int fd;

	if (!kernel_available())
		return -ENODEV;
	if (reserved_name(name))
		return -ENOENT;
	snprintf(path, sizeof(path), XBUF_KDEV_DIR "/%s", name);
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (nonblock ? O_NONBLOCK : 0));
	if (fd < 0)
		return errno == ENXIO || errno == ENODEV ? -ENOENT : -errno;
	if (ioctl(fd, XBUF_IOC_INFO, &ei) < 0) {	/* something else lives there */
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/*
 * Is fd an element of xbuf.ko? Its file is the anon inode "[xbuf]" (from
 * XBUF_IOC_CLONE) or a char device of the module's major (/dev/xbuf/<name>).
 * The ioctl is only tried on such files, never on some other driver's.
 */
static bool kernel_probe(int fd, const struct stat *st, struct xb_ident *id)
{
	struct xbuf_elem_info ei;

	if (S_ISCHR(st->st_mode)) {
		struct stat cst;

		if (stat(XBUF_KDEV_CLONE, &cst) < 0 || !S_ISCHR(cst.st_mode) ||
		    major(cst.st_rdev) != major(st->st_rdev))
			return false;
	} else if (st->st_mode & S_IFMT) {
		/* Anon inodes had no file type before 6.x made them S_IFREG; ask /proc. */
		char proc[32], link[32];
		ssize_t n;

		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		n = readlink(proc, link, sizeof(link) - 1);
		if (n < 0)
			return false;
		link[n] = 0;
		if (strcmp(link, "anon_inode:[xbuf]"))
			return false;
	}
	if (ioctl(fd, XBUF_IOC_INFO, &ei) < 0)
		return false;
	id->a = ei.id;	/* all clone fds share one anon inode; the id is unique while mapped */
	id->b = 0;
	return true;
}

/* Map the element and check that its info page is what xbuf/abi.h says. */
static int kernel_map(int fd, struct xb_element *el)
{
	const struct xbuf_shm_info *info;
	struct xbuf_shm_info expect;
	struct xbuf_elem_info ei;
	void *base;
	int r;

	if (ioctl(fd, XBUF_IOC_INFO, &ei) < 0)
		return -EBADF;
	if (ei.map_size < (uint64_t)XBUF_HEADER_PAGES * 4096)
		return -EPROTO;
	base = mmap(NULL, (size_t)ei.map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return -errno;
	info = base;
	r = -EPROTO;
	if (info->magic != XBUF_MAGIC || info->abi_version != XBUF_ABI_VERSION ||
	    info->page_size != (uint32_t)sysconf(_SC_PAGESIZE) ||
	    info->ring[0].capacity > XBUF_MAX_RING_SIZE || info->ring[1].capacity > XBUF_MAX_RING_SIZE)
		goto fail;
	/* Exactly what xbuf_abi_layout() makes, as the user backend checks its objects. */
	xbuf_abi_layout(&expect, info->ring[0].capacity, info->ring[1].capacity, info->page_size);
	if (memcmp(&expect, info, sizeof(expect)) || expect.map_size != ei.map_size)
		goto fail;

	el->base = base;
	el->map_size = (size_t)ei.map_size;
	el->info = *info;
	snprintf(el->name, sizeof(el->name), "%s", ei.name);	/* the kernel knows its name */
	return 0;
fail:
	munmap(base, (size_t)ei.map_size);
	return r;
}

/* The kernel's own count: its driver positions are the authority. */
static int kernel_rings(struct xb_element *el, int fd, struct xbuf_rings *rg)
{
	struct xbuf_elem_rings r;

	(void)el;
	if (ioctl(fd, XBUF_IOC_RINGS, &r) < 0)
		return -errno;
	rg->ifill = r.ifill;
	rg->isize = r.isize;
	rg->ofill = r.ofill;
	rg->osize = r.osize;
	return 0;
}

/* No token: see kernel_sleep(). */
static uint32_t kernel_wait_token(void)
{
	return 0;
}

/* The element of an end: ends are el->end[ring][role]. */
static const struct xb_element *element_of(const struct xb_end *e)
{
	const struct xb_end *first = e - (e->ring * 2 + e->role);

	return (const struct xb_element *)((const char *)first - offsetof(struct xb_element, end));
}

/*
 * An fd of this process open for writing on the element (the claim is
 * the address space's, whichever fd asks), or -1. Claims are taken once
 * per end, so the walk of /proc/self/fd is no hot path.
 */
static int element_fd(const struct xb_element *el)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int found = -1;

	if (!d)
		return -1;
	while (found < 0 && (de = readdir(d))) {
		struct xb_ident id;
		struct stat st;
		char *end;
		long fd = strtol(de->d_name, &end, 10);
		int fl;

		if (*end || end == de->d_name || fd == dirfd(d))
			continue;
		fl = fcntl((int)fd, F_GETFL);
		if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY || fstat((int)fd, &st) < 0)
			continue;
		if (kernel_probe((int)fd, &st, &id) && id.a == el->id.a && id.b == el->id.b)
			found = (int)fd;
	}
	closedir(d);
	return found;
}

static uint32_t claim_bit(const struct xb_end *e)
{
	return e->ring == XBUF_INBOUND ? XBUF_KCLAIM_IN : XBUF_KCLAIM_OUT;
}

/*
 * Take the end for this process (the application side: the kernel is the
 * driver): EBUSY while another process holds it. Called under the end's
 * lock. A module without claims (ENOTTY) leaves the end unclaimed.
 */
static int kernel_claim(struct xb_end *e)
{
	uint32_t bit = claim_bit(e);
	int fd;

	if (e->claimed)
		return 0;
	fd = element_fd(element_of(e));
	if (fd < 0)
		return 0;
	if (ioctl(fd, XBUF_IOC_CLAIM, &bit) < 0)
		return errno == EBUSY ? -EBUSY : 0;
	e->claimed = true;
	return 0;
}

/*
 * The last handle of the side went: give the end back. Without an fd
 * left to ask through, the claim ends with the mapping (the kernel
 * counts it).
 */
static void kernel_release(struct xb_end *e)
{
	uint32_t bit = claim_bit(e);
	int fd;

	if (!e->claimed)
		return;
	e->claimed = false;
	fd = element_fd(element_of(e));
	if (fd >= 0)
		ioctl(fd, XBUF_IOC_UNCLAIM, &bit);
}

static long long ns_until(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000000000LL + (deadline->tv_nsec - now.tv_nsec);
}

/*
 * XBUF_IOC_WAIT for what the ends of `on` need. The kernel registers us
 * as a waiter itself (its W1: waiters++ then a full barrier in
 * prepare_to_wait(), against the driver's K1), re-checks, and returns at
 * once if the condition holds already, so a driver step between our
 * check and the ioctl is never missed. The token needs no look: a close ends
 * the wait with XBUF_IOC_CANCEL (kernel_cancel()), which is sticky, so a
 * close between our look at h->closed and the ioctl is not missed either.
 */
static int kernel_sleep(struct xb_handle *h, const struct xb_sleep_on *on, int n,
			uint32_t token, const struct timespec *deadline)
{
	/* EOS: the module reports the end of the stream (EPIPE); we look for it (kernel_peer_gone()). */
	struct xbuf_wait_req req = { .events = XBUF_KWAIT_EOS, .timeout_ns = -1 };
	int i;

	(void)token;
	if (__atomic_load_n(&h->closed, __ATOMIC_ACQUIRE))
		return -EBADF;
	for (i = 0; i < n; i++) {
		req.events |= on[i].events == XBUF_POLLIN ? XBUF_KWAIT_IN : XBUF_KWAIT_OUT;
		req.count = on[i].count;	/* xb_poll() asks the same count of both */
	}
	if (deadline) {
		long long left = ns_until(deadline);

		if (left <= 0)
			return -ETIMEDOUT;
		req.timeout_ns = left;
	}
	if (ioctl(h->fd, XBUF_IOC_WAIT, &req) >= 0)
		return 0;	/* ready, or the timeout passed: the caller re-checks */
	if (errno == ECANCELED)
		return -EBADF;	/* the handle is being closed */
	/* EINTR; EPIPE: the stream ended (the caller drains first); EINVAL/ENOBUFS: the engine checked */
	return -errno;
}

/* End the waits of this fd, now and later: it is being closed. */
static void kernel_cancel(struct xb_handle *h)
{
	ioctl(h->fd, XBUF_IOC_CANCEL);
}

/*
 * K1 in ring.c found the in-kernel peer waiting (driver page `waiters`):
 * it sleeps in wait_event*() on its wait queue, which only the kernel can
 * wake; the kick makes it re-check against our new position.
 */
static void kernel_wake(struct xb_handle *h, struct xb_end *e)
{
	(void)e;
	ioctl(h->fd, XBUF_IOC_KICK);
}

/*
 * Has the driver ended the stream? The module says so in the driver
 * page (XBUF_OWNER_GONE, 0 while it runs): no syscall. The acquire pairs
 * with the module's release of `owner` in evl_shutdown_xbuf(), after
 * its last positions: the fill read after this sees them (settle_now()).
 */
static bool kernel_peer_gone(struct xb_end *e)
{
	return __atomic_load_n(&e->peer->owner, __ATOMIC_ACQUIRE) == XBUF_OWNER_GONE;
}

static void kernel_unmap(struct xb_element *el)
{
	munmap(el->base, el->map_size);
}

/* Nothing of a kernel element names this process: the kernel is the driver, no claims. */
static void kernel_forked(struct xb_element *el)
{
	(void)el;
}

const struct xb_backend_ops xb_kernel_ops = {
	.backend	= XBUF_BACKEND_KERNEL,
	.local_driver	= false,	/* the driver side is xbuf.ko's evl_get_xbuf() */
	.available	= kernel_available,
	.create		= kernel_create,
	.open		= kernel_open,
	.probe		= kernel_probe,
	.map		= kernel_map,
	.unmap		= kernel_unmap,
	.forked		= kernel_forked,
	.rings		= kernel_rings,
	.unlink		= NULL,
	.adopt		= NULL,
	.closed		= NULL,		/* the kernel's file is the element: read(2)/write(2) are EVL's */
	.shutdown	= NULL,		/* the driver side is xbuf.ko's evl_shutdown_xbuf() */
	.claim		= kernel_claim,
	.release	= kernel_release,
	.wait_token	= kernel_wait_token,
	.sleep		= kernel_sleep,
	.wake		= kernel_wake,
	.peer_gone	= kernel_peer_gone,
	.cancel		= kernel_cancel,
};
