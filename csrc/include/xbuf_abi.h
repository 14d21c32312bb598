/* SPDX-License-Identifier: MIT */
/*
 * xbuf_abi.h - the shared-memory layout of one cross-buffer.
 *
 * Both producers of the mapping use this file unchanged: the user-space
 * backend (csrc/xbuf.c, a memfd or a POSIX shm object) and the kernel
 * module (kmod/). docs/ABI.md is the prose version of this comment.
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
 * Memory-ordering protocol (pairs are named in csrc/ring.c and kmod/):
 *  - producer: copy the bytes, then store-release prod.pos        (P1)
 *    consumer: load-acquire prod.pos, then read the bytes         (C1, pairs with P1)
 *  - consumer: read the bytes, then store-release cons.pos        (C2)
 *    producer: load-acquire cons.pos, then overwrite the bytes    (P2, pairs with C2)
 *  - a waiter increments its endpoint's `waiters`, full barrier, then reads
 *    the peer's `seq` and position again before sleeping on `seq`  (W1)
 *    a waker stores its position, full barrier, reads the peer's
 *    `waiters`; if non-zero it increments its own `seq` and wakes it (K1, pairs with W1)
 *  - a producer that starts waiting for room stores `wanted` (the smallest
 *    count among its sleeping writers) before `waiters`, and increments its
 *    `seq`, so a consumer sleeping for more bytes wakes. A blocking read
 *    is short only when a writer is really stuck: waiters != 0, fill > 0
 *    and capacity - fill < wanted (the deadlock EVL's documentation
 *    illustrates); a writer that fits is about to run, not blocked.
 */
#ifndef XBUF_ABI_H
#define XBUF_ABI_H

#include <linux/types.h>	/* __u32, __u64: the same in the kernel and in user space */

#define XBUF_MAGIC		0x46425858u	/* "XXBF" little-endian */
#define XBUF_ABI_VERSION	1u

#define XBUF_INBOUND		0	/* ring index: driver -> application */
#define XBUF_OUTBOUND		1	/* ring index: application -> driver */

#define XBUF_SIDE_APP		0	/* in-band endpoint: read(2) inbound, write(2) outbound */
#define XBUF_SIDE_DRIVER	1	/* out-of-band endpoint: evl_read_xbuf outbound, evl_write_xbuf inbound */

#define XBUF_MAX_RING_SIZE	(1ULL << 30)
#define XBUF_OWNER_GONE		0xffffffffu	/* the end's last holder let go of it */
#define XBUF_CACHELINE		64
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
	__u64 pos;		/* free-running count of bytes produced / consumed */
	__u32 seq;		/* futex word the peer sleeps on; bumped on progress when the peer waits */
	__u32 waiters;		/* threads of this end sleeping on the peer's seq */
	__u32 owner;		/* user-space backend: pid holding this end, 0 never held, XBUF_OWNER_GONE; kernel: 0 */
	__u32 wanted;		/* producer: the smallest count a sleeping writer needs room for */
	__u64 ops;		/* completed reads / writes */
	__u64 eagain;		/* operations that failed with EAGAIN */
	__u64 wakeups;		/* futex wakes this end issued to the peer */
} __attribute__((aligned(2 * XBUF_CACHELINE)));

/* A side page: the producer end of one ring and the consumer end of the other. */
struct xbuf_shm_side {
	struct xbuf_shm_endpoint prod;	/* app: outbound, driver: inbound */
	struct xbuf_shm_endpoint cons;	/* app: inbound, driver: outbound */
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

#endif /* XBUF_ABI_H */
