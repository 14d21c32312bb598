/* SPDX-License-Identifier: MIT */
/*
 * xbuf/kernel.h - the uapi of the kernel backend (kmod/): device names,
 * ioctl numbers and structures, and the latmus record with the one
 * accumulator both samplers use. Usable from the kernel and from user space.
 *
 * Devices (devtmpfs creates them; no udev needed):
 *
 *   /dev/xbuf/clone    ioctl(XBUF_IOC_CLONE) creates an element, returns its fd;
 *                      root:<group> 0660 (module parameter `group`, a gid, or
 *                      the udev rule kmod/70-xbuf.rules: group "xbuf")
 *   /dev/xbuf/<name>   a public element: open(2) yields an element fd; owned by
 *                      the creator (euid, egid), mode 0600 or the one asked
 *   /dev/xbuf/latmus   companion driver: latency records into a cross-buffer
 *   /dev/xbuf/selftest test-only driver exposing the in-kernel API (tests only)
 *
 * An open of a public element is checked by the module too, against the
 * element's own owner, group and mode (so a mknod'ed node grants nothing),
 * and refused (ENOENT) for a node older than the element (a stale inode of
 * an element gone: an O_PATH fd, a bind mount). Minors are allocated
 * cyclically.
 *
 * Memory: an element's pages (header and data) are charged to its
 * creator's uid until it goes; a creation beyond the module parameter
 * `user_mem_max_mb` (default: a quarter of RAM, read it back in
 * /sys/module/xbuf/parameters/) fails with ENOMEM, and so does one whose
 * mapping could never fit in RAM, before anything is allocated.
 *
 * An element fd serves read(2) (inbound: driver -> app), write(2)
 * (outbound: app -> driver), poll(2), the ioctls below, and mmap(2) of the
 * layout of xbuf/abi.h. mmap offsets are *map* offsets: offset 0 length
 * info.map_size maps the whole element (data areas twice); any page-aligned
 * sub-range may be mapped alone (e.g. the info page first).
 *
 * Page protections of a mapping (decided per page, enforced by the kernel):
 *   info page, driver page, inbound data  read-only, whatever the VMA asks
 *   app page, outbound data               writable if mapped PROT_WRITE
 * A PROT_WRITE mapping that covers only read-only pages fails with EPERM;
 * a mapping without PROT_WRITE can never be made writable (VM_MAYWRITE is
 * cleared); mprotect(PROT_WRITE) over any read-only page fails with EACCES;
 * a store to a read-only page raises SIGBUS; mremap cannot grow a mapping.
 *
 * Sysfs: /sys/class/xbuf/<name>/rings (public) or /sys/class/xbuf/@<id>/rings
 * (private, id from XBUF_IOC_INFO) prints "ifill isize ofill osize";
 * mode 0400, owned by the element's creator.
 *
 * Access modes: an O_RDONLY element fd may read(2), poll(2) and
 * XBUF_IOC_WAIT(IN), never write(2) (EBADF), XBUF_IOC_WAIT(OUT) (EBADF),
 * XBUF_IOC_CLAIM (EBADF) or map PROT_WRITE (EACCES). XBUF_IOC_CLONE needs
 * a clone fd opened for writing (EBADF).
 */
#ifndef XBUF_KERNEL_H
#define XBUF_KERNEL_H

#include <linux/types.h>	/* __u32, __u64, __s32, __s64, __le32, __le64: as in xbuf/abi.h */
#include <asm/byteorder.h>	/* __cpu_to_le32(), __cpu_to_le64() */
#ifdef __KERNEL__
#include <linux/ioctl.h>
#else
#include <sys/ioctl.h>
#endif

#define XBUF_KDEV_DIR		"/dev/xbuf"
#define XBUF_KDEV_CLONE		"/dev/xbuf/clone"
#define XBUF_KDEV_LATMUS	"/dev/xbuf/latmus"
#define XBUF_KDEV_SELFTEST	"/dev/xbuf/selftest"
#define XBUF_KSYSFS_CLASS	"/sys/class/xbuf"

/* Creation flags (same values as xbuf.h). */
#define XBUF_KCLONE_PUBLIC	(1 << 16)
#define XBUF_KCLONE_NONBLOCK	(1 << 18)

#define XBUF_KNAME_LEN		64	/* including the NUL */

/*
 * XBUF_IOC_CLONE on /dev/xbuf/clone: returns a new element fd (O_CLOEXEC,
 * O_RDWR, plus O_NONBLOCK with XBUF_KCLONE_NONBLOCK) or -1/errno:
 * EINVAL (both sizes 0, a size > 2^30, unknown flag, public without name,
 * bad name, a mode with bits other than 0666), EEXIST (public name taken,
 * or still being released), ENAMETOOLONG (no NUL in name), ENOMEM (no
 * memory, over the creator's limit, or a size whose mapping cannot fit in
 * RAM), ENOSPC (too many elements), EBADF (clone fd not open for
 * writing). A name with a leading '/' is public.
 */
struct xbuf_clone_req {
	__u64 i_bufsz;			/* inbound capacity, bytes */
	__u64 o_bufsz;			/* outbound capacity, bytes */
	__u32 flags;			/* XBUF_KCLONE_* */
	char name[XBUF_KNAME_LEN];	/* NUL-terminated, "" = anonymous */
	__u32 mode;			/* public node's permissions (rw bits of 0666); 0: 0600 */
};

#define XBUF_KCLONE_MODE_DEFAULT	0600

/* XBUF_IOC_INFO on an element fd. */
struct xbuf_elem_info {
	__u64 map_size;			/* info.map_size: length of a full mmap */
	__u32 id;			/* sysfs: @<id> for private elements */
	__u32 flags;			/* XBUF_KCLONE_PUBLIC if public */
	char name[XBUF_KNAME_LEN];	/* without '/', "" if anonymous */
};

/* XBUF_IOC_RINGS on an element fd: same numbers as sysfs "rings". */
struct xbuf_elem_rings {
	__u64 ifill, isize, ofill, osize;
};

/*
 * XBUF_IOC_WAIT on an element fd: sleep until a blocking read(2) of
 * `count` bytes (XBUF_KWAIT_IN; count 0: any byte) and/or a blocking
 * write(2) of `count` bytes (XBUF_KWAIT_OUT) would complete. Returns the
 * ready mask (> 0), 0 on timeout, -1/EINTR, -1/EINVAL (count > capacity or
 * no ring in a requested direction: ENOBUFS). timeout_ns < 0: forever.
 * A waiter for OUT counts as a blocked writer (the driver may short-read).
 */
#define XBUF_KWAIT_IN		0x1
#define XBUF_KWAIT_OUT		0x4
struct xbuf_wait_req {
	__u32 events;
	__u32 __pad;
	__u64 count;
	__s64 timeout_ns;
};

#define XBUF_IOC_MAGIC		0xe7

#define XBUF_IOC_CLONE		_IOW(XBUF_IOC_MAGIC, 0x00, struct xbuf_clone_req)
/* Wake in-kernel waiters after advancing a position through the mapping. */
#define XBUF_IOC_KICK		_IO(XBUF_IOC_MAGIC, 0x01)
#define XBUF_IOC_INFO		_IOR(XBUF_IOC_MAGIC, 0x02, struct xbuf_elem_info)
#define XBUF_IOC_RINGS		_IOR(XBUF_IOC_MAGIC, 0x03, struct xbuf_elem_rings)
#define XBUF_IOC_WAIT		_IOW(XBUF_IOC_MAGIC, 0x04, struct xbuf_wait_req)
/*
 * Owner claims of the application ends, as the user-space backend's
 * `owner` words: XBUF_KCLAIM_IN is the consumer end of the inbound ring,
 * XBUF_KCLAIM_OUT the producer end of the outbound ring. A claim belongs
 * to the calling process's address space (fork() does not inherit it)
 * and needs a mapping of the element there (EINVAL without one); it ends
 * with XBUF_IOC_UNCLAIM or when that address space unmaps its last
 * mapping of the element (exit included). CLAIM is all or nothing: EBUSY
 * if another address space holds one of the ends, EBADF on an fd not
 * open for writing. While an end is claimed, read(2) (IN), write(2) (OUT)
 * and XBUF_IOC_WAIT on it fail with EBUSY in any other process; without
 * claims they work as always.
 */
#define XBUF_KCLAIM_IN		XBUF_KWAIT_IN
#define XBUF_KCLAIM_OUT		XBUF_KWAIT_OUT
#define XBUF_IOC_CLAIM		_IOW(XBUF_IOC_MAGIC, 0x06, __u32)
#define XBUF_IOC_UNCLAIM	_IOW(XBUF_IOC_MAGIC, 0x07, __u32)

/*
 * End every XBUF_IOC_WAIT on this file, now and later, with -ECANCELED:
 * what a library calls before it closes an fd that other threads may be
 * waiting on (nothing else can interrupt their ioctl). Sticky.
 */
#define XBUF_IOC_CANCEL		_IO(XBUF_IOC_MAGIC, 0x05)

/*
 * Companion driver (/dev/xbuf/latmus), one session per open file.
 * START: evl_get_xbuf(xbuf_fd), sample hrtimer latency every period_us and
 * write one struct xbuf_latmus_record per interval_us into the inbound ring
 * (O_NONBLOCK, from hard-irq context). EBUSY if running, EINVAL for
 * an fd that is no element, EINVAL for a period below
 * XBUF_LATMUS_MIN_PERIOD_US or interval < period, ENOSPC when the module
 * parameter `max_sessions` (default 4) sessions run already.
 * STOP (and close) stops the timer and drops the reference. STATS reads
 * the counters (a record that does not fit is counted in `dropped`).
 */
#define XBUF_LATMUS_MIN_PERIOD_US	20

struct xbuf_latmus_req {
	__s32 xbuf_fd;
	__u32 period_us;
	__u32 interval_us;
};

struct xbuf_latmus_record {		/* little-endian whatever the CPU, packed, 24 bytes */
	__le64 sum_lat;			/* ns, sum over `samples` */
	__le32 min_lat;			/* ns, signed */
	__le32 max_lat;			/* ns, signed */
	__le32 overruns;		/* timer periods missed */
	__le32 samples;
} __attribute__((packed));

/*
 * The one accumulator of both samplers (csrc/latmus.c's thread,
 * kmod/latmus.c's hrtimer), so both send the same records by the same rule:
 *
 *   latency  = actual wake-up time - expected wake-up time, ns, clamped to s32
 *   missed   = whole periods skipped before this wake-up (an overrun each)
 *   a record covers samples + overruns periods and is due once they cover
 *   the interval (per_interval periods); missed periods go to the record
 *   being filled even past the interval's end, so samples + overruns always
 *   says exactly how much scheduled time a record covers.
 */
struct xbuf_latmus_acc {
	__u64 sum;
	__s32 min, max;
	__u32 overruns, samples;
	__u64 periods;			/* samples + overruns */
};

static inline void xbuf_latmus_acc_reset(struct xbuf_latmus_acc *a)
{
	a->sum = 0;
	a->min = 0x7fffffff;
	a->max = -0x7fffffff - 1;
	a->overruns = 0;
	a->samples = 0;
	a->periods = 0;
}

/* Add one sample; nonzero when the record is due (then send it and reset). */
static inline int xbuf_latmus_acc_add(struct xbuf_latmus_acc *a, __s64 lat, __u64 missed,
				      __u32 per_interval)
{
	if (lat > 0x7fffffff)
		lat = 0x7fffffff;	/* > 2 s late: the record's s32 saturates */
	if (lat < -0x7fffffff - 1)
		lat = -0x7fffffff - 1;
	a->sum += (__u64)lat;
	if (lat < a->min)
		a->min = (__s32)lat;
	if (lat > a->max)
		a->max = (__s32)lat;
	a->samples++;
	a->overruns += (__u32)missed;
	a->periods += missed + 1;
	return a->periods >= per_interval;
}

/* The wire record of what the accumulator holds. */
static inline void xbuf_latmus_acc_record(const struct xbuf_latmus_acc *a,
					  struct xbuf_latmus_record *rec)
{
	rec->sum_lat = __cpu_to_le64(a->sum);
	rec->min_lat = __cpu_to_le32((__u32)a->min);
	rec->max_lat = __cpu_to_le32((__u32)a->max);
	rec->overruns = __cpu_to_le32(a->overruns);
	rec->samples = __cpu_to_le32(a->samples);
}

struct xbuf_latmus_stats {
	__u64 records;			/* records written */
	__u64 dropped;			/* records that did not fit */
	__u64 samples;			/* timer shots */
	__u32 running;
	__u32 __pad;
};

#define XBUF_LATMUS_IOC_START	_IOW(XBUF_IOC_MAGIC, 0x10, struct xbuf_latmus_req)
#define XBUF_LATMUS_IOC_STOP	_IO(XBUF_IOC_MAGIC, 0x11)
#define XBUF_LATMUS_IOC_STATS	_IOR(XBUF_IOC_MAGIC, 0x12, struct xbuf_latmus_stats)

/*
 * Test-only driver (/dev/xbuf/selftest, module xbuf_selftest.ko): calls the
 * in-kernel API on behalf of a test. BIND takes an element fd (EINVAL if it
 * is none); KREAD/KWRITE return what evl_read_xbuf()/evl_write_xbuf()
 * return (flags: XBUF_KIO_NONBLOCK -> O_NONBLOCK; XBUF_KIO_ATOMIC: call it
 * with preemption disabled, XBUF_KIO_IRQOFF: with irqs off) and set `ns`
 * to the time the call took. Built only for the tests (XBUF_SELFTEST=1).
 */
#define XBUF_KIO_NONBLOCK	0x1
#define XBUF_KIO_ATOMIC		0x2
#define XBUF_KIO_IRQOFF		0x4
struct xbuf_kio {
	__u64 buf;			/* user pointer */
	__u64 count;
	__u32 flags;
	__u32 ns;			/* out: duration of the in-kernel call, ns, saturated */
};

#define XBUF_SELFTEST_IOC_BIND	 _IOW(XBUF_IOC_MAGIC, 0x20, __s32)
#define XBUF_SELFTEST_IOC_UNBIND _IO(XBUF_IOC_MAGIC, 0x21)
#define XBUF_SELFTEST_IOC_KREAD	 _IOW(XBUF_IOC_MAGIC, 0x22, struct xbuf_kio)
#define XBUF_SELFTEST_IOC_KWRITE _IOW(XBUF_IOC_MAGIC, 0x23, struct xbuf_kio)

_Static_assert(sizeof(struct xbuf_clone_req) == 88, "clone req");
_Static_assert(sizeof(struct xbuf_latmus_record) == 24, "latmus record");
_Static_assert(sizeof(struct xbuf_latmus_req) == 12, "latmus req");

#endif /* XBUF_KERNEL_H */
