/* SPDX-License-Identifier: MIT */
/*
 * t_stale.c - issue 11, item 2: an inode that outlives its element never
 * opens a later element with the same minor. An O_PATH fd of a public
 * node reopens that element while it lives; once it is gone, ids are
 * allocated cyclically (the next element does not take its minor) and,
 * when the ids come round to that minor again, the old inode is refused
 * (ENOENT) while the new element's own node opens. A node mknod'ed
 * before the element is refused the same way.
 */
#include "kt.h"
#include <sys/sysmacros.h>

static unsigned int id_of(int fd)
{
	struct xbuf_elem_info ei;

	CHECK_EQ(ioctl(fd, XBUF_IOC_INFO, &ei), 0);
	return ei.id;
}

static int reopen(int opath, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", opath);
	return open(path, flags);
}

int main(void)
{
	struct stat st;
	unsigned int minor, id = 0;
	int fd, opath, fd2, n;

	fd = kt_create_ok(4096, 4096, XBUF_KCLONE_PUBLIC, "t_stale");
	CHECK_EQ(stat("/dev/xbuf/t_stale", &st), 0);
	minor = minor(st.st_rdev);
	CHECK_EQ(id_of(fd), minor);
	opath = open("/dev/xbuf/t_stale", O_PATH | O_CLOEXEC);
	CHECK(opath >= 0);
	/* While the element lives, its inode opens it. */
	fd2 = reopen(opath, O_RDWR);
	CHECK(fd2 >= 0);
	CHECK_EQ(id_of(fd2), minor);
	close(fd2);
	/* A node mknod'ed now is younger than the element: it opens it. */
	unlink("/tmp/t_stale_node");
	CHECK_EQ(mknod("/tmp/t_stale_node", S_IFCHR | 0600, st.st_rdev), 0);
	fd2 = open("/tmp/t_stale_node", O_RDWR);
	CHECK(fd2 >= 0);
	close(fd2);
	close(fd);
	CHECK(access("/dev/xbuf/t_stale", F_OK) < 0);

	/* Cyclic: the next element does not get the freed minor. */
	fd = kt_create_ok(4096, 4096, XBUF_KCLONE_PUBLIC, "t_stale");
	CHECK(id_of(fd) != minor);
	CHECK_ERRNO(reopen(opath, O_RDWR), ENOENT);
	close(fd);

	/* Go round the ids until the next one is the old minor. */
	for (n = 0; n < 1 << 16; n++) {
		fd = kt_create_ok(4096, 0, 0, NULL);
		id = id_of(fd);
		close(fd);
		if (id + 1 == minor)
			break;
	}
	CHECK(id + 1 == minor);
	fd = kt_create_ok(4096, 4096, XBUF_KCLONE_PUBLIC, "t_stale2");
	CHECK_EQ(id_of(fd), minor);
	printf("t_stale: minor %u again after %d creates\n", minor, n + 2);
	/* The old inode and the old node are stale; the new node is not. */
	CHECK_ERRNO(reopen(opath, O_RDWR), ENOENT);
	CHECK_ERRNO(reopen(opath, O_RDONLY), ENOENT);
	CHECK_ERRNO(open("/tmp/t_stale_node", O_RDWR), ENOENT);
	fd2 = open("/dev/xbuf/t_stale2", O_RDWR);
	CHECK(fd2 >= 0);
	CHECK_EQ(id_of(fd2), minor);
	close(fd2);
	close(fd);
	close(opath);
	unlink("/tmp/t_stale_node");
	return T_EXIT_PASS;
}
