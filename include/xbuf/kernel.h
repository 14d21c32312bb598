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
 * The stream and the two sides leaving (EVL's rules, plus an end of stream):
 *  - the driver side (in-kernel: evl_get_xbuf() in kmod/include/evl/xbuf.h)
 *    taking and dropping references never ends the stream: the
 *    application keeps waiting. It ends when the driver calls
 *    evl_shutdown_xbuf() (xbuf_latmus.ko does when a session ends;
 *    xbuf_selftest.ko on SHUTDOWN, and when the file of the process
 *    driving it is released: its close or its death). Then read(2)
 *    returns what is left (a blocking read: fewer than count bytes),
 *    then -1/EPIPE, blocking or not; write(2) fails with EPIPE at once;
 *    poll(2) adds EPOLLHUP; XBUF_IOC_WAIT with XBUF_KWAIT_EOS reports IN
 *    while a byte is left, then -1/EPIPE, and -1/EPIPE for OUT. The driver page says so
 *    with the ABI's peer-gone word: both of its endpoints' `owner` is
 *    XBUF_OWNER_GONE (stored after the last positions, release), 0
 *    while the stream runs. The next driver call (evl_read_xbuf() or
 *    evl_write_xbuf(), count > 0) starts a new stream where the old one
 *    stopped: positions go on, `owner` is 0 again, nothing is lost or
 *    replayed.
 *  - the application leaving: when an element's last file is released
 *    (the last fd closed and the last mapping gone, in every process: a
 *    mapping pins its file), every driver call blocked on it returns
 *    -EIDRM at once, and every later one (count > 0) returns -EIDRM,
 *    used or not; the node and sysfs go, and the name is free again. A
 *    driver's reference keeps the memory valid until evl_put_xbuf().
 *    Until then a public element stays openable by name while any fd or
 *    mapping of it lives, the creator's or not.
 *  - count 0 returns 0 before any other check: read(2), write(2), and
 *    the in-kernel calls (XBUF_IOC_WAIT's count 0 means "any byte").
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
 * bad name, a mode with bits other than 0666), EEXIST (the name is held by a live element, public or private,
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
 * no ring in a requested direction: ENOBUFS), -1/EPIPE (with XBUF_KWAIT_EOS
 * in events: the stream ended and nothing requested is ready, see above;
 * without it the end is not reported, as before it existed: a caller
 * that does not look for the end would take the EPIPE for "look again"
 * and spin). timeout_ns < 0: forever.
 * A waiter for OUT counts as a blocked writer (the driver may short-read).
 */
#define XBUF_KWAIT_IN		0x1
#define XBUF_KWAIT_OUT		0x4
#define XBUF_KWAIT_EOS		0x8	/* report the end of the stream: EPIPE */
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
 * STOP (and close) stops the timer, ends the stream (evl_shutdown_xbuf():
 * the reader drains, then EPIPE) and drops the reference. STATS reads
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

/*
 * The per-sample histogram of both samplers, as EVL's latmus driver keeps
 * it: 1 µs cells, cell i counts the latencies in [i, i + 1) µs (a
 * negative latency counts in cell 0), cell `cells` counts the outliers
 * (>= cells µs). cells is 1..XBUF_LATMUS_HCELLS_MAX, EVL's -H.
 */
#define XBUF_LATMUS_HCELLS_DEFAULT	200
#define XBUF_LATMUS_HCELLS_MAX		1000

static inline __u32 xbuf_latmus_cell(__s64 lat, __u32 cells)
{
	__u32 us;

	if (lat <= 0)
		return 0;
	if (lat > 0x7fffffff)
		lat = 0x7fffffff;
	us = (__u32)lat / 1000u;	/* a 32-bit division: no div64 in the kernel */
	return us < cells ? us : cells;
}

/*
 * Framed stream (XBUF_LATMUS_IOC_SETUP, xbuf_latmus_run()): the inbound
 * ring carries frames, each written whole or not at all, each starting
 * with this 8-byte header; `size` covers the header and the payload and
 * is a multiple of 4. Frames of an unknown type are skipped by size.
 *
 *   INTERVAL  struct xbuf_latmus_record (24 bytes): one reporting interval,
 *             dropped and counted when the ring is full (as the bare
 *             records of XBUF_LATMUS_IOC_START). flags: XBUF_LATMUS_FF_PARTIAL
 *             on the last one, which covers less than an interval.
 *   HIST      __le32 cells, __le32 n, then n x { __le32 cell, __le32 count }:
 *             counts to add to the histogram (cell == cells: outliers),
 *             since the last HIST frame that went through. Never dropped:
 *             a HIST frame that does not fit stays pending and the next
 *             samples add to it.
 *   SAMPLES   n x __le32: every latency, ns (0 for a negative one,
 *             saturated at 2^32 - 1), in order. Never dropped: samples
 *             wait in the sampler's staging area until they fit; only
 *             when that area is full too is a sample lost, and counted.
 *   END       struct xbuf_latmus_end: the last frame, once everything
 *             above went through; the sampler writes nothing after it.
 */
struct xbuf_latmus_frame {
	__le16 type;
	__le16 flags;
	__le32 size;
} __attribute__((packed));

#define XBUF_LATMUS_F_INTERVAL	1
#define XBUF_LATMUS_F_HIST	2
#define XBUF_LATMUS_F_SAMPLES	3
#define XBUF_LATMUS_F_END	4

#define XBUF_LATMUS_FF_PARTIAL	0x1

struct xbuf_latmus_hist_cell {
	__le32 cell;
	__le32 count;
} __attribute__((packed));

struct xbuf_latmus_end {		/* the run's totals, as the sampler counted them */
	__le64 samples;			/* wake-ups measured (= histogram total) */
	__le64 overruns;		/* periods missed */
	__le64 records;			/* INTERVAL frames written */
	__le64 dropped;			/* INTERVAL frames that did not fit */
	__le64 lost;			/* raw samples lost (staging area full); 0 without SAMPLES */
	__le32 error;			/* signed: 0, or the -errno that ended the run */
	__u32 __pad;
} __attribute__((packed));

/* Raw samples per SAMPLES frame, and the largest frame (a full HIST). */
#define XBUF_LATMUS_CHUNK	1024u
#define XBUF_LATMUS_FRAME_MAX	(sizeof(struct xbuf_latmus_frame) + 8 + \
				 (XBUF_LATMUS_HCELLS_MAX + 1) * sizeof(struct xbuf_latmus_hist_cell))

/* Contexts of the sampler (EVL's --user, --irq, --kernel). */
#define XBUF_LATMUS_CTX_USER	0	/* a user-space thread (csrc/latmus.c) */
#define XBUF_LATMUS_CTX_IRQ	1	/* the module's hrtimer handler, hard IRQ */
#define XBUF_LATMUS_CTX_KTHREAD	2	/* a kernel thread the module's timer wakes */

/* setup.flags */
#define XBUF_LATMUS_SAMPLES	0x1	/* stream every raw sample (SAMPLES frames) */

/*
 * XBUF_LATMUS_IOC_SETUP on /dev/xbuf/latmus: START's framed successor.
 * context IRQ or KTHREAD; cpu -1 or the CPU to sample on; priority of the
 * kernel thread (SCHED_FIFO 1..99); hcells 0 (no HIST frames) or 1..1000;
 * periods: stop by itself after that many periods (0: until FINISH or
 * STOP); fake: test mode, the latency of sample i is fake[i % fake_count]
 * ns instead of the clock's (fake_count <= XBUF_LATMUS_FAKE_MAX, 0: off).
 * FINISH: stop sampling, send what is pending, then END, and stop; returns
 * at once (STATS.running drops to 0 once END is written). STOP: at once,
 * whatever is pending is not sent. A sampler that stops by itself (END
 * written, or the ring failed) ends the stream then, STOP or close
 * otherwise: after END (or what an error left), a reader gets EPIPE.
 */
#define XBUF_LATMUS_FAKE_MAX	4096
struct xbuf_latmus_setup {
	__s32 xbuf_fd;
	__u32 period_us;
	__u32 interval_us;
	__u32 context;
	__s32 cpu;
	__u32 priority;
	__u32 hcells;
	__u32 flags;
	__u64 periods;
	__u64 fake_ptr;			/* user pointer to __u32[fake_count] */
	__u32 fake_count;
	__u32 __pad;
};

/*
 * The framed emitter both samplers share: define XBUF_LATMUS_EMITTER
 * after declaring evl_write_xbuf() (xbuf.h in user space, evl/xbuf.h in
 * the kernel) and O_NONBLOCK. The caller allocates hist ([hcells + 1]),
 * stage (stage_cap entries, or NULL) and frame (XBUF_LATMUS_FRAME_MAX).
 * framed 0: the bare records of XBUF_LATMUS_IOC_START, nothing else.
 */
struct xbuf_latmus_out {
	struct evl_xbuf *xbuf;
	__u32 per_interval, hcells, framed;
	struct xbuf_latmus_acc acc;
	__u32 *hist;			/* pending HIST counts */
	__u32 hist_pending;		/* samples in them */
	__u32 *stage;			/* raw samples not yet sent: a ring */
	__u32 stage_cap, stage_head, stage_len;
	__u8 *frame;
	int fin;			/* final flush: the step reached */
	__u64 samples, overruns, records, dropped, lost;
};


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
#define XBUF_LATMUS_IOC_SETUP	_IOW(XBUF_IOC_MAGIC, 0x13, struct xbuf_latmus_setup)
#define XBUF_LATMUS_IOC_FINISH	_IO(XBUF_IOC_MAGIC, 0x14)

/*
 * Test-only driver (/dev/xbuf/selftest, module xbuf_selftest.ko): calls the
 * in-kernel API on behalf of a test. BIND takes an element fd (EINVAL if it
 * is none); KREAD/KWRITE return what evl_read_xbuf()/evl_write_xbuf()
 * return (flags: XBUF_KIO_NONBLOCK -> O_NONBLOCK; XBUF_KIO_ATOMIC: call it
 * with preemption disabled, XBUF_KIO_IRQOFF: with irqs off) and set `ns`
 * to the time the call took. SHUTDOWN returns evl_shutdown_xbuf()'s answer;
 * UNBIND is evl_put_xbuf() alone (the stream goes on); the release of the
 * selftest file (close, or the death of the process driving it) ends the
 * stream first, then puts: the driving process gone is the driver gone.
 * ENXIO without a binding. Built only for the tests (XBUF_SELFTEST=1).
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
#define XBUF_SELFTEST_IOC_SHUTDOWN _IO(XBUF_IOC_MAGIC, 0x24)

_Static_assert(sizeof(struct xbuf_clone_req) == 88, "clone req");
_Static_assert(sizeof(struct xbuf_latmus_record) == 24, "latmus record");
_Static_assert(sizeof(struct xbuf_latmus_req) == 12, "latmus req");
_Static_assert(sizeof(struct xbuf_latmus_frame) == 8, "latmus frame");
_Static_assert(sizeof(struct xbuf_latmus_end) == 48, "latmus end");
_Static_assert(sizeof(struct xbuf_latmus_setup) == 56, "latmus setup");

#endif /* XBUF_KERNEL_H */

/* Outside the include guard: a later #include with XBUF_LATMUS_EMITTER defined gets it. */
#if defined(XBUF_LATMUS_EMITTER) && !defined(XBUF_LATMUS_EMITTER_DEFINED)
#define XBUF_LATMUS_EMITTER_DEFINED

static inline void xbuf_latmus_out_init(struct xbuf_latmus_out *o)
{
	__u32 i;

	xbuf_latmus_acc_reset(&o->acc);
	for (i = 0; o->hist && i <= o->hcells; i++)
		o->hist[i] = 0;
	o->hist_pending = 0;
	o->stage_head = o->stage_len = 0;
	o->fin = 0;
	o->samples = o->overruns = o->records = o->dropped = o->lost = 0;
}

/* 1 written, 0 no room (EAGAIN), < 0 the ring is unusable. */
static inline int xbuf_latmus_put(struct xbuf_latmus_out *o, const void *buf, __u32 size)
{
	ssize_t ret = evl_write_xbuf(o->xbuf, buf, size, O_NONBLOCK);

	if (ret == (ssize_t)size)
		return 1;
	if (ret == -EAGAIN)
		return 0;
	return ret < 0 ? (int)ret : -EIO;
}

static inline void xbuf_latmus_head(void *at, __u16 type, __u16 flags, __u32 size)
{
	struct xbuf_latmus_frame *f = at;

	f->type = __cpu_to_le16(type);
	f->flags = __cpu_to_le16(flags);
	f->size = __cpu_to_le32(size);
}

/* The interval in the accumulator: sent or dropped (partial: retried, 0 = later). */
static inline int xbuf_latmus_out_interval(struct xbuf_latmus_out *o, int partial)
{
	__u8 *p = o->frame;
	__u32 size = sizeof(struct xbuf_latmus_record);
	int ret;

	if (o->framed) {
		xbuf_latmus_head(p, XBUF_LATMUS_F_INTERVAL, partial ? XBUF_LATMUS_FF_PARTIAL : 0,
				 sizeof(struct xbuf_latmus_frame) + size);
		p += sizeof(struct xbuf_latmus_frame);
		size += sizeof(struct xbuf_latmus_frame);
	}
	xbuf_latmus_acc_record(&o->acc, (struct xbuf_latmus_record *)p);
	ret = xbuf_latmus_put(o, o->frame, size);
	if (ret == 0 && partial)
		return 0;		/* the last one waits for room: it is never dropped */
	if (ret == 0)
		o->dropped++;		/* the reader is behind: lose a record, not the timing */
	else if (ret > 0)
		o->records++;
	xbuf_latmus_acc_reset(&o->acc);
	return ret < 0 ? ret : 1;
}

/* The pending histogram counts: 1 sent (or none pending), 0 no room. */
static inline int xbuf_latmus_out_hist(struct xbuf_latmus_out *o)
{
	struct xbuf_latmus_hist_cell *c;
	__u32 i, n = 0, size;
	__le32 *w;
	int ret;

	if (!o->hist || !o->hist_pending)
		return 1;
	w = (__le32 *)(o->frame + sizeof(struct xbuf_latmus_frame));
	c = (struct xbuf_latmus_hist_cell *)(w + 2);
	for (i = 0; i <= o->hcells; i++) {
		if (!o->hist[i])
			continue;
		c[n].cell = __cpu_to_le32(i);
		c[n].count = __cpu_to_le32(o->hist[i]);
		n++;
	}
	w[0] = __cpu_to_le32(o->hcells);
	w[1] = __cpu_to_le32(n);
	size = sizeof(struct xbuf_latmus_frame) + 8 + n * sizeof(*c);
	xbuf_latmus_head(o->frame, XBUF_LATMUS_F_HIST, 0, size);
	ret = xbuf_latmus_put(o, o->frame, size);
	if (ret <= 0)
		return ret;
	for (i = 0; i <= o->hcells; i++)
		o->hist[i] = 0;
	o->hist_pending = 0;
	return 1;
}

/* Staged raw samples, whole chunks (all of them if `all`): 1 done, 0 no room. */
static inline int xbuf_latmus_out_samples(struct xbuf_latmus_out *o, int all)
{
	__le32 *w = (__le32 *)(o->frame + sizeof(struct xbuf_latmus_frame));
	__u32 n, i, size;
	int ret;

	while (o->stage_len >= XBUF_LATMUS_CHUNK || (all && o->stage_len)) {
		n = o->stage_len < XBUF_LATMUS_CHUNK ? o->stage_len : XBUF_LATMUS_CHUNK;
		for (i = 0; i < n; i++)
			w[i] = __cpu_to_le32(o->stage[(o->stage_head + i) % o->stage_cap]);
		size = sizeof(struct xbuf_latmus_frame) + n * 4;
		xbuf_latmus_head(o->frame, XBUF_LATMUS_F_SAMPLES, 0, size);
		ret = xbuf_latmus_put(o, o->frame, size);
		if (ret <= 0)
			return ret;
		o->stage_head = (o->stage_head + n) % o->stage_cap;
		o->stage_len -= n;
	}
	return 1;
}

/*
 * One sample (latency ns, periods missed before it). Returns 0, or < 0
 * when the ring is unusable (the sampler stops).
 */
static inline int xbuf_latmus_out_sample(struct xbuf_latmus_out *o, __s64 lat, __u64 missed)
{
	int ret = 0;

	o->samples++;
	o->overruns += missed;
	if (o->hist) {
		o->hist[xbuf_latmus_cell(lat, o->hcells)]++;
		o->hist_pending++;
	}
	if (o->stage) {
		if (o->stage_len < o->stage_cap) {
			__u32 v = lat <= 0 ? 0 : lat > 0xffffffffll ? 0xffffffffu : (__u32)lat;

			o->stage[(o->stage_head + o->stage_len) % o->stage_cap] = v;
			o->stage_len++;
		} else {
			o->lost++;	/* ring and staging area both full: counted */
		}
	}
	if (xbuf_latmus_acc_add(&o->acc, lat, missed, o->per_interval)) {
		ret = xbuf_latmus_out_interval(o, 0);
		if (ret >= 0 && o->framed)
			ret = xbuf_latmus_out_hist(o);
	}
	if (ret >= 0 && o->stage && o->stage_len >= XBUF_LATMUS_CHUNK)
		ret = xbuf_latmus_out_samples(o, 0);
	return ret < 0 ? ret : 0;
}

/*
 * The end of a run: the partial interval, the histogram, every staged
 * sample, then END (error: the run's). Call again while it returns 0 (no
 * room yet); 1 once END is written, < 0 when the ring is unusable.
 */
static inline int xbuf_latmus_out_finish(struct xbuf_latmus_out *o, int error)
{
	struct xbuf_latmus_end *e;
	int ret = 1;

	if (!o->framed)
		return 1;		/* bare records: a partial interval is not sent */
	if (o->fin == 0) {
		if (o->acc.samples && (ret = xbuf_latmus_out_interval(o, 1)) <= 0)
			return ret;
		o->fin = 1;
	}
	if (o->fin == 1) {
		if ((ret = xbuf_latmus_out_hist(o)) <= 0)
			return ret;
		o->fin = 2;
	}
	if (o->fin == 2) {
		if (o->stage && (ret = xbuf_latmus_out_samples(o, 1)) <= 0)
			return ret;
		o->fin = 3;
	}
	if (o->fin == 3) {
		e = (struct xbuf_latmus_end *)(o->frame + sizeof(struct xbuf_latmus_frame));
		e->samples = __cpu_to_le64(o->samples);
		e->overruns = __cpu_to_le64(o->overruns);
		e->records = __cpu_to_le64(o->records);
		e->dropped = __cpu_to_le64(o->dropped);
		e->lost = __cpu_to_le64(o->lost);
		e->error = __cpu_to_le32((__u32)error);
		e->__pad = 0;
		xbuf_latmus_head(o->frame, XBUF_LATMUS_F_END, 0,
				 sizeof(struct xbuf_latmus_frame) + sizeof(*e));
		ret = xbuf_latmus_put(o, o->frame, sizeof(struct xbuf_latmus_frame) + sizeof(*e));
		if (ret <= 0)
			return ret;
		o->fin = 4;
	}
	return 1;
}

#endif /* XBUF_LATMUS_EMITTER */
