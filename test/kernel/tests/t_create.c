/* SPDX-License-Identifier: MIT */
/* Creation, opening and errors: EINVAL, EEXIST, ENOENT, ENAMETOOLONG, ENOBUFS. */
#include "kt.h"

static void check_same_element(int a, int b)
{
	struct xbuf_elem_info ia, ib;

	CHECK_EQ(ioctl(a, XBUF_IOC_INFO, &ia), 0);
	CHECK_EQ(ioctl(b, XBUF_IOC_INFO, &ib), 0);
	CHECK_EQ(ia.id, ib.id);
	CHECK(!strcmp(ia.name, ib.name));
}

int main(void)
{
	char longname[XBUF_KNAME_LEN + 8];
	struct xbuf_elem_info ei;
	struct xbuf_clone_req req;
	char buf[16] = { 0 };
	int fd, fd2, fl;

	/* A private element: O_CLOEXEC always, O_NONBLOCK on request. */
	fd = kt_create_ok(4096, 4096, 0, NULL);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	fl = fcntl(fd, F_GETFL);
	CHECK(!(fl & O_NONBLOCK));
	CHECK_EQ(fl & O_ACCMODE, O_RDWR);
	CHECK_EQ(ioctl(fd, XBUF_IOC_INFO, &ei), 0);
	CHECK_EQ(ei.flags, 0);
	CHECK_EQ(ei.name[0], 0);
	close(fd);

	fd = kt_create_ok(4096, 4096, XBUF_KCLONE_NONBLOCK, "priv");
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	CHECK_EQ(ioctl(fd, XBUF_IOC_INFO, &ei), 0);
	CHECK(!strcmp(ei.name, "priv"));
	/* A private name is not published. */
	CHECK_ERRNO(open("/dev/xbuf/priv", O_RDWR), ENOENT);
	/* ...but held: one name space for private and public elements (EVL's factory; issue 9). */
	CHECK_ERRNO(kt_create(4096, 4096, 0, "priv"), EEXIST);
	CHECK_ERRNO(kt_create(4096, 4096, XBUF_KCLONE_PUBLIC, "priv"), EEXIST);
	close(fd);
	/* Released with its last file: the name is free again, for either kind. */
	fd2 = kt_create_ok(4096, 4096, XBUF_KCLONE_PUBLIC, "priv");
	CHECK_ERRNO(kt_create(4096, 4096, 0, "priv"), EEXIST);
	close(fd2);
	fd2 = kt_create_ok(4096, 4096, 0, "priv");
	close(fd2);

	/* Sizes. */
	CHECK_ERRNO(kt_create(0, 0, 0, NULL), EINVAL);
	CHECK_ERRNO(kt_create((1ULL << 30) + 1, 4096, 0, NULL), EINVAL);
	CHECK_ERRNO(kt_create(4096, (1ULL << 30) + 1, 0, NULL), EINVAL);
	CHECK_ERRNO(kt_create(~0ULL, 0, 0, NULL), EINVAL);
	/* Flags and names. */
	CHECK_ERRNO(kt_create(4096, 4096, 1, NULL), EINVAL);
	CHECK_ERRNO(kt_create(4096, 4096, XBUF_KCLONE_PUBLIC, NULL), EINVAL);
	CHECK_ERRNO(kt_create(4096, 4096, XBUF_KCLONE_PUBLIC, ""), EINVAL);
	CHECK_ERRNO(kt_create(4096, 4096, 0, "/"), EINVAL);
	CHECK_ERRNO(kt_create(4096, 4096, 0, "/a/b"), EINVAL);
	CHECK_ERRNO(kt_create(4096, 4096, 0, "/.."), EINVAL);
	memset(&req, 0, sizeof(req));
	req.i_bufsz = 4096;
	memset(req.name, 'x', sizeof(req.name));
	CHECK_ERRNO(ioctl(kt_clone_fd(), XBUF_IOC_CLONE, &req), ENAMETOOLONG);
	req.name[sizeof(req.name) - 1] = 0;
	req.mode = 01000;	/* only the rw bits of 0666 */
	CHECK_ERRNO(ioctl(kt_clone_fd(), XBUF_IOC_CLONE, &req), EINVAL);
	req.mode = 0700;
	CHECK_ERRNO(ioctl(kt_clone_fd(), XBUF_IOC_CLONE, &req), EINVAL);
	memset(longname, 'y', sizeof(longname));
	longname[XBUF_KNAME_LEN - 1] = 0;	/* 63 chars: the longest name */
	fd = kt_create_ok(4096, 0, XBUF_KCLONE_PUBLIC, longname);
	close(fd);
	/* Unknown ioctl on the clone device. */
	CHECK_ERRNO(ioctl(kt_clone_fd(), XBUF_IOC_KICK), ENOTTY);

	/* Public by leading '/'. */
	fd = kt_create_ok(4096, 8192, 0, "/t_pub");
	CHECK_EQ(ioctl(fd, XBUF_IOC_INFO, &ei), 0);
	CHECK_EQ(ei.flags, XBUF_KCLONE_PUBLIC);
	CHECK(!strcmp(ei.name, "t_pub"));
	CHECK_ERRNO(kt_create(4096, 4096, 0, "/t_pub"), EEXIST);
	CHECK_ERRNO(kt_create(4096, 4096, XBUF_KCLONE_PUBLIC, "t_pub"), EEXIST);
	/* Names devtmpfs already serves in /dev/xbuf/. */
	CHECK_ERRNO(kt_create(4096, 4096, 0, "/clone"), EEXIST);
	CHECK_ERRNO(kt_create(4096, 4096, XBUF_KCLONE_PUBLIC, "latmus"), EEXIST);

	/* Opening by name yields another fd on the same element. */
	fd2 = open("/dev/xbuf/t_pub", O_RDWR | O_CLOEXEC);
	CHECK(fd2 >= 0);
	check_same_element(fd, fd2);
	CHECK(!(fcntl(fd2, F_GETFL) & O_NONBLOCK));
	/* Traffic through one fd is visible through the other. */
	CHECK_EQ(write(fd, "hello", 5), 5);
	{
		struct xbuf_elem_rings r;

		kt_rings(fd2, &r);
		CHECK_EQ(r.ofill, 5);
		CHECK_EQ(r.osize, 8192);
		CHECK_EQ(r.isize, 4096);
	}
	/* The creator may go: the opener keeps the element and its name. */
	close(fd);
	CHECK_ERRNO(kt_create(4096, 4096, 0, "/t_pub"), EEXIST);
	fd = open("/dev/xbuf/t_pub", O_RDONLY | O_NONBLOCK);
	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	check_same_element(fd, fd2);
	close(fd);
	close(fd2);
	/* Gone with its last fd: the node and the name. */
	CHECK_ERRNO(open("/dev/xbuf/t_pub", O_RDWR), ENOENT);
	fd = kt_create_ok(4096, 4096, XBUF_KCLONE_PUBLIC, "t_pub");
	close(fd);
	CHECK_ERRNO(open("/dev/xbuf/nonexistent", O_RDWR), ENOENT);

	/* ENOBUFS: directions without a ring; count 0 is 0 first (EVL's order). */
	fd = kt_create_ok(4096, 0, 0, NULL);
	CHECK_ERRNO(write(fd, buf, 1), ENOBUFS);
	CHECK_EQ(write(fd, buf, 0), 0);
	kt_set_nonblock(fd, 1);
	CHECK_ERRNO(read(fd, buf, 1), EAGAIN);	/* inbound exists, empty */
	close(fd);
	fd = kt_create_ok(0, 4096, 0, NULL);
	CHECK_ERRNO(read(fd, buf, 1), ENOBUFS);
	CHECK_EQ(read(fd, buf, 0), 0);
	CHECK_EQ(write(fd, buf, 3), 3);
	close(fd);

	/* Unknown element ioctl; lseek is refused. */
	fd = kt_create_ok(4096, 4096, 0, NULL);
	CHECK_ERRNO(ioctl(fd, XBUF_IOC_CLONE, &req), ENOTTY);
	CHECK(lseek(fd, 0, SEEK_SET) < 0);
	close(fd);

	/* Many elements at once, then all gone. */
	{
		int fds[64];

		for (int i = 0; i < 64; i++)
			fds[i] = kt_create_ok(4096, 4096, 0, NULL);
		for (int i = 0; i < 64; i++)
			close(fds[i]);
	}

	return T_EXIT_PASS;
}
