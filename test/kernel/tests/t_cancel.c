/* SPDX-License-Identifier: MIT */
/*
 * XBUF_IOC_CANCEL: ends an XBUF_IOC_WAIT that nothing else would end (an
 * infinite wait on an empty ring) with ECANCELED, at once; it is sticky
 * (a later wait on that file fails the same way) and per file (another
 * fd of the same element still waits normally). This is how libxbuf's
 * xbuf_close() fails a call blocked on a kernel element with EBADF.
 */
#include "kt.h"

struct waiter {
	int fd;
	long ret;
	int err;
};

static void *wait_forever(void *arg)
{
	struct waiter *w = arg;
	struct xbuf_wait_req req = { .events = XBUF_KWAIT_IN, .count = 1, .timeout_ns = -1 };

	w->ret = ioctl(w->fd, XBUF_IOC_WAIT, &req);
	w->err = errno;
	return NULL;
}

int main(void)
{
	struct xbuf_wait_req req = { .events = XBUF_KWAIT_IN, .count = 1, .timeout_ns = 0 };
	struct waiter w = { 0 };
	struct xbuf_elem_info info;
	char path[96];
	pthread_t thr;
	int fd, other;

	fd = kt_create_ok(4096, 4096, XBUF_KCLONE_PUBLIC, "cancel");
	CHECK_EQ(ioctl(fd, XBUF_IOC_INFO, &info), 0);
	snprintf(path, sizeof(path), "/dev/xbuf/%s", info.name);
	other = open(path, O_RDWR | O_CLOEXEC);
	CHECK(other >= 0);

	w.fd = fd;
	CHECK_EQ(pthread_create(&thr, NULL, wait_forever, &w), 0);
	kt_msleep(100);			/* let it sleep */
	CHECK_EQ(ioctl(fd, XBUF_IOC_CANCEL), 0);
	CHECK_EQ(pthread_join(thr, NULL), 0);	/* hangs here without the cancel */
	CHECK_EQ(w.ret, -1);
	CHECK_EQ(w.err, ECANCELED);

	/* sticky, even for a wait with no timeout at all */
	CHECK_ERRNO(ioctl(fd, XBUF_IOC_WAIT, &(struct xbuf_wait_req){
		.events = XBUF_KWAIT_IN, .count = 1, .timeout_ns = -1 }), ECANCELED);
	/* per file: the other fd of the same element still polls normally */
	CHECK_EQ(ioctl(other, XBUF_IOC_WAIT, &req), 0);	/* empty, no timeout: not ready */
	req.events = XBUF_KWAIT_OUT;
	CHECK_EQ(ioctl(other, XBUF_IOC_WAIT, &req), XBUF_KWAIT_OUT);

	close(other);
	close(fd);
	return T_EXIT_PASS;
}
