// SPDX-License-Identifier: MIT
/*
 * Issue 9: the element fd is safe whatever a program does with it:
 * close(2) instead of xbuf_close() and the number handed out again,
 * read(2)/write(2)/poll(2)/epoll on it, dup(2), fork, exec, SCM_RIGHTS.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include "peer.h"

static int send_fd(int sock, int fd)
{
	char c = 'f';
	struct iovec iov = { &c, 1 };
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char c;
	struct iovec iov = { &c, 1 };
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b) };
	int fd;

	if (recvmsg(sock, &m, 0) != 1 || !CMSG_FIRSTHDR(&m))
		return -1;
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
	return fd;
}

static int child_status(pid_t pid)
{
	int st;

	CHECK(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
	struct evl_file *f;
	struct evl_xbuf *xb;
	struct xbuf_rings r;
	char buf[64], path[64];
	int a, b, d, ep, sv[2];
	struct pollfd pfd;
	pid_t pid;

	/* exec'd by ourselves: write through the inherited fd, exit 0 on success */
	if (argc == 3 && !strcmp(argv[1], "exec"))
		return xbuf_write(atoi(argv[2]), "exec", 4) == 4 ? 0 : 10 + errno;
	time_limit(30);

	/* 1. close(2), then a new element gets the number: it never reaches the old one */
	a = xbuf_create(4096, 4096, 0, NULL);
	CHECK(a >= 0);
	CHECK(xbuf_write(a, "OLD!", 4) == 4);
	CHECK(close(a) == 0);
	b = xbuf_create(4096, 4096, 0, NULL);
	CHECK_EQ(b, a);	/* the same number */
	CHECK(xbuf_rings(b, &r) == 0);
	CHECK_EQ(r.ofill, 0);	/* the old element's outbound bytes are not there */
	xb = evl_get_xbuf(b, &f);
	CHECK(xb);
	CHECK_ERR(evl_read_xbuf(xb, buf, 4, O_NONBLOCK), EAGAIN);
	evl_put_xbuf(f);
	CHECK(xbuf_close(b) == 0);

	/* ... nor does another file: EBADF, and xbuf_close() leaves that file alone */
	a = xbuf_create(4096, 4096, 0, NULL);
	CHECK(a >= 0 && xbuf_write(a, "OLD!", 4) == 4);
	CHECK(close(a) == 0);
	d = open("/dev/null", O_RDWR);
	CHECK_EQ(d, a);
	CHECK_ERRNO(xbuf_write(d, "x", 1), EBADF);
	CHECK_ERR(xbuf_rings(d, &r), EBADF);
	CHECK_ERR(xbuf_close(d), EBADF);
	CHECK(fcntl(d, F_GETFD) >= 0);	/* still open: not ours to close */
	close(d);

	/* 2. read(2)/write(2)/poll(2)/epoll never reach the header nor the rings */
	snprintf(path, sizeof(path), "%s", unique_name("fd"));
	a = xbuf_create(4096, 4096, XBUF_CLONE_PUBLIC, "%s", path);
	CHECK(a >= 0);
	CHECK(xbuf_write(a, "data", 4) == 4);
	CHECK(read(a, buf, sizeof(buf)) == -1 && errno == EINVAL);
	CHECK(write(a, "ABCD", 4) == -1 && errno == EINVAL);
	ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK(ep >= 0);
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, a, &(struct epoll_event){ .events = EPOLLIN }) == -1 && errno == EPERM);
	close(ep);
	pfd = (struct pollfd){ .fd = a, .events = POLLIN };
	CHECK_EQ(poll(&pfd, 1, 0), 1);	/* a regular file: always ready (documented: use xbuf_notify_fd) */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* another process still opens it: the magic is intact */
		int o = xbuf_open(path, 0);

		_exit(o >= 0 && xbuf_rings(o, &r) == 0 && r.ofill == 4 ? 0 : 1);
	}
	CHECK_EQ(child_status(pid), 0);

	/* 3. dup(2): the same element; closing one number leaves the other */
	d = dup(a);
	CHECK(d >= 0);
	CHECK(xbuf_rings(d, &r) == 0 && r.ofill == 4);
	CHECK(xbuf_write(d, "more", 4) == 4);
	CHECK(xbuf_close(d) == 0);
	CHECK(xbuf_rings(a, &r) == 0 && r.ofill == 8);

	/* 4. fork: the parent's claims stay the parent's (EBUSY), the rest works */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(xbuf_rings(a, &r) == 0 && r.ofill == 8 && xbuf_write(a, "x", 1) == -1 &&
		      errno == EBUSY ? 0 : 1);
	CHECK_EQ(child_status(pid), 0);

	/* 5. exec: closed by default (O_CLOEXEC); kept and adopted when asked */
	CHECK(xbuf_close(a) == 0);
	a = xbuf_create(4096, 4096, 0, NULL);	/* unclaimed: the exec'd program may write */
	CHECK(a >= 0);
	snprintf(buf, sizeof(buf), "%d", a);
	for (int keep = 0; keep < 2; keep++) {
		if (keep)
			CHECK(fcntl(a, F_SETFD, 0) == 0);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			execl("/proc/self/exe", argv[0], "exec", buf, (char *)NULL);
			_exit(99);
		}
		CHECK_EQ(child_status(pid), keep ? 0 : 10 + EBADF);
	}
	CHECK(xbuf_rings(a, &r) == 0 && r.ofill == 4);
	CHECK(xbuf_close(a) == 0);

	/* 6. SCM_RIGHTS: the receiver adopts the element on its first call */
	a = xbuf_create(4096, 4096, 0, NULL);
	CHECK(a >= 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int got;

		xbuf_close(a);	/* the inherited one goes: only the passed fd is left */
		got = recv_fd(sv[1]);
		_exit(got >= 0 && xbuf_write(got, "sent", 4) == 4 ? 0 : 1);
	}
	CHECK(send_fd(sv[0], a) == 0);
	CHECK_EQ(child_status(pid), 0);
	CHECK(xbuf_rings(a, &r) == 0 && r.ofill == 4);
	CHECK(xbuf_close(a) == 0);
	close(sv[0]);
	close(sv[1]);
	return T_EXIT_PASS;
}
