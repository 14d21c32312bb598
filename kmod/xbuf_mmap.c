// SPDX-License-Identifier: GPL-2.0
/*
 * xbuf_mmap.c - the pages of an element and how they are mapped.
 *
 * The pages are allocated one by one (file order), then vmap()ed in the
 * map order of xbuf/abi.h, where each data area appears twice:
 *
 *   map page   0        1        2        3 .. 3+2i-1         3+2i .. 3+2i+2o-1
 *            +--------+--------+--------+------------------+------------------+
 *            | info   | driver | app    | inbound  x2      | outbound x2      |
 *            +--------+--------+--------+------------------+------------------+
 *   user      RO       RO       RW       RO                 RW
 *   kernel    RW (the kernel writes everything through the vmap)
 *
 * (i, o: data pages of each ring.) A user mmap() offset is a map offset:
 * vm_pgoff indexes map_pages[] directly, so a mapping of the whole element
 * is one mmap(0, info.map_size) and any page-aligned piece can be mapped
 * alone.
 *
 * Protection is per page, inside one VMA (the BPF ring buffer uses one
 * VMA per protection instead; one call is what xbuf/abi.h promises):
 *  - the VMA is VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP: no GUP,
 *    no /proc/pid/mem access, mremap cannot grow it or duplicate it;
 *  - pages are inserted on fault with vma->vm_page_prot, which is never
 *    writable for a shared writable VMA because we have ->pfn_mkwrite
 *    (vma_wants_writenotify()); the first store to a page faults again and
 *    ->pfn_mkwrite refuses it (SIGBUS) unless the page is app-owned;
 *  - ->mprotect refuses PROT_WRITE over any read-only page (EACCES);
 *  - a mapping without PROT_WRITE loses VM_MAYWRITE (BPF ringbuf's rule),
 *    and PROT_WRITE over read-only pages only is refused (EPERM);
 *  - MAP_PRIVATE is refused: private COW copies of our pages make no sense.
 */
#include <linux/errno.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/version.h>
#include <linux/vmalloc.h>
#include "xbuf_internal.h"

/*
 * The pages an element of these sizes needs (what its creator is charged),
 * and the pages of its full mapping (data areas twice); 0 when that
 * mapping could never be made: vmap() refuses more pages than the RAM
 * has, and the creation must fail before anything is allocated.
 */
unsigned long xbk_mem_pages(u64 i_bufsz, u64 o_bufsz, unsigned long *map_pages)
{
	struct xbuf_shm_info layout;

	xbuf_abi_layout(&layout, i_bufsz, o_bufsz, PAGE_SIZE);
	*map_pages = layout.map_size >> PAGE_SHIFT;
	if (*map_pages > totalram_pages())
		return 0;

	return layout.file_size >> PAGE_SHIFT;
}

/*
 * Allocate the pages of an element and lay them out. The info page is
 * xbuf_abi_layout()'s, and every page count and offset below derives from
 * it, so the module's mapping is the library's to the byte (a direction
 * of size 0 has no pages and data offsets 0). Sizes were checked with
 * xbk_mem_pages() and charged by the caller. The allocation may fail
 * rather than wake the OOM killer (__GFP_RETRY_MAYFAIL: our pages are in
 * nobody's RSS, so it would kill others), and a fatal signal ends it.
 */
int xbk_mem_alloc(struct evl_xbuf *xbuf, u64 i_bufsz, u64 o_bufsz)
{
	const gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN |
			  __GFP_RETRY_MAYFAIL;
	struct xbuf_shm_info layout;
	unsigned long n, m, i, dir;
	int ret = -ENOMEM;

	xbuf_abi_layout(&layout, i_bufsz, o_bufsz, PAGE_SIZE);
	xbuf->nr_pages = layout.file_size >> PAGE_SHIFT;
	xbuf->nr_map_pages = layout.map_size >> PAGE_SHIFT;
	xbuf->pages = kvcalloc(xbuf->nr_pages, sizeof(*xbuf->pages),
			       GFP_KERNEL_ACCOUNT | __GFP_NOWARN | __GFP_RETRY_MAYFAIL);
	if (!xbuf->pages)
		return -ENOMEM;

	xbuf->map_pages = kvcalloc(xbuf->nr_map_pages, sizeof(*xbuf->map_pages),
				   GFP_KERNEL_ACCOUNT | __GFP_NOWARN | __GFP_RETRY_MAYFAIL);
	if (!xbuf->map_pages)
		goto fail_map_array;

	for (n = 0; n < xbuf->nr_pages; n++) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto fail_pages;
		}
		xbuf->pages[n] = alloc_page(gfp);
		if (!xbuf->pages[n])
			goto fail_pages;
		cond_resched();
	}

	/* Header pages, then each data area twice, where the info page says. */
	for (m = 0; m < XBUF_HEADER_PAGES; m++)
		xbuf->map_pages[m] = xbuf->pages[m];
	for (dir = 0; dir < 2; dir++) {
		const struct xbuf_shm_ring_info *ri = &layout.ring[dir];
		unsigned long file_pg = ri->data_file_off >> PAGE_SHIFT;
		unsigned long map_pg = ri->data_map_off >> PAGE_SHIFT;
		unsigned long pages = ri->data_size >> PAGE_SHIFT;

		for (i = 0; i < 2 * pages; i++)
			xbuf->map_pages[map_pg + i] = xbuf->pages[file_pg + i % pages];
	}

	xbuf->base = vmap(xbuf->map_pages, xbuf->nr_map_pages, VM_MAP,
			  PAGE_KERNEL);
	if (!xbuf->base)
		goto fail_pages;

	xbuf->info = xbuf->base;
	xbuf->drv = xbuf->base + XBUF_DRIVER_PAGE * PAGE_SIZE;
	xbuf->app = xbuf->base + XBUF_APP_PAGE * PAGE_SIZE;
	*xbuf->info = layout;	/* immutable once the element fd exists */

	/* App-owned map pages: the app page, and the outbound data (twice; none without a ring). */
	xbuf->app_first[0] = XBUF_APP_PAGE;
	xbuf->app_end[0] = XBUF_APP_PAGE + 1;
	xbuf->app_first[1] = layout.ring[XBUF_OUTBOUND].data_map_off >> PAGE_SHIFT;
	xbuf->app_end[1] = xbuf->app_first[1] +
			   2 * (layout.ring[XBUF_OUTBOUND].data_size >> PAGE_SHIFT);

	return 0;

fail_pages:
	while (n-- > 0)
		__free_page(xbuf->pages[n]);
	kvfree(xbuf->map_pages);
fail_map_array:
	kvfree(xbuf->pages);
	xbuf->pages = NULL;

	return ret;
}

void xbk_mem_free(struct evl_xbuf *xbuf)
{
	unsigned long n;

	if (!xbuf->pages)
		return;

	vunmap(xbuf->base);
	for (n = 0; n < xbuf->nr_pages; n++)
		__free_page(xbuf->pages[n]);
	kvfree(xbuf->map_pages);
	kvfree(xbuf->pages);
}

static bool xbk_page_app_owned(const struct evl_xbuf *xbuf, unsigned long pg)
{
	return (pg >= xbuf->app_first[0] && pg < xbuf->app_end[0]) ||
	       (pg >= xbuf->app_first[1] && pg < xbuf->app_end[1]);
}

/* Count of app-owned pages in map pages [first, first + nr). */
static unsigned long xbk_app_pages_in(const struct evl_xbuf *xbuf,
				       unsigned long first, unsigned long nr)
{
	unsigned long pg, count = 0;

	for (pg = first; pg < first + nr; pg++)
		count += xbk_page_app_owned(xbuf, pg);

	return count;
}

static vm_fault_t xbk_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct evl_xbuf *xbuf = vma->vm_private_data;
	unsigned long pfn;

	if (vmf->pgoff >= xbuf->nr_map_pages)
		return VM_FAULT_SIGBUS;

	/*
	 * vm_page_prot is read-only even for PROT_WRITE mappings (write
	 * notification, see above): every first store goes through
	 * xbk_vm_pfn_mkwrite(). Kernel-owned pages get an explicitly
	 * read-only protection all the same.
	 */
	pfn = page_to_pfn(xbuf->map_pages[vmf->pgoff]);
	if (xbk_page_app_owned(xbuf, vmf->pgoff))
		return vmf_insert_pfn(vma, vmf->address, pfn);

	return vmf_insert_pfn_prot(vma, vmf->address, pfn,
				   vm_get_page_prot(vma->vm_flags & ~VM_WRITE));
}

static vm_fault_t xbk_vm_pfn_mkwrite(struct vm_fault *vmf)
{
	struct evl_xbuf *xbuf = vmf->vma->vm_private_data;

	if (vmf->pgoff >= xbuf->nr_map_pages ||
	    !xbk_page_app_owned(xbuf, vmf->pgoff))
		return VM_FAULT_SIGBUS;

	return 0;
}

static int xbk_vm_mprotect(struct vm_area_struct *vma, unsigned long start,
			    unsigned long end, unsigned long newflags)
{
	struct evl_xbuf *xbuf = vma->vm_private_data;
	unsigned long first, nr;

	if (!(newflags & VM_WRITE))
		return 0;

	first = vma->vm_pgoff + ((start - vma->vm_start) >> PAGE_SHIFT);
	nr = (end - start) >> PAGE_SHIFT;
	if (xbk_app_pages_in(xbuf, first, nr) != nr)
		return -EACCES;

	return 0;
}

/*
 * A VMA appears (split, mremap, fork) or goes (munmap, exit): the claims
 * of its address space count it (xbk_claim_vma()). Called with the
 * mmap lock held.
 */
static void xbk_vm_open(struct vm_area_struct *vma)
{
	xbk_claim_vma(vma->vm_private_data, vma->vm_mm, 1);
}

static void xbk_vm_close(struct vm_area_struct *vma)
{
	xbk_claim_vma(vma->vm_private_data, vma->vm_mm, -1);
}

static const struct vm_operations_struct xbk_vm_ops = {
	.open		= xbk_vm_open,
	.close		= xbk_vm_close,
	.fault		= xbk_vm_fault,
	.pfn_mkwrite	= xbk_vm_pfn_mkwrite,
	.mprotect	= xbk_vm_mprotect,
};

static inline void xbk_vma_set_flags(struct vm_area_struct *vma,
				      unsigned long set, unsigned long clear)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_mod(vma, set, clear);
#else
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
#endif
}

int xbk_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct xbk_file *xf = filp->private_data;
	struct evl_xbuf *xbuf = xf->xbuf;
	unsigned long first = vma->vm_pgoff, nr = vma_pages(vma), clear = 0;

	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (first >= xbuf->nr_map_pages || nr > xbuf->nr_map_pages - first)
		return -EINVAL;

	if (vma->vm_flags & VM_WRITE) {
		if (!xbk_app_pages_in(xbuf, first, nr))
			return -EPERM;
	} else {
		clear = VM_MAYWRITE;
	}

	xbk_vma_set_flags(vma, VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP,
			   clear);
	vma->vm_ops = &xbk_vm_ops;
	vma->vm_private_data = xbuf;
	xbk_claim_vma(xbuf, vma->vm_mm, 1);

	return 0;
}

bool xbk_is_our_vma(const struct vm_area_struct *vma, const struct evl_xbuf *xbuf)
{
	return vma->vm_ops == &xbk_vm_ops && vma->vm_private_data == xbuf;
}
