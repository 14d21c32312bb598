// SPDX-License-Identifier: MIT
/*
 * Issue 9: EVL's small rules. Count 0 returns 0 before any ENOBUFS check,
 * on every call of both sides; a name held by a live element, private or
 * public, makes a second create fail with EEXIST; a public element stays
 * openable by name while any fd or mapping of it lives.
 */
#include <fcntl.h>
#include "peer.h"

int main(void)
{
	const char *name = unique_name("rules");
	char priv[80], buf[4];
	struct evl_file *f;
	struct evl_xbuf *xb;
	const void *rp;
	void *wp, *hold;
	int fd, o, status;
	pid_t pid;

	time_limit(30);
	/* count 0: 0 first, on both directions without a ring */
	for (int dir = 0; dir < 2; dir++) {
		fd = xbuf_create(dir ? 4096 : 0, dir ? 0 : 4096, 0, NULL);
		CHECK(fd >= 0);
		xb = evl_get_xbuf(fd, &f);
		CHECK(xb);
		CHECK_EQ(xbuf_read(fd, buf, 0), 0);
		CHECK_EQ(xbuf_write(fd, buf, 0), 0);
		CHECK_EQ(xbuf_read_begin(fd, 0, 0, &rp), 0);
		CHECK_EQ(xbuf_write_begin(fd, 0, 0, &wp), 0);
		CHECK_EQ(evl_read_xbuf(xb, buf, 0, 0), 0);
		CHECK_EQ(evl_write_xbuf(xb, buf, 0, 0), 0);
		CHECK_EQ(evl_read_xbuf(xb, buf, 0, O_NONBLOCK), 0);
		CHECK_EQ(evl_write_xbuf(xb, buf, 0, O_NONBLOCK), 0);
		/* the ring that is missing still says ENOBUFS for a real count */
		if (dir)
			CHECK_ERRNO(xbuf_write(fd, buf, 1), ENOBUFS);
		else
			CHECK_ERRNO(xbuf_read(fd, buf, 1), ENOBUFS);
		evl_put_xbuf(f);
		CHECK(xbuf_close(fd) == 0);
	}

	/* one name space: private and public, either order */
	snprintf(priv, sizeof(priv), "%s-p", name);
	fd = xbuf_create(16, 16, 0, "%s", priv);
	CHECK(fd >= 0);
	CHECK_ERR(xbuf_create(16, 16, 0, "%s", priv), EEXIST);
	CHECK_ERR(xbuf_create(16, 16, XBUF_CLONE_PUBLIC, "%s", priv), EEXIST);
	CHECK_ERR(xbuf_open(priv, 0), ENOENT);	/* still private */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)	/* another process too */
		_exit(xbuf_create(16, 16, 0, "%s", priv) == -EEXIST ? 0 : 1);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status));
	CHECK(xbuf_close(fd) == 0);
	fd = xbuf_create(16, 16, 0, "%s", priv);	/* free again */
	CHECK(fd >= 0);
	CHECK(xbuf_close(fd) == 0);
	CHECK_EQ(stale_files(priv), 0);

	fd = xbuf_create(16, 16, XBUF_CLONE_PUBLIC, "%s", name);
	CHECK(fd >= 0);
	CHECK_ERR(xbuf_create(16, 16, 0, "%s", name), EEXIST);

	/* openable while any fd or mapping lives: a mapping hold alone */
	hold = xbuf_map_hold(fd);
	CHECK(hold);
	CHECK(xbuf_close(fd) == 0);
	o = xbuf_open(name, 0);
	CHECK(o >= 0);
	CHECK(xbuf_close(o) == 0);
	xbuf_map_release(hold);
	CHECK_ERR(xbuf_open(name, 0), ENOENT);
	CHECK_EQ(stale_files(name), 0);

	/* ... or another process's fd, after the creator exited */
	fd = xbuf_create(16, 16, XBUF_CLONE_PUBLIC, "%s", name);
	CHECK(fd >= 0);
	o = xbuf_open(name, 0);
	CHECK(o >= 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		xbuf_close(o);
		_exit(0);	/* the creator's process is this child's parent: see below */
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(xbuf_close(fd) == 0);	/* the creator's fd */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int x = xbuf_open(name, 0);

		_exit(x >= 0 ? 0 : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status));
	CHECK(xbuf_close(o) == 0);
	CHECK_ERR(xbuf_open(name, 0), ENOENT);
	CHECK_EQ(stale_files(name), 0);
	return T_EXIT_PASS;
}
