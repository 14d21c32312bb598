// SPDX-License-Identifier: GPL-2.0
/*
 * xbuf_main.c - EVL-style cross-buffers served by the kernel: devices,
 * element lifetime, file operations, sysfs, and the in-kernel references.
 *
 * Devices, all in class "xbuf" (devtmpfs names them xbuf/<dev name>):
 *
 *   minor 0          "clone"   /dev/xbuf/clone: XBUF_IOC_CLONE, root:<group> 0660
 *   minor = id       "<name>"  /dev/xbuf/<name>: public element, open = new fd,
 *                              creator's uid:gid, 0600 or the mode asked
 *   no devt          "@<id>"   private element: sysfs only
 *
 * Ids (= minors) are allocated cyclically from xbk_ids, and an element
 * keeps its id and its name (xbk_named_list) from before its pages are
 * allocated until its device is gone: a create of the same name in
 * between is EEXIST, never a duplicate sysfs entry, and an old inode
 * rarely meets a new element of its minor (and is refused when it does:
 * xbk_chr_open()).
 *
 * Lifetime: every element file (anon inode from the clone, or an open of
 * /dev/xbuf/<name>) holds one kref on the element and counts in
 * app_files; evl_get_xbuf() takes a kref of its own, no file. The last
 * file's release is the application leaving (xbk_app_leave(): a VMA pins
 * its file, so that is its last fd and its last mapping): the element
 * can no longer be opened, the driver's calls end with -EIDRM, the
 * device goes, then the name and the id. The last kref frees the pages
 * and the charge (in a work item when that put comes from atomic
 * context: vunmap() and the mutexes sleep).
 *
 * Memory: an element's pages are charged to its creator's uid
 * (xbk_charge()), up to user_mem_max_mb per uid.
 */
#include <linux/anon_inodes.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/sched/mm.h>
#include <linux/stat.h>
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/err.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include "xbuf_internal.h"

#define XBUF_NR_MINORS		4096
#define XBUF_CLONE_MINOR	0

static dev_t xbk_devt;
static struct cdev xbk_cdev;
static struct class *xbk_class;
static struct device *xbk_clone_dev;

static unsigned int group;
module_param(group, uint, 0444);
MODULE_PARM_DESC(group, "gid owning /dev/xbuf/clone (mode 0660); default 0 (root)");

static unsigned long user_mem_max_mb;
module_param(user_mem_max_mb, ulong, 0644);
MODULE_PARM_DESC(user_mem_max_mb,
		 "ring memory (MiB) the elements of one uid may pin; default: a quarter of RAM");

/*
 * Elements by id (every one, from its reservation to the end of its
 * release) and public ones by name; pages charged per uid (xa values).
 * The mutex also orders kref_put.
 */
static DEFINE_MUTEX(xbk_lock);
static LIST_HEAD(xbk_named_list);	/* every element with a name, public or private: one name space */
static DEFINE_XARRAY_ALLOC(xbk_ids);
static u32 xbk_next_id;
static DEFINE_XARRAY(xbk_charges);
static struct workqueue_struct *xbk_wq;	/* deferred frees; drained at exit */

static const struct file_operations xbk_elem_fops;

/* Charge (pages > 0) or uncharge the pages of an element to a uid; under xbk_lock. */
static int xbk_charge(kuid_t uid, long pages)
{
	unsigned long key = from_kuid(&init_user_ns, uid);
	unsigned long cur, limit = user_mem_max_mb << (20 - PAGE_SHIFT);
	void *old;

	lockdep_assert_held(&xbk_lock);
	old = xa_load(&xbk_charges, key);
	cur = old ? xa_to_value(old) : 0;
	if (pages > 0 && (cur + pages > limit || cur + pages < cur))
		return -ENOMEM;
	cur += pages;
	if (!cur) {
		xa_erase(&xbk_charges, key);
		return 0;
	}

	return xa_err(xa_store(&xbk_charges, key, xa_mk_value(cur), GFP_KERNEL));
}

/*
 * Give back the name and the id, once: another element may hold that
 * id next, so a second xa_erase() would remove it. Under xbk_lock.
 */
static void xbk_unlist(struct evl_xbuf *xbuf)
{
	lockdep_assert_held(&xbk_lock);
	if (!xbuf->listed)
		return;
	if (!list_empty(&xbuf->next))
		list_del_init(&xbuf->next);
	xa_erase(&xbk_ids, xbuf->id);
	xbuf->listed = false;
}

/* Give back the id, the name (if still held) and the charge of an element. */
static void xbk_unreserve(struct evl_xbuf *xbuf)
{
	mutex_lock(&xbk_lock);
	xbk_unlist(xbuf);
	if (xbuf->charged)
		xbk_charge(xbuf->uid, -(long)xbuf->charged);
	mutex_unlock(&xbk_lock);
}

/*
 * The last kref went: no file is left (the application left, see
 * xbk_app_leave()) and no driver holds a reference. Process context.
 */
static void xbk_free_element(struct evl_xbuf *xbuf)
{
	if (xbuf->dev)
		device_unregister(xbuf->dev);	/* not reached: the last file took it */
	xbk_ring_destroy(&xbuf->ring[XBUF_INBOUND]);
	xbk_ring_destroy(&xbuf->ring[XBUF_OUTBOUND]);
	xbk_mem_free(xbuf);
	xbk_unreserve(xbuf);
	mutex_destroy(&xbuf->claim_lock);
	kfree(xbuf);
}

static void xbk_free_work(struct work_struct *work)
{
	xbk_free_element(container_of(work, struct evl_xbuf, free_work));
}

/*
 * Nothing can find the element any more: files are gone, and an open by
 * name takes a kref only while app_files > 0 (xbk_chr_open()). A driver
 * may drop its reference from atomic context (evl_put_xbuf()): then the
 * free waits for a worker.
 */
static void xbk_release_element(struct kref *ref)
{
	struct evl_xbuf *xbuf = container_of(ref, struct evl_xbuf, ref);

	if (xbk_cannot_block())
		queue_work(xbk_wq, &xbuf->free_work);
	else
		xbk_free_element(xbuf);
}

static void xbk_put_element(struct evl_xbuf *xbuf)
{
	kref_put(&xbuf->ref, xbk_release_element);
}

/*
 * An element file is released (its last fd closed and its last mapping
 * gone: a VMA pins its file). The last one is the application leaving:
 * no open finds the element any more, the driver's calls end with
 * -EIDRM (EVL's xbuf_release(): evl_flush_wait(EVL_T_RMID)), the node
 * and sysfs go, and only then the name and the id, so a new element of
 * that name never meets the old device. The memory stays while a driver
 * holds a reference.
 */
static void xbk_app_leave(struct evl_xbuf *xbuf)
{
	bool last;

	mutex_lock(&xbk_lock);
	last = !--xbuf->app_files;
	if (last)
		xbuf->ready = false;
	mutex_unlock(&xbk_lock);
	if (!last)
		return;

	xbk_ring_app_gone(xbuf);
	device_unregister(xbuf->dev);
	xbuf->dev = NULL;
	mutex_lock(&xbk_lock);
	xbk_unlist(xbuf);
	mutex_unlock(&xbk_lock);
}

/* A live element holding this name, public or private (EVL's factory: one name space). */
static struct evl_xbuf *xbk_find_named(const char *name)
{
	struct evl_xbuf *xbuf;

	lockdep_assert_held(&xbk_lock);
	list_for_each_entry(xbuf, &xbk_named_list, next)
		if (!strcmp(xbuf->name, name))
			return xbuf;

	return NULL;
}

static struct file *xbk_new_file(struct evl_xbuf *xbuf, int o_flags)
{
	struct xbk_file *xf;
	struct file *filp;

	xf = kzalloc(sizeof(*xf), GFP_KERNEL);
	if (!xf)
		return ERR_PTR(-ENOMEM);

	filp = anon_inode_getfile("[xbuf]", &xbk_elem_fops, xf, o_flags);
	if (IS_ERR(filp)) {
		kfree(xf);
		return filp;
	}

	xf->xbuf = xbuf;

	return filp;
}

static const struct device_type xbk_dev_type;

static void xbk_dev_release(struct device *dev)
{
	kfree(dev);
}

/* device_create() with our device type, which names and owns the node. */
static __printf(3, 4) struct device *xbk_device_create(dev_t devt, void *drvdata,
							const char *fmt, ...)
{
	struct device *dev;
	va_list ap;
	char *name;
	int ret;

	va_start(ap, fmt);
	name = kvasprintf(GFP_KERNEL, fmt, ap);
	va_end(ap);
	if (!name)
		return ERR_PTR(-ENOMEM);
	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev) {
		kfree(name);
		return ERR_PTR(-ENOMEM);
	}

	device_initialize(dev);
	dev->devt = devt;
	dev->class = xbk_class;
	dev->type = &xbk_dev_type;
	dev->release = xbk_dev_release;
	dev_set_drvdata(dev, drvdata);
	ret = dev_set_name(dev, "%s", name);
	kfree(name);
	if (!ret)
		ret = device_add(dev);
	if (ret) {
		put_device(dev);
		return ERR_PTR(ret);
	}

	return dev;
}

/*
 * Build an element and return a file holding the first reference. The
 * name (public or not) is validated by the caller. Everything that can be
 * refused without memory is refused first: the name (EEXIST), the id
 * (ENOSPC), the size (ENOMEM: unmappable) and the creator's limit (ENOMEM);
 * then the pages are allocated, outside the lock.
 */
static struct file *xbk_create(const struct xbuf_clone_req *req,
				const char *name, bool public, umode_t mode)
{
	unsigned long pages, map_pages;
	struct evl_xbuf *xbuf;
	struct file *filp;
	int o_flags = O_RDWR, ret;

	pages = xbk_mem_pages(req->i_bufsz, req->o_bufsz, &map_pages);
	if (!pages)
		return ERR_PTR(-ENOMEM);

	xbuf = kzalloc(sizeof(*xbuf), GFP_KERNEL);
	if (!xbuf)
		return ERR_PTR(-ENOMEM);

	kref_init(&xbuf->ref);
	xbuf->app_files = 1;		/* the file returned below */
	xbuf->efile.xbuf = xbuf;
	INIT_WORK(&xbuf->free_work, xbk_free_work);
	INIT_LIST_HEAD(&xbuf->next);
	strscpy(xbuf->name, name, sizeof(xbuf->name));
	xbuf->public = public;
	xbuf->uid = current_euid();
	xbuf->gid = current_egid();
	xbuf->mode = mode;
	mutex_init(&xbuf->claim_lock);

	mutex_lock(&xbk_lock);
	if (*name && xbk_find_named(name)) {
		mutex_unlock(&xbk_lock);
		ret = -EEXIST;
		goto fail_free;
	}
	ret = xa_alloc_cyclic(&xbk_ids, &xbuf->id, xbuf,
			      XA_LIMIT(XBUF_CLONE_MINOR + 1, XBUF_NR_MINORS - 1),
			      &xbk_next_id, GFP_KERNEL);
	if (ret < 0) {
		mutex_unlock(&xbk_lock);
		ret = ret == -EBUSY ? -ENOSPC : ret;
		goto fail_free;
	}
	if (*name)
		list_add(&xbuf->next, &xbk_named_list);
	xbuf->listed = true;
	ret = xbk_charge(xbuf->uid, pages);
	if (!ret)
		xbuf->charged = pages;
	mutex_unlock(&xbk_lock);
	if (ret)
		goto fail_reserved;

	ret = xbk_mem_alloc(xbuf, req->i_bufsz, req->o_bufsz);
	if (ret)
		goto fail_reserved;

	xbk_ring_init(xbuf, XBUF_INBOUND);
	xbk_ring_init(xbuf, XBUF_OUTBOUND);

	if (req->flags & XBUF_KCLONE_NONBLOCK)
		o_flags |= O_NONBLOCK;
	filp = xbk_new_file(xbuf, o_flags);
	if (IS_ERR(filp)) {
		ret = PTR_ERR(filp);
		goto fail_file;
	}

	/* Taken before the node exists: every inode of this element is younger. */
	ktime_get_coarse_real_ts64(&xbuf->created);
	if (public)
		xbuf->dev = xbk_device_create(MKDEV(MAJOR(xbk_devt), xbuf->id),
					      xbuf, "%s", name);
	else
		xbuf->dev = xbk_device_create(0, xbuf, "@%u", xbuf->id);
	if (IS_ERR(xbuf->dev)) {
		ret = PTR_ERR(xbuf->dev);
		goto fail_dev;
	}

	mutex_lock(&xbk_lock);
	xbuf->ready = true;
	mutex_unlock(&xbk_lock);

	return filp;

fail_dev:
	/*
	 * The file owns the xbk_file but not yet a usable element: detach
	 * it so that its release does not put a kref we unwind here.
	 */
	((struct xbk_file *)filp->private_data)->xbuf = NULL;
	fput(filp);
fail_file:
	xbk_ring_destroy(&xbuf->ring[XBUF_INBOUND]);
	xbk_ring_destroy(&xbuf->ring[XBUF_OUTBOUND]);
	xbk_mem_free(xbuf);
fail_reserved:
	xbk_unreserve(xbuf);
fail_free:
	mutex_destroy(&xbuf->claim_lock);
	kfree(xbuf);

	return ERR_PTR(ret);
}

static long xbk_ioctl_clone(void __user *u_req)
{
	struct xbuf_clone_req req;
	const char *name;
	struct file *filp;
	umode_t mode;
	bool public;
	int fd, ret;

	if (copy_from_user(&req, u_req, sizeof(req)))
		return -EFAULT;

	if (req.flags & ~(XBUF_KCLONE_PUBLIC | XBUF_KCLONE_NONBLOCK))
		return -EINVAL;
	if (req.mode & ~0666U)
		return -EINVAL;
	mode = req.mode ?: XBUF_KCLONE_MODE_DEFAULT;
	if (!req.i_bufsz && !req.o_bufsz)
		return -EINVAL;
	if (req.i_bufsz > XBUF_MAX_RING_SIZE || req.o_bufsz > XBUF_MAX_RING_SIZE)
		return -EINVAL;
	if (strnlen(req.name, sizeof(req.name)) == sizeof(req.name))
		return -ENAMETOOLONG;

	name = req.name;
	public = req.flags & XBUF_KCLONE_PUBLIC;
	if (*name == '/') {
		public = true;
		name++;
	}
	/*
	 * xbuf/abi.h's rule, the library's too, for every name given: one
	 * devtmpfs and sysfs path component, never "@<id>" (sysfs names
	 * private elements so); a public element also needs a name, and
	 * not one of our devices (XBUF_RESERVED_NAMES: -EEXIST).
	 */
	ret = xbuf_abi_check_name(name, public);
	if (ret)
		return ret;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;

	filp = xbk_create(&req, name, public, mode);
	if (IS_ERR(filp)) {
		put_unused_fd(fd);
		return PTR_ERR(filp);
	}
	fd_install(fd, filp);

	return fd;
}

static long xbk_clone_ioctl(struct file *filp, unsigned int cmd,
			     unsigned long arg)
{
	if (cmd != XBUF_IOC_CLONE)
		return -ENOTTY;
	/* The node's mode says who may create: a write permission. */
	if (!(filp->f_mode & FMODE_WRITE))
		return -EBADF;

	return xbk_ioctl_clone((void __user *)arg);
}

static const struct file_operations xbk_clone_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= xbk_clone_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

/* Both fops belong to this module, which the opening fops already pin. */
static void xbk_switch_fops(struct file *filp,
			     const struct file_operations *fops)
{
	__module_get(THIS_MODULE);
	replace_fops(filp, fops);
}

static inline struct timespec64 xbk_inode_ctime(struct inode *inode)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	return inode_get_ctime(inode);
#else
	return inode->i_ctime;
#endif
}

/*
 * The element's own permission check, whatever inode led here (the VFS
 * checked that one): owner, group, other bits of the element's mode, as
 * generic_permission() would, or CAP_DAC_OVERRIDE.
 */
static int xbk_may_open(const struct evl_xbuf *xbuf, const struct file *filp)
{
	unsigned int mode = xbuf->mode, mask = 0;

	if (filp->f_mode & FMODE_READ)
		mask |= MAY_READ;
	if (filp->f_mode & FMODE_WRITE)
		mask |= MAY_WRITE;
	if (uid_eq(current_fsuid(), xbuf->uid))
		mode >>= 6;
	else if (in_group_p(xbuf->gid))
		mode >>= 3;
	if ((mode & mask) == mask || capable(CAP_DAC_OVERRIDE))
		return 0;

	return -EACCES;
}

/*
 * open(2) of /dev/xbuf/clone or /dev/xbuf/<name>. An element's inode is
 * created after the element (xbuf->created); an older one with the same
 * minor belongs to an element gone (an O_PATH fd, a bind mount, a node
 * mknod'ed before): ENOENT, as for a minor nobody has.
 */
static int xbk_chr_open(struct inode *inode, struct file *filp)
{
	unsigned int minor = iminor(inode);
	struct timespec64 ctime = xbk_inode_ctime(inode), created;
	struct evl_xbuf *xbuf;
	struct xbk_file *xf;
	int ret;

	if (minor == XBUF_CLONE_MINOR) {
		xbk_switch_fops(filp, &xbk_clone_fops);
		return 0;
	}

	xf = kzalloc(sizeof(*xf), GFP_KERNEL);
	if (!xf)
		return -ENOMEM;

	mutex_lock(&xbk_lock);
	xbuf = xa_load(&xbk_ids, minor);
	/* At the granularity of the inode's file system (a bind-mounted node). */
	if (xbuf)
		created = timestamp_truncate(xbuf->created, inode);
	/* ready: the device exists and the application has not left (app_files > 0). */
	if (!xbuf || !xbuf->public || !xbuf->ready ||
	    timespec64_compare(&ctime, &created) < 0) {
		mutex_unlock(&xbk_lock);
		kfree(xf);
		return -ENOENT;
	}
	ret = xbk_may_open(xbuf, filp);
	if (ret) {
		mutex_unlock(&xbk_lock);
		kfree(xf);
		return ret;
	}
	/* Under xbk_lock, so the last file's release sees this one (xbk_app_leave()). */
	xbuf->app_files++;
	kref_get(&xbuf->ref);
	mutex_unlock(&xbk_lock);

	xf->xbuf = xbuf;
	filp->private_data = xf;
	xbk_switch_fops(filp, &xbk_elem_fops);
	stream_open(inode, filp);

	return 0;
}

static const struct file_operations xbk_chr_fops = {
	.owner		= THIS_MODULE,
	.open		= xbk_chr_open,
	.llseek		= noop_llseek,
};

static int xbk_elem_release(struct inode *inode, struct file *filp)
{
	struct xbk_file *xf = filp->private_data;

	if (xf->xbuf) {
		xbk_app_leave(xf->xbuf);
		xbk_put_element(xf->xbuf);
	}
	kfree(xf);

	return 0;
}

static inline struct evl_xbuf *xbk_of(struct file *filp)
{
	return ((struct xbk_file *)filp->private_data)->xbuf;
}

static ssize_t xbk_elem_read(struct file *filp, char __user *u_buf,
			      size_t count, loff_t *ppos)
{
	return xbk_app_read(xbk_of(filp), u_buf, count,
			     filp->f_flags & O_NONBLOCK);
}

static ssize_t xbk_elem_write(struct file *filp, const char __user *u_buf,
			       size_t count, loff_t *ppos)
{
	return xbk_app_write(xbk_of(filp), u_buf, count,
			      filp->f_flags & O_NONBLOCK);
}

/*
 * Owner claims (xbuf/kernel.h): an end belongs to one address space at a
 * time, which must map the element; the claim counts that address
 * space's mappings of the element (xbk_claim_vma(), from the VMA's
 * open/close) and ends with the last one. Lock order: mmap lock, then
 * claim_lock.
 */
static int xbk_claim_index(u32 bit)
{
	return bit == XBUF_KCLAIM_IN ? 0 : 1;
}

static long xbk_claim(struct evl_xbuf *xbuf, struct file *filp, u32 ends)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	unsigned long vmas = 0;
	long ret = 0;
	u32 bit;

	if (!ends || ends & ~(XBUF_KCLAIM_IN | XBUF_KCLAIM_OUT))
		return -EINVAL;
	if (!(filp->f_mode & FMODE_WRITE))
		return -EBADF;
	if (!mm)
		return -EINVAL;

	mmap_read_lock(mm);
	{
		VMA_ITERATOR(vmi, mm, 0);

		for_each_vma(vmi, vma)
			vmas += xbk_is_our_vma(vma, xbuf);
	}
	mutex_lock(&xbuf->claim_lock);
	if (!vmas)
		ret = -EINVAL;
	for (bit = XBUF_KCLAIM_IN; !ret && bit <= XBUF_KCLAIM_OUT; bit <<= 1) {
		struct mm_struct *owner = xbuf->claim_mm[xbk_claim_index(bit)];

		if ((ends & bit) && owner && owner != mm)
			ret = -EBUSY;
	}
	for (bit = XBUF_KCLAIM_IN; !ret && bit <= XBUF_KCLAIM_OUT; bit <<= 1) {
		if (!(ends & bit))
			continue;
		WRITE_ONCE(xbuf->claim_mm[xbk_claim_index(bit)], mm);
		xbuf->claim_vmas[xbk_claim_index(bit)] = vmas;
	}
	mutex_unlock(&xbuf->claim_lock);
	mmap_read_unlock(mm);

	return ret;
}

static long xbk_unclaim(struct evl_xbuf *xbuf, u32 ends)
{
	u32 bit;

	if (!ends || ends & ~(XBUF_KCLAIM_IN | XBUF_KCLAIM_OUT))
		return -EINVAL;

	mutex_lock(&xbuf->claim_lock);
	for (bit = XBUF_KCLAIM_IN; bit <= XBUF_KCLAIM_OUT; bit <<= 1) {
		int i = xbk_claim_index(bit);

		if ((ends & bit) && xbuf->claim_mm[i] == current->mm) {
			WRITE_ONCE(xbuf->claim_mm[i], NULL);
			xbuf->claim_vmas[i] = 0;
		}
	}
	mutex_unlock(&xbuf->claim_lock);

	return 0;
}

/* A mapping of the element appears in mm (delta 1) or goes (-1). */
void xbk_claim_vma(struct evl_xbuf *xbuf, struct mm_struct *mm, int delta)
{
	int i;

	mutex_lock(&xbuf->claim_lock);
	for (i = 0; i < XBK_CLAIM_ENDS; i++) {
		if (xbuf->claim_mm[i] != mm)
			continue;
		xbuf->claim_vmas[i] += delta;
		if (!xbuf->claim_vmas[i])
			WRITE_ONCE(xbuf->claim_mm[i], NULL);
	}
	mutex_unlock(&xbuf->claim_lock);
}

/* Is one of these ends claimed by another address space? -EBUSY then. */
int xbk_claimed_elsewhere(struct evl_xbuf *xbuf, u32 ends)
{
	u32 bit;

	for (bit = XBUF_KCLAIM_IN; bit <= XBUF_KCLAIM_OUT; bit <<= 1) {
		struct mm_struct *owner;

		if (!(ends & bit))
			continue;
		owner = READ_ONCE(xbuf->claim_mm[xbk_claim_index(bit)]);
		if (owner && owner != current->mm)
			return -EBUSY;
	}

	return 0;
}

static __poll_t xbk_elem_poll(struct file *filp, poll_table *wait)
{
	struct evl_xbuf *xbuf = xbk_of(filp);

	poll_wait(filp, &xbuf->ring[XBUF_INBOUND].app_wq, wait);
	poll_wait(filp, &xbuf->ring[XBUF_OUTBOUND].app_wq, wait);
	/* W1: pairs with K1 smp_mb() in xbk_drv_k1(). */
	smp_mb();

	return xbk_ring_poll(xbuf);
}

static void xbk_get_rings(struct evl_xbuf *xbuf, struct xbuf_elem_rings *r)
{
	r->ifill = xbk_ring_fill(&xbuf->ring[XBUF_INBOUND]);
	r->isize = xbuf->ring[XBUF_INBOUND].capacity;
	r->ofill = xbk_ring_fill(&xbuf->ring[XBUF_OUTBOUND]);
	r->osize = xbuf->ring[XBUF_OUTBOUND].capacity;
}

static long xbk_elem_ioctl(struct file *filp, unsigned int cmd,
			    unsigned long arg)
{
	struct xbk_file *xf = filp->private_data;
	struct evl_xbuf *xbuf = xf->xbuf;
	void __user *u_arg = (void __user *)arg;
	struct xbuf_elem_rings rings;
	struct xbuf_elem_info info;
	struct xbuf_wait_req wreq;
	u32 ends;

	switch (cmd) {
	case XBUF_IOC_KICK:
		xbk_ring_kick(xbuf);
		return 0;
	case XBUF_IOC_INFO:
		memset(&info, 0, sizeof(info));
		info.map_size = xbuf->info->map_size;
		info.id = xbuf->id;
		info.flags = xbuf->public ? XBUF_KCLONE_PUBLIC : 0;
		strscpy(info.name, xbuf->name, sizeof(info.name));
		return copy_to_user(u_arg, &info, sizeof(info)) ? -EFAULT : 0;
	case XBUF_IOC_RINGS:
		xbk_get_rings(xbuf, &rings);
		return copy_to_user(u_arg, &rings, sizeof(rings)) ? -EFAULT : 0;
	case XBUF_IOC_WAIT:
		if (copy_from_user(&wreq, u_arg, sizeof(wreq)))
			return -EFAULT;
		/* Only a writer may count as a blocked writer. */
		if ((wreq.events & XBUF_KWAIT_OUT) && !(filp->f_mode & FMODE_WRITE))
			return -EBADF;
		if (xbk_claimed_elsewhere(xbuf, wreq.events & (XBUF_KWAIT_IN | XBUF_KWAIT_OUT)))
			return -EBUSY;
		return xbk_ring_wait(xbuf, &wreq, &xf->cancelled);
	case XBUF_IOC_CLAIM:
		if (get_user(ends, (u32 __user *)u_arg))
			return -EFAULT;
		return xbk_claim(xbuf, filp, ends);
	case XBUF_IOC_UNCLAIM:
		if (get_user(ends, (u32 __user *)u_arg))
			return -EFAULT;
		return xbk_unclaim(xbuf, ends);
	case XBUF_IOC_CANCEL:
		xbk_ring_cancel(xbuf, &xf->cancelled);
		return 0;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations xbk_elem_fops = {
	.owner		= THIS_MODULE,
	.release	= xbk_elem_release,
	.read		= xbk_elem_read,
	.write		= xbk_elem_write,
	.poll		= xbk_elem_poll,
	.unlocked_ioctl	= xbk_elem_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= xbk_mmap,
	.llseek		= no_llseek,
};

/*
 * A reference on the element, not on the file: the application's files
 * may all go while a driver holds it (then its calls get -EIDRM), and
 * the memory stays until evl_put_xbuf().
 */
struct evl_xbuf *evl_get_xbuf(int efd, struct evl_file **efilpp)
{
	struct evl_xbuf *xbuf = NULL;
	struct file *filp;

	filp = fget(efd);
	if (!filp)
		return NULL;

	if (filp->f_op == &xbk_elem_fops) {
		xbuf = ((struct xbk_file *)filp->private_data)->xbuf;
		/* The file holds a kref: the count is not 0. */
		kref_get(&xbuf->ref);
		*efilpp = &xbuf->efile;
	}
	fput(filp);

	return xbuf;
}
EXPORT_SYMBOL_GPL(evl_get_xbuf);

void evl_put_xbuf(struct evl_file *efilp)
{
	xbk_put_element(efilp->xbuf);
}
EXPORT_SYMBOL_GPL(evl_put_xbuf);

static ssize_t rings_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct evl_xbuf *xbuf = dev_get_drvdata(dev);
	struct xbuf_elem_rings r;

	xbk_get_rings(xbuf, &r);

	return sysfs_emit(buf, "%llu %llu %llu %llu\n",
			  r.ifill, r.isize, r.ofill, r.osize);
}
/* Owner only: the class's get_ownership() gives it to the creator. */
static DEVICE_ATTR_ADMIN_RO(rings);

static struct attribute *xbk_elem_attrs[] = {
	&dev_attr_rings.attr,
	NULL,
};

static umode_t xbk_elem_attr_visible(struct kobject *kobj,
				      struct attribute *attr, int n)
{
	/* The clone device (no drvdata) has no rings. */
	return dev_get_drvdata(kobj_to_dev(kobj)) ? attr->mode : 0;
}

static const struct attribute_group xbk_elem_group = {
	.attrs		= xbk_elem_attrs,
	.is_visible	= xbk_elem_attr_visible,
};

static const struct attribute_group *xbk_elem_groups[] = {
	&xbk_elem_group,
	NULL,
};

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define XBK_CONST_DEV const struct device
#else
#define XBK_CONST_DEV struct device
#endif

/*
 * devtmpfs (and the uevent's DEVMODE/DEVUID/DEVGID): the clone device is
 * root:<group> 0660, an element's node its creator's with its mode.
 */
static char *xbk_devnode(XBK_CONST_DEV *dev, umode_t *mode, kuid_t *uid,
			 kgid_t *gid)
{
	const struct evl_xbuf *xbuf = dev_get_drvdata(dev);

	if (xbuf) {
		if (mode)
			*mode = xbuf->mode;
		if (uid)
			*uid = xbuf->uid;
		if (gid)
			*gid = xbuf->gid;
	} else {
		if (mode)
			*mode = 0660;
		if (gid)
			*gid = make_kgid(&init_user_ns, group);
	}

	return kasprintf(GFP_KERNEL, "xbuf/%s", dev_name(dev));
}

static const struct device_type xbk_dev_type = {
	.name		= "xbuf",
	.devnode	= xbk_devnode,
};

/* Sysfs: an element's directory and `rings` belong to its creator. */
static void xbk_get_ownership(XBK_CONST_DEV *dev, kuid_t *uid, kgid_t *gid)
{
	const struct evl_xbuf *xbuf = dev_get_drvdata(dev);

	if (xbuf) {
		*uid = xbuf->uid;
		*gid = xbuf->gid;
	}
}

static int __init xbk_init(void)
{
	int ret;

	xbk_wq = alloc_workqueue("xbuf", 0, 0);
	if (!xbk_wq)
		return -ENOMEM;

	ret = alloc_chrdev_region(&xbk_devt, 0, XBUF_NR_MINORS, "xbuf");
	if (ret)
		goto fail_region;

	cdev_init(&xbk_cdev, &xbk_chr_fops);
	xbk_cdev.owner = THIS_MODULE;
	ret = cdev_add(&xbk_cdev, xbk_devt, XBUF_NR_MINORS);
	if (ret)
		goto fail_cdev;

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	xbk_class = class_create("xbuf");
#else
	xbk_class = class_create(THIS_MODULE, "xbuf");
#endif
	if (IS_ERR(xbk_class)) {
		ret = PTR_ERR(xbk_class);
		goto fail_class;
	}
	xbk_class->dev_groups = xbk_elem_groups;
	xbk_class->get_ownership = xbk_get_ownership;

	if (!user_mem_max_mb)
		user_mem_max_mb = max(1UL, (totalram_pages() / 4) >> (20 - PAGE_SHIFT));

	xbk_clone_dev = xbk_device_create(MKDEV(MAJOR(xbk_devt), XBUF_CLONE_MINOR),
					   NULL, "clone");
	if (IS_ERR(xbk_clone_dev)) {
		ret = PTR_ERR(xbk_clone_dev);
		goto fail_clone;
	}

	return 0;

fail_clone:
	class_destroy(xbk_class);
fail_class:
	cdev_del(&xbk_cdev);
fail_cdev:
	unregister_chrdev_region(xbk_devt, XBUF_NR_MINORS);
fail_region:
	destroy_workqueue(xbk_wq);

	return ret;
}

static void __exit xbk_exit(void)
{
	/* Every element file pins this module (fops->owner): none is left. */
	device_unregister(xbk_clone_dev);
	class_destroy(xbk_class);
	cdev_del(&xbk_cdev);
	unregister_chrdev_region(xbk_devt, XBUF_NR_MINORS);
	/* Frees deferred by evl_put_xbuf() from atomic context: done before the code goes. */
	destroy_workqueue(xbk_wq);
	xa_destroy(&xbk_charges);
}

module_init(xbk_init);
module_exit(xbk_exit);

MODULE_DESCRIPTION("EVL-style cross-buffers served by the kernel");
MODULE_LICENSE("GPL");
