// SPDX-License-Identifier: MIT
/*
 * Read/write semantics on one thread: atomic writes, EAGAIN, EINVAL,
 * ENOBUFS, zero counts, partial non-blocking reads, the wrap, the
 * zero-copy borrow rules and the counters.
 */
#include <fcntl.h>
#include "test.h"

static uint64_t in_w, in_r, out_w, out_r;	/* stream offsets per direction */

static void drv_write(struct evl_xbuf *xb, size_t n)
{
	uint8_t buf[4096];

	pattern_fill(buf, in_w, n);
	CHECK(evl_write_xbuf(xb, buf, n, O_NONBLOCK) == (ssize_t)n);
	in_w += n;
}

static void app_read_exact(int fd, size_t n)
{
	uint8_t buf[4096];

	CHECK(xbuf_read(fd, buf, n) == (ssize_t)n);
	CHECK(pattern_check(buf, in_r, n) < 0);
	in_r += n;
}

int main(void)
{
	struct xbuf_rings r;
	struct xbuf_stat st;
	struct evl_file *f;
	struct evl_xbuf *xb;
	uint8_t buf[8192];
	const void *rp;
	void *wp;
	int fd, nb, i;

	fd = xbuf_create(1000, 1000, 0, NULL);	/* not a power of two: capacity is exact */
	CHECK(fd >= 0);
	xb = evl_get_xbuf(fd, &f);
	CHECK(xb);

	/* zero counts */
	CHECK(xbuf_read(fd, buf, 0) == 0);
	CHECK(xbuf_write(fd, buf, 0) == 0);
	CHECK(evl_read_xbuf(xb, buf, 0, 0) == 0);
	CHECK(evl_write_xbuf(xb, buf, 0, 0) == 0);

	/* larger than the ring: EINVAL for writes and blocking reads */
	CHECK(xbuf_write(fd, buf, 1001) == -1 && errno == EINVAL);
	CHECK(xbuf_read(fd, buf, 1001) == -1 && errno == EINVAL);
	CHECK_ERR(evl_write_xbuf(xb, buf, 1001, O_NONBLOCK), EINVAL);
	CHECK_ERR(evl_read_xbuf(xb, buf, 1001, 0), EINVAL);

	/* atomic writes: all or nothing */
	drv_write(xb, 600);
	CHECK_ERR(evl_write_xbuf(xb, buf, 600, O_NONBLOCK), EAGAIN);
	CHECK(xbuf_rings(fd, &r) == 0 && r.ifill == 600 && r.isize == 1000);
	drv_write(xb, 400);
	CHECK_ERR(evl_write_xbuf(xb, buf, 1, O_NONBLOCK), EAGAIN);

	/* a non-blocking read takes what is there, even above the capacity */
	nb = xbuf_open("/nonexistent-xbuf-name", 0);
	CHECK(nb == -ENOENT);
	CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
	CHECK(xbuf_read(fd, buf, 4000) == 1000);
	CHECK(pattern_check(buf, in_r, 1000) < 0);
	in_r += 1000;
	CHECK(xbuf_read(fd, buf, 10) == -1 && errno == EAGAIN);
	CHECK_ERR(evl_read_xbuf(xb, buf, 10, O_NONBLOCK), EAGAIN);
	drv_write(xb, 10);
	CHECK(xbuf_read(fd, buf, 100) == 10);	/* partial */
	CHECK(pattern_check(buf, in_r, 10) < 0);
	in_r += 10;
	CHECK(fcntl(fd, F_SETFL, 0) == 0);

	/* the wrap: odd sizes through a 4 KiB data area, copying and zero-copy */
	srand(1);
	for (i = 0; i < 20000; i++) {
		size_t n = 1 + (size_t)rand() % 999;

		if (i & 1) {
			drv_write(xb, n);
			app_read_exact(fd, n);
		} else {
			ssize_t got;

			CHECK(xbuf_write_begin(fd, n, XBUF_NONBLOCK, &wp) == (ssize_t)n);
			pattern_fill(wp, out_w, n);
			CHECK(xbuf_write_end(fd, n) == 0);
			out_w += n;
			got = evl_read_xbuf(xb, buf, sizeof(buf), O_NONBLOCK);
			CHECK(got == (ssize_t)n);
			CHECK(pattern_check(buf, out_r, n) < 0);
			out_r += n;
		}
	}

	/* a borrow spans the wrap contiguously */
	drv_write(xb, 900);
	app_read_exact(fd, 500);
	drv_write(xb, 500);	/* fill 900, crossing the 4 KiB boundary somewhere */
	CHECK(xbuf_read_begin(fd, 5000, XBUF_NONBLOCK, &rp) == 900);
	CHECK(pattern_check(rp, in_r, 900) < 0);
	/* borrow rules: one per thread and end, the end takes at most what was lent */
	CHECK_ERR(xbuf_read_begin(fd, 1, XBUF_NONBLOCK, &rp), EBUSY);
	CHECK(xbuf_read(fd, buf, 1) == -1 && errno == EBUSY);
	CHECK_ERR(xbuf_read_end(fd, 901), EINVAL);
	CHECK(xbuf_read_end(fd, 400) == 0);
	in_r += 400;
	CHECK_ERR(xbuf_read_end(fd, 0), EINVAL);	/* no borrow outstanding */
	CHECK(xbuf_read_begin(fd, 500, 0, &rp) == 500);	/* blocking mode, data there */
	CHECK(pattern_check(rp, in_r, 500) < 0);
	CHECK(xbuf_read_end(fd, 500) == 0);
	in_r += 500;
	CHECK_ERR(xbuf_read_begin(fd, 1, XBUF_NOWAIT, &rp), EAGAIN);
	CHECK_ERR(xbuf_read_begin(fd, 1, XBUF_NOWAIT | XBUF_NONBLOCK, &rp), EINVAL);
	CHECK_ERR(xbuf_read_begin(fd, 1, 0x40, &rp), EINVAL);
	CHECK_ERR(xbuf_read_begin(fd, 1, 0, NULL), EFAULT);
	CHECK(xbuf_read_begin(fd, 0, 0, &rp) == 0);	/* count 0: nothing lent */
	CHECK_ERR(xbuf_write_begin(fd, 1001, XBUF_NONBLOCK, &wp), EINVAL);
	/* a write borrow of exactly the room, then nothing more */
	CHECK(xbuf_write_begin(fd, 1000, XBUF_NOWAIT, &wp) == 1000);
	CHECK(xbuf_write_end(fd, 0) == 0);	/* publish nothing */
	CHECK(xbuf_rings(fd, &r) == 0 && r.ofill == 0);

	/* counters */
	CHECK(xbuf_stat(fd, &st) == 0);
	CHECK(st.inbound.produced == in_w && st.inbound.consumed == in_r);
	CHECK(st.outbound.produced == out_w && st.outbound.consumed == out_r);
	CHECK(st.inbound.write_eagain == 2 && st.inbound.read_eagain >= 1);
	CHECK(st.inbound.writes == 2 + 10000 + 2 + 1);
	CHECK(st.inbound.producer_pid == getpid() && st.inbound.consumer_pid == getpid());
	CHECK(st.inbound.capacity == 1000);
	/* nobody ever slept: the fast path issued no futex wake at all */
	CHECK(st.inbound.producer_wakeups == 0 && st.inbound.consumer_wakeups == 0);
	CHECK(st.outbound.producer_wakeups == 0 && st.outbound.consumer_wakeups == 0);

	evl_put_xbuf(f);
	CHECK(xbuf_close(fd) == 0);

	/* ENOBUFS in each direction without a ring */
	fd = xbuf_create(0, 64, 0, NULL);
	CHECK(fd >= 0);
	xb = evl_get_xbuf(fd, &f);
	CHECK(xb);
	CHECK(xbuf_read(fd, buf, 1) == -1 && errno == ENOBUFS);
	CHECK_ERR(evl_write_xbuf(xb, buf, 1, 0), ENOBUFS);
	CHECK_ERR(xbuf_read_begin(fd, 1, XBUF_NONBLOCK, &rp), ENOBUFS);
	CHECK_ERR(xbuf_poll(fd, XBUF_POLLIN, 1, 0), ENOBUFS);
	CHECK(xbuf_write(fd, "ok", 2) == 2);
	CHECK(evl_read_xbuf(xb, buf, 2, 0) == 2 && !memcmp(buf, "ok", 2));
	evl_put_xbuf(f);
	CHECK(xbuf_close(fd) == 0);
	return T_EXIT_PASS;
}
