// SPDX-License-Identifier: GPL-2.0
/*
 * xbuf_main.c - EVL-style cross-buffers served by the kernel: devices,
 * element lifetime, file operations, sysfs, and the in-kernel references.
 *
 * Devices, all in class "xbuf" (devtmpfs names them xbuf/<dev name>):
 *
 *   minor 0          "clone"   /dev/xbuf/clone: XBUF_IOC_CLONE
 *   minor = id       "<name>"  /dev/xbuf/<name>: public element, open = new fd
 *   no devt          "@<id>"   private element: sysfs only
 *
 * Lifetime: every element file (anon inode from the clone, or an open of
 * /dev/xbuf/<name>) holds one kref on the element; evl_get_xbuf() pins
 * one such file, so an in-kernel user keeps the element alive after the
 * application closed its fds. The last kref_put unlists the name, removes
 * the device and frees the pages (always in process context: files are
 * released there, fput() from irq defers).
 */
#include <linux/anon_inodes.h>
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
static DEFINE_IDA(xbk_ida);

/* Public elements by name and by minor; the mutex also orders kref_put. */
static DEFINE_MUTEX(xbk_lock);
static LIST_HEAD(xbk_public_list);
static DEFINE_XARRAY(xbk_minors);

static const struct file_operations xbk_elem_fops;

/* Called by kref_put_mutex() with xbk_lock held; drops it. */
static void xbk_release_element(struct kref *ref)
{
	struct evl_xbuf *xbuf = container_of(ref, struct evl_xbuf, ref);

	if (xbuf->public) {
		list_del(&xbuf->next);
		xa_erase(&xbk_minors, xbuf->id);
	}
	mutex_unlock(&xbk_lock);

	device_unregister(xbuf->dev);
	xbk_ring_destroy(&xbuf->ring[XBUF_INBOUND]);
	xbk_ring_destroy(&xbuf->ring[XBUF_OUTBOUND]);
	xbk_mem_free(xbuf);
	ida_free(&xbk_ida, xbuf->id);
	kfree(xbuf);
}

static void xbk_put_element(struct evl_xbuf *xbuf)
{
	kref_put_mutex(&xbuf->ref, xbk_release_element, &xbk_lock);
}

static struct evl_xbuf *xbk_find_public(const char *name)
{
	struct evl_xbuf *xbuf;

	lockdep_assert_held(&xbk_lock);
	list_for_each_entry(xbuf, &xbk_public_list, next)
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
	xf->efile.filp = filp;

	return filp;
}

/*
 * Build an element and return a file holding the first reference. The
 * name (public or not) is validated by the caller.
 */
static struct file *xbk_create(const struct xbuf_clone_req *req,
				const char *name, bool public)
{
	struct evl_xbuf *xbuf;
	struct file *filp;
	int o_flags = O_RDWR, ret;

	xbuf = kzalloc(sizeof(*xbuf), GFP_KERNEL);
	if (!xbuf)
		return ERR_PTR(-ENOMEM);

	kref_init(&xbuf->ref);
	INIT_LIST_HEAD(&xbuf->next);
	strscpy(xbuf->name, name, sizeof(xbuf->name));
	xbuf->public = public;

	ret = ida_alloc_range(&xbk_ida, XBUF_CLONE_MINOR + 1,
			      XBUF_NR_MINORS - 1, GFP_KERNEL);
	if (ret < 0)
		goto fail_id;
	xbuf->id = ret;

	ret = xbk_mem_alloc(xbuf, req->i_bufsz, req->o_bufsz);
	if (ret)
		goto fail_mem;

	xbk_ring_init(xbuf, XBUF_INBOUND);
	xbk_ring_init(xbuf, XBUF_OUTBOUND);

	if (req->flags & XBUF_KCLONE_NONBLOCK)
		o_flags |= O_NONBLOCK;
	filp = xbk_new_file(xbuf, o_flags);
	if (IS_ERR(filp)) {
		ret = PTR_ERR(filp);
		goto fail_file;
	}

	mutex_lock(&xbk_lock);
	if (public && xbk_find_public(name)) {
		ret = -EEXIST;
		goto fail_name;
	}

	if (public)
		xbuf->dev = device_create(xbk_class, NULL,
					  MKDEV(MAJOR(xbk_devt), xbuf->id),
					  xbuf, "%s", name);
	else
		xbuf->dev = device_create(xbk_class, NULL, 0, xbuf, "@%d",
					  xbuf->id);
	if (IS_ERR(xbuf->dev)) {
		ret = PTR_ERR(xbuf->dev);
		goto fail_name;
	}

	if (public) {
		ret = xa_err(xa_store(&xbk_minors, xbuf->id, xbuf, GFP_KERNEL));
		if (ret)
			goto fail_minor;
		list_add(&xbuf->next, &xbk_public_list);
	}
	mutex_unlock(&xbk_lock);

	return filp;

fail_minor:
	device_unregister(xbuf->dev);
fail_name:
	mutex_unlock(&xbk_lock);
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
fail_mem:
	ida_free(&xbk_ida, xbuf->id);
fail_id:
	kfree(xbuf);

	return ERR_PTR(ret);
}

static long xbk_ioctl_clone(void __user *u_req)
{
	struct xbuf_clone_req req;
	const char *name;
	struct file *filp;
	bool public;
	int fd, ret;

	if (copy_from_user(&req, u_req, sizeof(req)))
		return -EFAULT;

	if (req.flags & ~(XBUF_KCLONE_PUBLIC | XBUF_KCLONE_NONBLOCK) || req.__pad)
		return -EINVAL;
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

	filp = xbk_create(&req, name, public);
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

/* open(2) of /dev/xbuf/clone or /dev/xbuf/<name>. */
static int xbk_chr_open(struct inode *inode, struct file *filp)
{
	unsigned int minor = iminor(inode);
	struct evl_xbuf *xbuf;
	struct xbk_file *xf;

	if (minor == XBUF_CLONE_MINOR) {
		xbk_switch_fops(filp, &xbk_clone_fops);
		return 0;
	}

	xf = kzalloc(sizeof(*xf), GFP_KERNEL);
	if (!xf)
		return -ENOMEM;

	mutex_lock(&xbk_lock);
	xbuf = xa_load(&xbk_minors, minor);
	if (!xbuf || !kref_get_unless_zero(&xbuf->ref)) {
		mutex_unlock(&xbk_lock);
		kfree(xf);
		return -ENOENT;
	}
	mutex_unlock(&xbk_lock);

	xf->xbuf = xbuf;
	xf->efile.filp = filp;
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

	if (xf->xbuf)
		xbk_put_element(xf->xbuf);
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
	return xbk_app_read(&xbk_of(filp)->ring[XBUF_INBOUND], u_buf, count,
			     filp->f_flags & O_NONBLOCK);
}

static ssize_t xbk_elem_write(struct file *filp, const char __user *u_buf,
			       size_t count, loff_t *ppos)
{
	return xbk_app_write(&xbk_of(filp)->ring[XBUF_OUTBOUND], u_buf, count,
			      filp->f_flags & O_NONBLOCK);
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
		return xbk_ring_wait(xbuf, &wreq, &xf->cancelled);
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

struct evl_xbuf *evl_get_xbuf(int efd, struct evl_file **efilpp)
{
	struct xbk_file *xf;
	struct file *filp;

	filp = fget(efd);
	if (!filp)
		return NULL;

	if (filp->f_op != &xbk_elem_fops) {
		fput(filp);
		return NULL;
	}

	xf = filp->private_data;
	*efilpp = &xf->efile;

	return xf->xbuf;
}
EXPORT_SYMBOL_GPL(evl_get_xbuf);

void evl_put_xbuf(struct evl_file *efilp)
{
	fput(efilp->filp);
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
static DEVICE_ATTR_RO(rings);

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
static char *xbk_devnode(const struct device *dev, umode_t *mode)
#else
static char *xbk_devnode(struct device *dev, umode_t *mode)
#endif
{
	return kasprintf(GFP_KERNEL, "xbuf/%s", dev_name(dev));
}

static int __init xbk_init(void)
{
	int ret;

	ret = alloc_chrdev_region(&xbk_devt, 0, XBUF_NR_MINORS, "xbuf");
	if (ret)
		return ret;

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
	xbk_class->devnode = xbk_devnode;
	xbk_class->dev_groups = xbk_elem_groups;

	xbk_clone_dev = device_create(xbk_class, NULL,
				       MKDEV(MAJOR(xbk_devt), XBUF_CLONE_MINOR),
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

	return ret;
}

static void __exit xbk_exit(void)
{
	/* Every element file pins this module (fops->owner): none is left. */
	device_unregister(xbk_clone_dev);
	class_destroy(xbk_class);
	cdev_del(&xbk_cdev);
	unregister_chrdev_region(xbk_devt, XBUF_NR_MINORS);
	ida_destroy(&xbk_ida);
}

module_init(xbk_init);
module_exit(xbk_exit);

MODULE_DESCRIPTION("EVL-style cross-buffers served by the kernel");
MODULE_LICENSE("GPL");
