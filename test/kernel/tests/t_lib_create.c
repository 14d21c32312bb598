// SPDX-License-Identifier: MIT
/*
 * t_lib_create.c - libxbuf on the kernel backend: choosing the backend,
 * creating and opening elements, errors, names, rings/stat, close and
 * mapping holds, adoption of a raw kernel fd. Linked statically with
 * the library sources (csrc); run with XBUF_BACKEND=kernel (set below too).
 */
#include "kt.h"
#include "xbuf.h"

static int mapped(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/dev/xbuf/%s", name);
	return access(path, F_OK) == 0;
}

int main(void)
{
	struct xbuf_rings rg;
	struct xbuf_stat st;
	unsigned char buf[64];
	int fd, fd2, ufd, raw, st_fd, p[2];
	char longname[80];
	void *hold, *base;

	setenv("XBUF_BACKEND", "kernel", 1);

	/* The default follows $XBUF_BACKEND; flags override it. */
	fd = xbuf_create(1000, 2000, 0, "lib_priv");
	CHECK(fd >= 0);
	CHECK_EQ(xbuf_backend(fd), XBUF_BACKEND_KERNEL);
	CHECK(!strcmp(xbuf_name(fd), "lib_priv"));
	CHECK(!mapped("lib_priv"));		/* private: no device node */
	CHECK_ERR(xbuf_open("lib_priv", 0), ENOENT);
	CHECK_EQ(xbuf_rings(fd, &rg), 0);
	CHECK_EQ(rg.isize, 1000);
	CHECK_EQ(rg.osize, 2000);
	CHECK_EQ(rg.ifill + rg.ofill, 0);

	ufd = xbuf_create(1000, 2000, XBUF_CLONE_USER, "lib_user");
	CHECK(ufd >= 0);
	CHECK_EQ(xbuf_backend(ufd), XBUF_BACKEND_USER);
	CHECK_EQ(xbuf_close(ufd), 0);
	CHECK_ERR(xbuf_create(16, 16, XBUF_CLONE_USER | XBUF_CLONE_KERNEL, NULL), EINVAL);
	CHECK_ERR(xbuf_open("x", XBUF_CLONE_USER | XBUF_CLONE_KERNEL), EINVAL);
	ufd = xbuf_create(16, 16, XBUF_CLONE_KERNEL, NULL);
	CHECK(ufd >= 0);
	CHECK_EQ(xbuf_backend(ufd), XBUF_BACKEND_KERNEL);
	CHECK(!strcmp(xbuf_name(ufd), ""));
	CHECK_EQ(xbuf_close(ufd), 0);
	CHECK_ERR(xbuf_backend(ufd), EBADF);
	CHECK_ERR(xbuf_backend(-1), EBADF);
	CHECK_EQ(pipe(p), 0);
	CHECK_ERR(xbuf_backend(p[0]), EBADF);	/* no element: not adopted */
	close(p[0]);
	close(p[1]);

	/* Creation errors, as the user-space backend reports them. */
	CHECK_ERR(xbuf_create(0, 0, 0, NULL), EINVAL);
	CHECK_ERR(xbuf_create(XBUF_MAX_RING_SIZE + 1, 16, 0, NULL), EINVAL);
	CHECK_ERR(xbuf_create(16, 16, 1 << 3, NULL), EINVAL);
	CHECK_ERR(xbuf_create(16, 16, XBUF_CLONE_PUBLIC, NULL), EINVAL);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	CHECK_ERR(xbuf_create(16, 16, 0, "/%s", longname), ENAMETOOLONG);
	CHECK_ERR(xbuf_create(16, 16, 0, "/a/b"), EINVAL);

	/* Public: a device node, open by name, one element behind both fds. */
	fd2 = xbuf_create(4096, 8192, 0, "/lib_pub");
	CHECK(fd2 >= 0);
	CHECK(mapped("lib_pub"));
	CHECK_ERR(xbuf_create(1, 1, XBUF_CLONE_PUBLIC, "lib_pub"), EEXIST);
	CHECK_ERR(xbuf_create(1, 1, 0, "/clone"), EEXIST);	/* the kernel's own nodes */
	CHECK_ERR(xbuf_open("clone", 0), ENOENT);
	CHECK_ERR(xbuf_open("latmus", 0), ENOENT);
	CHECK_ERR(xbuf_open("lib_none", 0), ENOENT);
	CHECK_ERR(xbuf_open("lib_none", XBUF_CLONE_KERNEL), ENOENT);
	ufd = xbuf_open("/lib_pub", 0);
	CHECK(ufd >= 0 && ufd != fd2);
	CHECK_EQ(xbuf_backend(ufd), XBUF_BACKEND_KERNEL);
	CHECK(!strcmp(xbuf_name(ufd), "lib_pub"));
	CHECK_EQ(xbuf_map_base(ufd), xbuf_map_base(fd2));	/* one mapping per element */
	kt_fill(buf, 3, 1);
	CHECK_EQ(xbuf_write(ufd, buf, 3), 3);
	CHECK_EQ(xbuf_rings(fd2, &rg), 0);
	CHECK_EQ(rg.ofill, 3);
	CHECK_EQ(rg.osize, 8192);
	CHECK_EQ(xbuf_stat(fd2, &st), 0);
	CHECK_EQ(st.outbound.capacity, 8192);
	CHECK_EQ(st.outbound.fill, 3);
	CHECK_EQ(st.outbound.produced, 3);
	CHECK_EQ(st.outbound.writes, 1);
	CHECK_EQ(st.outbound.producer_pid, 0);	/* no owners with the kernel */
	CHECK_EQ(st.outbound.consumer_pid, 0);
	CHECK_EQ(st.inbound.capacity, 4096);

	/* The driver side of a kernel element is the kernel. */
	CHECK(evl_get_xbuf(fd2, NULL) == NULL);

	/* The name lives while a file of the element does. */
	CHECK_EQ(xbuf_close(fd2), 0);
	CHECK(mapped("lib_pub"));
	hold = xbuf_map_hold(ufd);
	CHECK(hold);
	base = xbuf_map_base(ufd);
	CHECK_EQ(xbuf_close(ufd), 0);
	CHECK_EQ(((const struct xbuf_shm_info *)base)->magic, XBUF_MAGIC);	/* still mapped */
	CHECK(mapped("lib_pub"));		/* the mapping pins the file */
	xbuf_map_release(hold);
	CHECK(!mapped("lib_pub"));
	CHECK_ERR(xbuf_open("lib_pub", 0), ENOENT);

	/* Non-blocking creation. */
	ufd = xbuf_create(64, 64, XBUF_CLONE_NONBLOCK, NULL);
	CHECK(ufd >= 0);
	CHECK_ERRNO(xbuf_read(ufd, buf, 1), EAGAIN);
	CHECK_EQ(xbuf_close(ufd), 0);

	/* An fd the library did not make (raw ioctl) is adopted on first use. */
	raw = kt_create(256, 256, 0, NULL);
	CHECK(raw >= 0);
	st_fd = kt_bind(raw);
	kt_fill(buf, 10, 7);
	CHECK_EQ(kt_kwrite(st_fd, buf, 10, 0), 10);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(xbuf_read(raw, buf, 10), 10);
	CHECK(kt_same(buf, 10, 7));
	CHECK_EQ(xbuf_backend(raw), XBUF_BACKEND_KERNEL);
	close(st_fd);
	CHECK_EQ(xbuf_close(raw), 0);

	CHECK_EQ(xbuf_close(fd), 0);
	return T_EXIT_PASS;
}
