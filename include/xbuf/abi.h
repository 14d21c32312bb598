/* SPDX-License-Identifier: MIT */
/*
 * xbuf/abi.h - the shared-memory layout of one cross-buffer, its ordering
 * protocol, and the ring arithmetic both sides compute on it.
 *
 * Both producers of the mapping include this file unchanged: the
 * user-space backend (csrc/, a memfd or a file in /dev/shm) and the kernel
 * module (kmod/). Every rule that both must apply alike (the layout, the
 * clamped fill, the room, the short-read rule, element names) is a static
 * inline function here, defined once. docs/ABI.md is the prose version.
 *
 * One cross-buffer is one mappable object. Offsets in the object ("file
 * offsets") and in a process's mapping ("map offsets") differ only in that
 * each data area is mapped twice back to back:
 *
 *   file offset                        map offset
 *   0          +-----------------+     0
 *              | info page       |     immutable after creation
 *   1*page     +-----------------+     1*page
 *              | driver page     |     written by the driver (out-of-band) side only
 *   2*page     +-----------------+     2*page
 *              | app page        |     written by the application (in-band) side only
 *   3*page     +-----------------+     3*page
 *              | inbound data    |     driver produces, application consumes
 *              |                 |     ...mapped again right after itself
 *   3*page+I   +-----------------+     3*page + 2*I
 *              | outbound data   |     application produces, driver consumes
 *              |                 |     ...mapped again right after itself
 *   3*page+I+O +-----------------+     3*page + 2*I + 2*O
 *
 * I and O are the data sizes of the rings: powers of two, at least one page,
 * at least the ring's capacity (the size asked for at creation). A direction
 * created with size 0 has no data area (I or O is 0) and answers ENOBUFS.
 *
 * Positions are free-running 64-bit byte counts; fill = produced - consumed,
 * and a byte at position p lives at data[p & (data_size - 1)]. Because the
 * data area is mapped twice, any range of up to data_size bytes starting
 * anywhere in the first copy is contiguous: a record never splits at the wrap.
 *
 * Ownership (the BPF ring buffer's model): a side writes only the words of
 * its own page and the data area it produces into. A reader never trusts a
 * position the other side wrote: it clamps the fill to [0, capacity].
 * The kernel module maps the info page, the driver page and the inbound
 * data read-only into the application, with VM_MAYWRITE cleared.
 *
 * Each side page holds two endpoints: the producer endpoint of the ring that
 * side writes, and the consumer endpoint of the ring it reads. Every endpoint
 * sits on its own cache line(s), so the two ends of a ring never share one.
 *
 * Memory-ordering protocol (pairs are named in csrc/ring.c and kmod/xbuf_ring.c):
 *  - producer: copy the bytes, then store-release prod.pos        (P1)
 *    consumer: load-acquire prod.pos, then read the bytes         (C1, pairs with P1)
 *  - consumer: read the bytes, then store-release cons.pos        (C2)
 *    producer: load-acquire cons.pos, then overwrite the bytes    (P2, pairs with C2)
 *  - a waiter increments its endpoint's `waiters`, full barrier, then reads
 *    the peer's `seq` and position again before sleeping on `seq`  (W1)
 *    a waker stores its position, full barrier, reads the peer's
 *    `waiters`; if non-zero it increments its own `seq` and wakes it (K1, pairs with W1)
 *  - K1's asymmetric form: when the peer endpoint's `fence` word says
 *    XBUF_FENCE_MEMBARRIER, every sleeper of that end issues
 *    membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) between its W1 increment
 *    and its second look, which stands for the waker's full barrier in
 *    every process registered for it: a registered waker may then store its
 *    position with release and load `waiters` with acquire (no barrier
 *    instruction on the message path). Any other waker keeps the full
 *    barrier; so does everyone against a `fence` of 0.
 *  - a producer that starts waiting for room stores `wanted` (the smallest
 *    count among its sleeping writers) before `waiters`, and increments its
 *    `seq`, so a consumer sleeping for more bytes wakes. A blocking read
 *    is short only when a writer is really stuck: waiters != 0, fill > 0
 *    and capacity - fill < wanted (the deadlock EVL's documentation
 *    illustrates); a writer that fits is about to run, not blocked.
 *  - user-space backend: a process claiming an end (its OFD lock on the
 *    endpoint's first byte) resets waiters and wanted to 0, stores owner
 *    (release), then increments seq: never backwards (docs/ABI.md)
 */
#ifndef XBUF_ABI_H
#define XBUF_ABI_H

#include <linux/types.h>	/* __u32, __u64: the same in the kernel and in user space */
#include <linux/errno.h>	/* EINVAL, ENAMETOOLONG, EEXIST: the same numbers on both sides */

#define XBUF_MAGIC		0x46425858u	/* "XXBF" little-endian */
#define XBUF_ABI_VERSION	3u	/* 3: the endpoint's `fence` word (K1's asymmetric form): a 2 peer would not
				 * fence after W1 yet could inherit an end whose word says it does. 2: an
				 * end's owner is whoever holds its OFD lock (docs/ABI.md). EPROTO, never a silent mix */

#define XBUF_INBOUND		0	/* ring index: driver -> application */
#define XBUF_OUTBOUND		1	/* ring index: application -> driver */

#define XBUF_SIDE_APP		0	/* in-band endpoint: read(2) inbound, write(2) outbound */
#define XBUF_SIDE_DRIVER	1	/* out-of-band endpoint: evl_read_xbuf outbound, evl_write_xbuf inbound */

#define XBUF_MAX_RING_SIZE	(1ULL << 30)
#define XBUF_OWNER_GONE		0xffffffffu	/* the end's last holder let go of it */
#define XBUF_CACHELINE		64
#define XBUF_FENCE_MEMBARRIER	1u	/* `fence`: this end's sleepers fence with membarrier() after W1 */
#define XBUF_HEADER_PAGES	3	/* info, driver, app */

#define XBUF_INFO_PAGE		0
#define XBUF_DRIVER_PAGE	1
#define XBUF_APP_PAGE		2

/* Immutable description of one ring, in the info page. */
struct xbuf_shm_ring_info {
	__u64 capacity;		/* bytes the ring holds at most: the size asked for */
	__u64 data_size;	/* power of two >= max(capacity, page); 0 = no ring */
	__u64 data_file_off;	/* offset of the data area in the object */
	__u64 data_map_off;	/* offset of the first copy in a mapping */
};

/* The info page: written once by the creator before anyone can map it. */
struct xbuf_shm_info {
	__u32 magic;		/* XBUF_MAGIC */
	__u32 abi_version;	/* XBUF_ABI_VERSION */
	__u32 page_size;	/* page size the offsets were computed with */
	__u32 header_pages;	/* XBUF_HEADER_PAGES */
	__u64 file_size;	/* size of the object */
	__u64 map_size;		/* size of a full mapping (data areas twice) */
	struct xbuf_shm_ring_info ring[2];	/* [XBUF_INBOUND], [XBUF_OUTBOUND] */
};

/*
 * One end of one ring. The producer endpoint of ring R lives in the page of
 * the side that writes R, the consumer endpoint in the page of the side that
 * reads it.
 */
struct xbuf_shm_endpoint {
	/* First line: what this end stores on every call. */
	__u64 pos;		/* free-running count of bytes produced / consumed */
	__u64 ops;		/* completed reads / writes */
	__u64 eagain;		/* operations that failed with EAGAIN */
	__u64 wakeups;		/* futex wakes this end issued to the peer */
	/*
	 * Second line: stored only when this end sleeps, wakes its peer or is
	 * claimed, and loaded by the peer on every call (the end of stream,
	 * K1's `waiters`): it stays in the peer's cache while traffic flows,
	 * and the peer reads `pos` itself only when its last look at it says
	 * too little (a bare ring's pattern).
	 */
	__u32 seq __attribute__((aligned(XBUF_CACHELINE)));	/* futex word the peer sleeps on; bumped on progress
								 * when the peer waits */
	__u32 waiters;		/* threads of this end sleeping on the peer's seq */
	__u32 owner;		/* user-space backend: pid holding this end, 0 never held, XBUF_OWNER_GONE; kernel: 0,
				 * XBUF_OWNER_GONE in the driver page once the driver ended the stream.
				 * Display only: the holder is whoever has an OFD write lock on this
				 * endpoint's first byte of the object (docs/ABI.md, "Peer death") */
	__u32 wanted;		/* the smallest count among this end's sleepers (room, or fill) */
	__u32 fence;		/* XBUF_FENCE_MEMBARRIER, or 0: how this end's sleepers pair with the peer's
				 * K1 (the protocol above); stored by the claimer before its owner word */
} __attribute__((aligned(2 * XBUF_CACHELINE)));

/* A side page: the producer end of one ring and the consumer end of the other. */
struct xbuf_shm_side {
	struct xbuf_shm_endpoint prod;	/* app: outbound, driver: inbound */
	struct xbuf_shm_endpoint cons;	/* app: inbound, driver: outbound */
	__u32 creator;			/* app page, user-space backend: pid of the element's creator, who
					 * stands for the application until a process claims an app end
					 * (its OFD write lock on byte 0 of the object); else 0 */
};

/*
 * Two cache lines per endpoint keep the adjacent-line prefetcher from
 * pairing a producer's line with its consumer's.
 */
_Static_assert(sizeof(struct xbuf_shm_endpoint) == 2 * XBUF_CACHELINE, "endpoint size");
_Static_assert(sizeof(struct xbuf_shm_info) <= 4096, "info page");
_Static_assert(sizeof(struct xbuf_shm_side) <= 4096, "side page");

/* Which side produces ring R, and which consumes it. */
#define XBUF_PRODUCER_SIDE(ring)	((ring) == XBUF_INBOUND ? XBUF_SIDE_DRIVER : XBUF_SIDE_APP)
#define XBUF_CONSUMER_SIDE(ring)	((ring) == XBUF_INBOUND ? XBUF_SIDE_APP : XBUF_SIDE_DRIVER)

/*
 * Ring arithmetic. Positions are free-running; a side trusts only its own
 * position and clamps every number it derives from the peer's, so a lying
 * or broken peer can garble only its own traffic.
 */

/* Data size of a ring of `capacity` bytes: a power of two >= max(capacity, page); 0 = no ring. */
static inline __u64 xbuf_abi_data_size(__u64 capacity, __u32 page)
{
	__u64 size = page;

	if (!capacity)
		return 0;
	while (size < capacity)
		size <<= 1;
	return size;
}

/*
 * The info page for two capacities, every field set (no padding in the
 * struct): what both backends write at creation, and what an opener
 * compares with. A direction of size 0 has data_size, data_file_off and
 * data_map_off all 0.
 */
static inline void xbuf_abi_layout(struct xbuf_shm_info *info, __u64 icap, __u64 ocap,
				   __u32 page)
{
	__u64 file_off = (__u64)XBUF_HEADER_PAGES * page, map_off = file_off;
	__u64 caps[2] = { icap, ocap };
	int r;

	info->magic = XBUF_MAGIC;
	info->abi_version = XBUF_ABI_VERSION;
	info->page_size = page;
	info->header_pages = XBUF_HEADER_PAGES;
	for (r = 0; r < 2; r++) {
		struct xbuf_shm_ring_info *ri = &info->ring[r];
		__u64 size = xbuf_abi_data_size(caps[r], page);

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
 * Bytes a consumer may read: prod - cons clamped to [0, capacity]. A
 * producer position behind the consumer's reads as empty.
 */
static inline __u64 xbuf_abi_fill(__u64 capacity, __u64 prod, __u64 cons)
{
	__u64 fill = prod - cons;

	if ((__s64)fill < 0)
		return 0;
	return fill > capacity ? capacity : fill;
}

/*
 * Bytes a producer may write. A consumer position ahead of the producer's,
 * or more than a ring behind it, leaves no room: never overwrite what may
 * be unread.
 */
static inline __u64 xbuf_abi_room(__u64 capacity, __u64 prod, __u64 cons)
{
	__u64 used = prod - cons;

	return used > capacity ? 0 : capacity - used;
}

/*
 * EVL's short-read rule: a blocking read takes fewer than `count` bytes
 * only when a writer is stuck: it sleeps (waiters != 0), there is
 * something to read (fill > 0), and the room left is less than the
 * smallest write waiting for room (`wanted`). A writer that fits is about
 * to run, not stuck.
 */
static inline int xbuf_abi_writer_stuck(__u64 capacity, __u64 fill, __u32 waiters, __u64 wanted)
{
	return waiters && fill && capacity - fill < wanted;
}

/*
 * Names of /dev/xbuf/ that are devices of the module, not elements: no
 * public element of either backend may take them (-EEXIST), so a name
 * means the same element whichever backend serves it.
 */
#define XBUF_RESERVED_NAMES	{ "clone", "latmus", "selftest" }

static inline int xbuf_abi_streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/*
 * One rule for element names, both backends: at most XBUF_NAME_MAX bytes
 * (-ENAMETOOLONG); not "." or ".."; no '/', no control character, no
 * leading '@' (sysfs names private elements "@<id>"): -EINVAL. A public
 * element needs a name (-EINVAL) that is not reserved (-EEXIST); a
 * private one may have none. `name` is without the leading '/'.
 */
#define XBUF_NAME_MAX		63

static inline int xbuf_abi_check_name(const char *name, int public)
{
	static const char *const reserved[] = XBUF_RESERVED_NAMES;
	const unsigned char *p;
	unsigned int i;

	for (p = (const unsigned char *)name; *p; p++) {
		if (p - (const unsigned char *)name >= XBUF_NAME_MAX)
			return -ENAMETOOLONG;
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return -EINVAL;
	}
	if (!*name)
		return public ? -EINVAL : 0;
	if (*name == '@' || xbuf_abi_streq(name, ".") || xbuf_abi_streq(name, ".."))
		return -EINVAL;
	if (public)
		for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
			if (xbuf_abi_streq(name, reserved[i]))
				return -EEXIST;
	return 0;
}

#endif /* XBUF_ABI_H */
