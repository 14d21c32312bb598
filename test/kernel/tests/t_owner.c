/* SPDX-License-Identifier: MIT */
/*
 * t_owner.c - issue 11, item 4: an ordinary user in the group of
 * /dev/xbuf/clone (root:<group> 0660) creates, maps and uses an element;
 * its public node and sysfs entry are its own (0600 / 0400, or the mode
 * it asks for); another uid, even in the group, is refused its public
 * element, through the node, a mknod'ed node or sysfs; a uid outside the
 * group cannot create.
 */
#include "kt.h"
#include <sys/sysmacros.h>

#define OWNER	65534
#define OTHER	65533

static int to_parent[2], to_child[2];

/* The owner: create, map, talk to the (root) driver end, wait. */
static void owner(void *arg)
{
	struct kt_map m;
	struct stat st;
	unsigned char buf[64];
	int fd, fd2;

	(void)arg;
	kt_become(OWNER, 1);
	fd = kt_create_ok(4096, 4096, XBUF_KCLONE_PUBLIC, "t_owner");
	kt_map(fd, &m);
	CHECK_EQ(stat("/dev/xbuf/t_owner", &st), 0);
	CHECK_EQ(st.st_uid, OWNER);
	CHECK_EQ(st.st_gid, OWNER);
	CHECK_EQ(st.st_mode & 07777, 0600);
	CHECK_EQ(stat("/sys/class/xbuf/t_owner/rings", &st), 0);
	CHECK_EQ(st.st_uid, OWNER);
	CHECK_EQ(st.st_mode & 0777, 0400);
	/* The owner reopens its node, reads its sysfs. */
	fd2 = open("/dev/xbuf/t_owner", O_RDWR);
	CHECK(fd2 >= 0);
	close(fd2);
	fd2 = open("/sys/class/xbuf/t_owner/rings", O_RDONLY);
	CHECK(fd2 >= 0);
	close(fd2);
	/* A mode of its choice, and a private element. */
	/* Names are one name space: the parent's is taken for anyone. */
	CHECK_ERRNO(kt_create(4096, 0, XBUF_KCLONE_PUBLIC, "t_owner_g"), EEXIST);
	fd2 = kt_create_ok(4096, 0, 0, NULL);
	close(fd2);

	kt_say(to_parent[1], 'c');		/* created: the driver end may bind */
	CHECK_EQ(kt_hear(to_child[0]), 'w');	/* it wrote 16 bytes */
	CHECK_EQ(read(fd, buf, 16), 16);
	CHECK(kt_same(buf, 16, 3));
	/* Zero-copy out: write through the mapping, then write(2). */
	kt_fill(buf, 8, 5);
	memcpy(m.data[XBUF_OUTBOUND], buf, 8);
	__atomic_store_n(&m.app->prod.pos, 8, __ATOMIC_RELEASE);
	CHECK_EQ(write(fd, buf, 8), 8);
	kt_say(to_parent[1], 'r');
	CHECK_EQ(kt_hear(to_child[0]), 'q');	/* the other uid was refused */
	close(fd);
	_exit(0);
}

/* Another uid in the group: refused the owner's element. */
static void other(void *arg)
{
	int fd;

	(void)arg;
	kt_become(OTHER, 1);
	CHECK_ERRNO(open("/dev/xbuf/t_owner", O_RDWR), EACCES);
	CHECK_ERRNO(open("/dev/xbuf/t_owner", O_RDONLY), EACCES);
	/* root's mknod'ed 0666 node: the element's own mode still says no. */
	CHECK_ERRNO(open("/tmp/t_owner_node", O_RDWR), EACCES);
	CHECK_ERRNO(open("/tmp/t_owner_node", O_RDONLY), EACCES);
	CHECK_ERRNO(open("/sys/class/xbuf/t_owner/rings", O_RDONLY), EACCES);
	/* An element of 0660 mode: group members may open it. */
	fd = open("/dev/xbuf/t_owner_g", O_RDWR);
	CHECK(fd >= 0);
	close(fd);
	/* It may create its own. */
	fd = kt_create_ok(4096, 0, XBUF_KCLONE_PUBLIC, "t_owner_o");
	close(fd);
	_exit(0);
}

/* Outside the group: no clone device. */
static void outsider(void *arg)
{
	(void)arg;
	kt_become(OTHER, 0);
	CHECK_ERRNO(open(XBUF_KDEV_CLONE, O_RDWR), EACCES);
	_exit(0);
}

int main(void)
{
	struct stat st;
	struct xbuf_clone_req req;
	unsigned char buf[64];
	pid_t pid;
	int status, fd, gfd, st_fd;

	CHECK_EQ(stat(XBUF_KDEV_CLONE, &st), 0);
	printf("t_owner: clone %o %u:%u\n", st.st_mode & 07777, st.st_uid, st.st_gid);
	CHECK_EQ(st.st_mode & 07777, 0660);
	if (st.st_gid == 0) {
		fprintf(stderr, "clone device has no group (module parameter group)\n");
		return T_EXIT_FAIL;
	}
	/* A 0660 element of root, whose group is the clone's. */
	memset(&req, 0, sizeof(req));
	req.i_bufsz = 4096;
	req.flags = XBUF_KCLONE_PUBLIC;
	req.mode = 0660;
	strcpy(req.name, "t_owner_g");
	CHECK_EQ(setegid(st.st_gid), 0);
	gfd = ioctl(kt_clone_fd(), XBUF_IOC_CLONE, &req);
	CHECK_EQ(setegid(0), 0);
	CHECK(gfd >= 0);
	CHECK_EQ(stat("/dev/xbuf/t_owner_g", &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0660);

	CHECK(!pipe(to_parent) && !pipe(to_child));
	pid = fork();
	CHECK(pid >= 0);
	if (!pid)
		owner(NULL);
	close(to_parent[1]);	/* a child that fails: EOF, not a hang */
	close(to_child[0]);
	CHECK_EQ(kt_hear(to_parent[0]), 'c');
	/* Root is the driver end. */
	fd = open("/dev/xbuf/t_owner", O_RDWR);
	CHECK(fd >= 0);
	st_fd = kt_bind(fd);
	kt_fill(buf, 16, 3);
	CHECK_EQ(kt_kwrite(st_fd, buf, 16, 0), 16);
	kt_say(to_child[1], 'w');
	CHECK_EQ(kt_hear(to_parent[0]), 'r');
	CHECK_EQ(kt_kread(st_fd, buf, 16, 0), 16);
	CHECK(kt_same(buf, 8, 5) && kt_same(buf + 8, 8, 5));
	/* The other uid, while the owner's element lives. */
	CHECK_EQ(stat("/dev/xbuf/t_owner", &st), 0);
	unlink("/tmp/t_owner_node");
	CHECK_EQ(mknod("/tmp/t_owner_node", S_IFCHR | 0666, st.st_rdev), 0);
	CHECK_EQ(chmod("/tmp/t_owner_node", 0666), 0);
	status = kt_in_child(other, NULL);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	status = kt_in_child(outsider, NULL);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	kt_say(to_child[1], 'q');
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(st_fd);
	close(fd);
	close(gfd);
	unlink("/tmp/t_owner_node");
	return T_EXIT_PASS;
}
