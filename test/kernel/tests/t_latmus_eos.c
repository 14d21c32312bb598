/* SPDX-License-Identifier: MIT */
/*
 * Issue 9: the latmus companion ends the stream when a session ends, so
 * a reader needs no special case for the kernel backend: a framed
 * session (XBUF_LATMUS_IOC_SETUP) that stops by itself sends END, then
 * the reader's next read is EPIPE, in both contexts (hrtimer handler,
 * kernel thread); a bare session (START) ends with STOP: the reader
 * drains, then EPIPE. A new session on the element starts a new stream
 * with its first record (a driver call resumes it, not the SETUP).
 */
#include "kt.h"

/* Read frames with blocking reads until END; how many INTERVAL frames came. */
static unsigned frames_until_end(int fd)
{
	static unsigned char payload[XBUF_LATMUS_FRAME_MAX];
	struct xbuf_latmus_frame f;
	unsigned intervals = 0;

	for (;;) {
		uint32_t size;

		CHECK_EQ(read(fd, &f, sizeof(f)), sizeof(f));
		size = le32toh(f.size);
		CHECK(size >= sizeof(f) && size - sizeof(f) <= sizeof(payload));
		if (size > sizeof(f))
			CHECK_EQ(read(fd, payload, size - sizeof(f)), (long)(size - sizeof(f)));
		if (le16toh(f.type) == XBUF_LATMUS_F_INTERVAL)
			intervals++;
		if (le16toh(f.type) == XBUF_LATMUS_F_END)
			return intervals;
	}
}

static int framed(int lm, unsigned context)
{
	int fd = kt_create_ok(64 * 1024, 0, 0, NULL);
	struct xbuf_latmus_setup req = {
		.xbuf_fd = fd, .period_us = 200, .interval_us = 2000,
		.context = context, .cpu = -1, .priority = 1, .periods = 50,
	};
	char c;

	CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_SETUP, &req), 0);
	CHECK(frames_until_end(fd) >= 1);
	CHECK_ERRNO(read(fd, &c, 1), EPIPE);			/* blocking: the end, no hang */
	CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_STOP), 0);
	CHECK_ERRNO(read(fd, &c, 1), EPIPE);
	return fd;
}

int main(void)
{
	struct xbuf_latmus_req req = { .period_us = 500, .interval_us = 1000 };
	struct xbuf_latmus_record rec;
	int fd, lm;

	alarm(60);						/* a missed end would hang: fail instead */
	lm = open(XBUF_KDEV_LATMUS, O_RDWR | O_CLOEXEC);
	CHECK(lm >= 0);
	close(framed(lm, XBUF_LATMUS_CTX_IRQ));
	fd = framed(lm, XBUF_LATMUS_CTX_KTHREAD);

	/* The same element, a bare session: its first record resumes the stream. */
	req.xbuf_fd = fd;
	CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_START, &req), 0);
	kt_msleep(50);
	CHECK_EQ(read(fd, &rec, sizeof(rec)), sizeof(rec));
	CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_STOP), 0);
	kt_set_nonblock(fd, 1);
	while (read(fd, &rec, sizeof(rec)) == sizeof(rec))
		;
	CHECK_EQ(errno, EPIPE);
	kt_set_nonblock(fd, 0);
	CHECK_ERRNO(read(fd, &rec, sizeof(rec)), EPIPE);
	close(lm);
	close(fd);
	return T_EXIT_PASS;
}
