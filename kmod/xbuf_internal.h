/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xbuf_internal.h - what xbuf_main.c, xbuf_ring.c and xbuf_mmap.c share.
 *
 * Objects, from the outside in:
 *
 *   element fd  ---> struct xbk_file ---> struct evl_xbuf (kref) ---> pages
 *   (anon inode     (one per open file:     (one per element:        (vmap'ed
 *    or /dev/xbuf/   holds one kref and      rings, sysfs device,     in the
 *    <name>)         counts in app_files)    public name)             map order)
 *                                              ^
 *   evl_get_xbuf() --------------------------- one kref each, no file
 *
 * A VMA pins its file, the file pins the element, the element owns the
 * pages: no page is freed while it is mapped, nor while a driver holds a
 * reference. The application side is the element's files: when the last
 * one is released (its last fd closed and its last mapping gone, in
 * every process), the application has left (xbk_app_leave()): the name
 * and the device go, and the driver's calls fail with -EIDRM; the
 * memory stays until the last kref.
 *
 * One struct xbk_ring per direction. Each ring has two ends:
 *
 *            driver end (in-kernel API)         app end (read/write/mmap)
 *            ------------------------------     --------------------------
 *   lock     raw_spinlock_t, irqsave: callers   struct mutex, held only
 *            may run in hard irq; O(1) work     around a copy with page
 *            under it: reserve, then commit     faults disabled, never asleep
 *            (the copy runs outside it)         (a fault drops it first)
 *   position drv_pos: kernel memory, the        app_ep->pos in the app page:
 *            authority; mirrored to drv_ep->pos user-writable, read with
 *            in the (read-only) driver page     READ_ONCE/acquire, clamped
 *            drv_rsv: reserved up to there;
 *            drv_pos catches up when the last
 *            copy in flight commits (drv_busy)
 *   sleeps   drv_wq (+ drv_waiters)             app_wq (+ app_waiters), also
 *                                               poll(2) and XBUF_IOC_WAIT
 *   wanted   drv_wanted: smallest count of the  app_wanted: same for write(2)
 *            sleeping evl_write_xbuf() callers  and XBUF_IOC_WAIT(OUT) callers
 *            (both lists under sleep_lock, never under the raw lock, which
 *            only reads `wanted`; mirrored into the endpoint's `wanted` word)
 *
 *   inbound:  producer = driver end, consumer = app end
 *   outbound: producer = app end,    consumer = driver end
 */
#ifndef _XBUF_INTERNAL_H
#define _XBUF_INTERNAL_H

#include <linux/atomic.h>
#include <linux/irqflags.h>
#include <linux/irq_work.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/time64.h>
#include <linux/uidgid.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <evl/xbuf.h>
#include "xbuf/abi.h"
#include "xbuf/kernel.h"

struct device;
struct page;
struct vm_area_struct;

struct xbk_ring {
	/* Driver end. */
	raw_spinlock_t lock;
	u64 drv_pos;			/* published; under lock; lockless readers acquire */
	u64 drv_rsv;			/* reserved up to here (>= drv_pos); under lock */
	unsigned int drv_busy;		/* reservations being copied; under lock */
	atomic_t drv_waiters;		/* in-kernel callers asleep on this ring */
	wait_queue_head_t drv_wq;
	spinlock_t sleep_lock;		/* the two sleeper lists (task context only) */
	struct list_head drv_sleepers;	/* inbound: sleeping writers, under sleep_lock */
	u64 drv_wanted;			/* their smallest count (trusted) */
	/* App end. */
	struct mutex app_lock;
	atomic_t app_waiters;		/* read(2)/write(2)/WAIT callers asleep */
	wait_queue_head_t app_wq;
	struct list_head app_sleepers;	/* outbound: sleeping writers, under sleep_lock */
	u64 app_wanted;			/* their smallest count (trusted) */
	struct irq_work app_wake_work;	/* wakes app_wq when called in hard irq */
	/* Immutable after creation. */
	int dir;			/* XBUF_INBOUND / XBUF_OUTBOUND */
	u64 capacity;			/* 0: no ring (ENOBUFS) */
	u64 mask;			/* data_size - 1 */
	u8 *data;			/* first copy, the second follows */
	struct xbuf_shm_endpoint *drv_ep;	/* driver page: we write it */
	struct xbuf_shm_endpoint *app_ep;	/* app page: untrusted */
	struct evl_xbuf *xbuf;		/* the element of this ring */
	/*
	 * The driver ended the stream (evl_shutdown_xbuf()); under lock,
	 * lockless readers acquire. Mirrored as XBUF_OWNER_GONE in
	 * drv_ep->owner, the ABI's word for a peer gone.
	 */
	bool drv_ended;
};

/* What evl_get_xbuf() hands out: every reference of an element is this one object. */
struct evl_file {
	struct evl_xbuf *xbuf;
};

/* The application ends one may claim: [0] inbound consumer, [1] outbound producer. */
#define XBK_CLAIM_ENDS		2

struct evl_xbuf {
	struct kref ref;		/* files and driver references */
	struct evl_file efile;		/* evl_get_xbuf()'s handle */
	struct work_struct free_work;	/* the last put from atomic context frees here */
	u32 id;				/* minor number for public elements */
	bool public;
	bool ready;			/* device created, app not gone: open(2) may find it */
	bool listed;			/* the name and the id are taken; under xbk_lock */
	unsigned int app_files;		/* element files alive; under xbk_lock */
	bool app_gone;			/* the last one went: driver calls get -EIDRM */
	char name[XBUF_KNAME_LEN];
	struct device *dev;
	struct list_head next;		/* in xbk_named_list if named, from creation to the end of release */
	/* Ownership. */
	kuid_t uid;			/* creator (euid): node owner, charged for the pages */
	kgid_t gid;
	umode_t mode;			/* public node's permission bits */
	struct timespec64 created;	/* before the node: older inodes are stale */
	unsigned long charged;		/* pages charged to uid */
	/* Claims, see xbk_claim(). */
	struct mutex claim_lock;
	struct mm_struct *claim_mm[XBK_CLAIM_ENDS];	/* owner address space, or NULL */
	unsigned long claim_vmas[XBK_CLAIM_ENDS];	/* its mappings of this element */
	/* Memory, see xbuf_mmap.c. */
	struct page **pages;		/* file order: each page once */
	unsigned long nr_pages;
	struct page **map_pages;	/* map order: data pages twice */
	unsigned long nr_map_pages;
	unsigned long app_first[2];	/* app-owned map page ranges [first, end) */
	unsigned long app_end[2];
	void *base;			/* vmap of map_pages */
	struct xbuf_shm_info *info;
	struct xbuf_shm_side *drv;
	struct xbuf_shm_side *app;
	struct xbk_ring ring[2];	/* [XBUF_INBOUND], [XBUF_OUTBOUND] */
};

/* private_data of an element file. */
struct xbk_file {
	struct evl_xbuf *xbuf;
	bool cancelled;			/* XBUF_IOC_CANCEL: its waits end, sticky */
};

/* May the caller sleep? Not in irq, atomic or irqs-off context. */
static inline bool xbk_cannot_block(void)
{
	return !in_task() || in_atomic() || irqs_disabled();
}

/* xbuf_main.c */
int xbk_claimed_elsewhere(struct evl_xbuf *xbuf, u32 ends);
void xbk_claim_vma(struct evl_xbuf *xbuf, struct mm_struct *mm, int delta);

/* xbuf_mmap.c */
unsigned long xbk_mem_pages(u64 i_bufsz, u64 o_bufsz, unsigned long *map_pages);
int xbk_mem_alloc(struct evl_xbuf *xbuf, u64 i_bufsz, u64 o_bufsz);
bool xbk_is_our_vma(const struct vm_area_struct *vma, const struct evl_xbuf *xbuf);
void xbk_mem_free(struct evl_xbuf *xbuf);
int xbk_mmap(struct file *filp, struct vm_area_struct *vma);

/* xbuf_ring.c */
void xbk_ring_init(struct evl_xbuf *xbuf, int dir);
void xbk_ring_destroy(struct xbk_ring *r);
ssize_t xbk_app_read(struct evl_xbuf *xbuf, char __user *ubuf, size_t count,
		      bool nonblock);
ssize_t xbk_app_write(struct evl_xbuf *xbuf, const char __user *ubuf,
		       size_t count, bool nonblock);
u64 xbk_ring_fill(struct xbk_ring *r);
__poll_t xbk_ring_poll(struct evl_xbuf *xbuf);
long xbk_ring_wait(struct evl_xbuf *xbuf, const struct xbuf_wait_req *req,
		    const bool *cancelled);
void xbk_ring_cancel(struct evl_xbuf *xbuf, bool *cancelled);
void xbk_ring_kick(struct evl_xbuf *xbuf);
void xbk_ring_app_gone(struct evl_xbuf *xbuf);

#endif /* _XBUF_INTERNAL_H */
