// SPDX-License-Identifier: MIT
/* Creation, naming and lookup: every error xbuf_create() and xbuf_open() promise. */
#include <fcntl.h>
#include <sys/wait.h>
#include "test.h"

int main(void)
{
	char name[64], slashed[80];
	struct xbuf_rings r;
	struct evl_file *f;
	int a, b, p, fd, devnull;

	snprintf(name, sizeof(name), "%s", unique_name("create"));
	snprintf(slashed, sizeof(slashed), "/%s", name);

	/* sizes and flags */
	CHECK_ERR(xbuf_create(0, 0, 0, NULL), EINVAL);
	CHECK_ERR(xbuf_create((1u << 30) + 1, 16, 0, NULL), EINVAL);
	CHECK_ERR(xbuf_create(16, (1u << 30) + 1, 0, NULL), EINVAL);
	CHECK_ERR(xbuf_create(16, 16, 1 << 3, NULL), EINVAL);
	/* names */
	CHECK_ERR(xbuf_create(16, 16, XBUF_CLONE_PUBLIC, NULL), EINVAL);
	CHECK_ERR(xbuf_create(16, 16, XBUF_CLONE_PUBLIC, "%s", ""), EINVAL);
	CHECK_ERR(xbuf_create(16, 16, 0, "/"), EINVAL);
	CHECK_ERR(xbuf_create(16, 16, 0, "/a/b"), EINVAL);
	CHECK_ERR(xbuf_create(16, 16, 0, "/.."), EINVAL);
	CHECK_ERR(xbuf_create(16, 16, 0, "/%070d", 1), ENAMETOOLONG);
	CHECK_ERR(xbuf_open(NULL, 0), EINVAL);
	CHECK_ERR(xbuf_open("", 0), EINVAL);
	CHECK_ERR(xbuf_open(name, 0), ENOENT);
	CHECK_ERR(xbuf_open(name, 1 << 3), EINVAL);

	/* the largest ring is fine: tmpfs allocates on use */
	fd = xbuf_create(1u << 30, 0, 0, NULL);
	CHECK(fd >= 0);
	CHECK(xbuf_rings(fd, &r) == 0 && r.isize == 1u << 30 && r.osize == 0);
	CHECK(xbuf_close(fd) == 0);

	/* private: named, but not reachable by that name */
	p = xbuf_create(100, 0, XBUF_CLONE_NONBLOCK, "%s", name);
	CHECK(p >= 0);
	CHECK(!strcmp(xbuf_name(p), name));
	CHECK_ERR(xbuf_open(name, 0), ENOENT);
	CHECK(fcntl(p, F_GETFL) & O_NONBLOCK);
	CHECK(xbuf_rings(p, &r) == 0);
	CHECK(r.isize == 100 && r.osize == 0 && r.ifill == 0 && r.ofill == 0);
	CHECK(xbuf_write(p, "x", 1) == -1 && errno == ENOBUFS);
	/* a live private element holds its name too (EVL's factory: issue 9) */
	CHECK_ERR(xbuf_create(10, 10, XBUF_CLONE_PUBLIC, "%s", name), EEXIST);
	CHECK_ERR(xbuf_create(10, 10, 0, "%s", name), EEXIST);
	CHECK(xbuf_close(p) == 0);
	p = xbuf_create(100, 0, XBUF_CLONE_NONBLOCK, "%s-p", name);
	CHECK(p >= 0);

	/* public by leading slash; a second one with that name is EEXIST */
	a = xbuf_create(1000, 2000, 0, "%s", slashed);
	CHECK(a >= 0);
	CHECK(!strcmp(xbuf_name(a), name));
	CHECK(!(fcntl(a, F_GETFL) & O_NONBLOCK));
	CHECK_ERR(xbuf_create(10, 10, XBUF_CLONE_PUBLIC, "%s", name), EEXIST);
	CHECK_ERR(xbuf_create(10, 10, 0, "%s", slashed), EEXIST);

	/* open by either spelling; both fds reach the same rings */
	b = xbuf_open(slashed, XBUF_CLONE_NONBLOCK);
	CHECK(b >= 0);
	CHECK(fcntl(b, F_GETFL) & O_NONBLOCK);
	CHECK(xbuf_write(a, "0123456789", 10) == 10);
	CHECK(xbuf_rings(b, &r) == 0 && r.ofill == 10 && r.osize == 2000 && r.isize == 1000);
	{
		struct evl_xbuf *xb = evl_get_xbuf(b, &f);
		char buf[10];

		CHECK(xb);
		CHECK(evl_read_xbuf(xb, buf, 10, O_NONBLOCK) == 10 && !memcmp(buf, "0123456789", 10));
		evl_put_xbuf(f);
	}

	/* the creator's close leaves the name while another fd lives (issue 9); the last one takes it */
	CHECK(xbuf_close(a) == 0);
	CHECK(xbuf_write(b, "abc", 3) == 3);
	CHECK(xbuf_rings(b, &r) == 0 && r.ofill == 3);
	a = xbuf_open(name, 0);
	CHECK(a >= 0);
	CHECK(xbuf_close(a) == 0);
	CHECK(xbuf_close(b) == 0);
	CHECK_ERR(xbuf_open(name, 0), ENOENT);

	/* a creator that dies leaves a stale name: open says ENOENT, create reuses it */
	pid_t child = fork();
	if (child == 0)
		_exit(xbuf_create(16, 16, XBUF_CLONE_PUBLIC, "%s", name) >= 0 ? 0 : 1);
	int status;
	CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_ERR(xbuf_open(name, 0), ENOENT);
	a = xbuf_create(16, 16, XBUF_CLONE_PUBLIC, "%s", name);
	CHECK(a >= 0);
	CHECK(xbuf_close(a) == 0);

	/* bad descriptors */
	CHECK(xbuf_read(-1, slashed, 1) == -1 && errno == EBADF);
	CHECK_ERR(xbuf_close(-1), EBADF);
	devnull = open("/dev/null", O_RDWR);
	CHECK(devnull >= 0);
	CHECK(xbuf_write(devnull, "x", 1) == -1 && errno == EBADF);
	CHECK(evl_get_xbuf(devnull, &f) == NULL);
	CHECK(evl_get_xbuf(-5, &f) == NULL);
	CHECK(xbuf_name(devnull) == NULL);
	CHECK_ERR(xbuf_rings(devnull, &r), EBADF);
	close(devnull);

	/* use after close */
	CHECK(xbuf_close(p) == 0);
	CHECK_ERR(xbuf_close(p), EBADF);
	CHECK_ERR(xbuf_rings(p, &r), EBADF);
	return T_EXIT_PASS;
}
