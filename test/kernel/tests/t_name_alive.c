/* SPDX-License-Identifier: MIT */
/*
 * Issue 9: a public element stays openable by name while any fd or
 * mapping of it lives, in any process, the creator's or not; once the
 * last one goes (the application left) the name is gone and free again,
 * even while a driver still holds the old element.
 */
#include "kt.h"

#define NAME "t_name_alive"
#define NODE "/dev/xbuf/" NAME

static int id_of(int fd)
{
	struct xbuf_elem_info ei;

	CHECK_EQ(ioctl(fd, XBUF_IOC_INFO, &ei), 0);
	return (int)ei.id;
}

static void opener(void *arg)
{
	int fd = open(NODE, O_RDWR);

	(void)arg;
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "c", 1), 1);
	close(fd);
}

int main(void)
{
	struct kt_map m;
	char c;
	int fd, fd2, st, id, status, pipes[2];
	pid_t pid;

	/* The creator's fd goes; another fd keeps the name. */
	fd = kt_create_ok(64, 64, XBUF_KCLONE_PUBLIC, NAME);
	id = id_of(fd);
	fd2 = open(NODE, O_RDWR);
	CHECK(fd2 >= 0);
	close(fd);
	fd = open(NODE, O_RDWR);
	CHECK(fd >= 0);
	CHECK_EQ(id_of(fd), id);
	close(fd2);

	/* No fd, only a mapping: still openable, by another process too. */
	kt_map(fd, &m);
	close(fd);
	CHECK_EQ(access(NODE, F_OK), 0);
	CHECK_EQ(kt_in_child(opener, NULL), 0);
	CHECK_EQ(kt_load64(&m.app->prod.pos), 1);		/* the child's byte */

	/* The mapping in a child only: the parent's goes, the child's keeps it. */
	CHECK(!pipe(pipes));
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		close(pipes[1]);
		kt_hear(pipes[0]);				/* until the parent says */
		_exit(0);
	}
	close(pipes[0]);
	fd = open(NODE, O_RDWR);
	CHECK(fd >= 0);
	st = kt_bind(fd);					/* a driver, no file */
	close(fd);
	munmap(m.base, m.size);					/* the child's copy is left */
	fd = open(NODE, O_RDWR);
	CHECK(fd >= 0);
	CHECK_EQ(id_of(fd), id);
	close(fd);
	CHECK_EQ(kt_kwrite(st, "d", 1, XBUF_KIO_NONBLOCK), 1);
	kt_say(pipes[1], 'g');
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* All gone: no name, though the driver still holds the element. */
	CHECK(access(NODE, F_OK) < 0);
	CHECK_ERRNO(open(NODE, O_RDWR), ENOENT);
	CHECK_ERRNO(kt_kwrite(st, &c, 1, XBUF_KIO_NONBLOCK), EIDRM);
	fd = kt_create_ok(64, 64, XBUF_KCLONE_PUBLIC, NAME);	/* free again */
	CHECK(id_of(fd) != id);
	close(fd);
	close(st);
	return T_EXIT_PASS;
}
