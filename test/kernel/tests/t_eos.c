/* SPDX-License-Identifier: MIT */
/*
 * Issue 9: evl_shutdown_xbuf() ends the stream. The application reads
 * what is left, then EPIPE, with every call the module serves (blocking
 * and non-blocking read(2), XBUF_IOC_WAIT with XBUF_KWAIT_EOS, poll(2):
 * EPOLLHUP); its
 * writes fail with EPIPE at once; the driver page says XBUF_OWNER_GONE.
 * Sleepers (a reader, a writer, a WAIT) wake with the tail or EPIPE.
 * The driver's next call starts a new stream where the old one stopped.
 */
#include "kt.h"

#define CAP 256

struct io {
	int fd;
	int write;		/* 0: read(2) of n, 1: write(2) of n */
	size_t n;
	long ret;
	int err;
	char buf[CAP];
};

static void *io_main(void *arg)
{
	struct io *io = arg;

	io->ret = io->write ? write(io->fd, io->buf, io->n) : read(io->fd, io->buf, io->n);
	io->err = errno;
	return NULL;
}

/* Start a blocking call on a thread and let it fall asleep. */
static void io_start(pthread_t *t, struct io *io, int fd, int wr, size_t n)
{
	io->fd = fd;
	io->write = wr;
	io->n = n;
	memset(io->buf, 'w', sizeof(io->buf));
	CHECK(!pthread_create(t, NULL, io_main, io));
	kt_msleep(100);
}

int main(void)
{
	struct xbuf_elem_rings r;
	struct io rd, wr;
	pthread_t t;
	struct kt_map m;
	char buf[2 * CAP];
	int fd, st;

	alarm(60);						/* a missed end would hang: fail instead */
	fd = kt_create_ok(CAP, CAP, 0, NULL);
	st = kt_bind(fd);
	kt_map(fd, &m);

	/* Drain, then EPIPE: a blocking read gets the short tail. */
	kt_fill((unsigned char *)buf, 100, 5);
	CHECK_EQ(kt_kwrite(st, buf, 100, 0), 100);
	CHECK_EQ(kt_shutdown(st), 0);
	CHECK_EQ(kt_shutdown(st), 0);				/* idempotent */
	CHECK_EQ(kt_load32(&m.drv->prod.owner), XBUF_OWNER_GONE);
	CHECK_EQ(kt_load32(&m.drv->cons.owner), XBUF_OWNER_GONE);
	CHECK_EQ(kt_poll1(fd, POLLIN, 0), POLLIN | POLLHUP);
	CHECK_EQ(kt_kwait(fd, XBUF_KWAIT_IN | XBUF_KWAIT_EOS, 200, -1), XBUF_KWAIT_IN);	/* the tail is ready */
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(read(fd, buf, 64), 64);
	CHECK_EQ(read(fd, buf + 64, 200), 36);			/* blocking, short: the tail */
	CHECK(kt_same((unsigned char *)buf, 100, 5));
	CHECK_ERRNO(read(fd, buf, 1), EPIPE);
	CHECK_ERRNO(read(fd, buf, CAP), EPIPE);
	kt_set_nonblock(fd, 1);
	CHECK_ERRNO(read(fd, buf, 1), EPIPE);			/* not EAGAIN */
	CHECK_ERRNO(write(fd, buf, 1), EPIPE);
	kt_set_nonblock(fd, 0);
	CHECK_ERRNO(write(fd, buf, 1), EPIPE);			/* at once, with room */
	CHECK_ERRNO(kt_kwait(fd, XBUF_KWAIT_IN | XBUF_KWAIT_EOS, 1, -1), EPIPE);
	CHECK_ERRNO(kt_kwait(fd, XBUF_KWAIT_OUT | XBUF_KWAIT_EOS, 1, -1), EPIPE);
	CHECK_ERRNO(kt_kwait(fd, XBUF_KWAIT_IN | XBUF_KWAIT_OUT | XBUF_KWAIT_EOS, 1, 0), EPIPE);
	CHECK_ERRNO(kt_kwait(fd, XBUF_KWAIT_EOS, 1, 0), EINVAL);	/* no event */
	/* Without EOS, as before the end existed: no EPIPE, a wait (old libraries). */
	CHECK_EQ(kt_kwait(fd, XBUF_KWAIT_IN, 1, 20 * 1000000LL), 0);
	CHECK_EQ(kt_kwait(fd, XBUF_KWAIT_OUT, 1, 0), XBUF_KWAIT_OUT);
	CHECK_EQ(kt_poll1(fd, POLLIN | POLLOUT, 0), POLLOUT | POLLHUP);
	/* Argument errors stay first. */
	CHECK_ERRNO(read(fd, buf, CAP + 1), EINVAL);
	CHECK_ERRNO(write(fd, buf, CAP + 1), EINVAL);

	/* A new stream, where the old one stopped: positions go on. */
	CHECK_EQ(kt_kwrite(st, "xyz", 3, 0), 3);
	CHECK_EQ(kt_load32(&m.drv->prod.owner), 0);
	CHECK_EQ(kt_load32(&m.drv->cons.owner), 0);
	CHECK_EQ(kt_load64(&m.drv->prod.pos), 103);
	CHECK_EQ(read(fd, buf, 3), 3);
	CHECK(!memcmp(buf, "xyz", 3));
	CHECK_EQ(kt_poll1(fd, POLLIN | POLLOUT, 0), POLLOUT);
	CHECK_EQ(write(fd, "ok", 2), 2);			/* the app writes again */
	CHECK_EQ(kt_kread(st, buf, 2, 0), 2);
	CHECK(!memcmp(buf, "ok", 2));

	/* A reader asleep on an empty ring: the end wakes it with EPIPE. */
	io_start(&t, &rd, fd, 0, 10);
	CHECK_EQ(kt_shutdown(st), 0);
	CHECK(!pthread_join(t, NULL));
	CHECK_EQ(rd.ret, -1);
	CHECK_EQ(rd.err, EPIPE);

	/* A reader asleep for 10 bytes, 3 there: it gets the 3. */
	CHECK_ERRNO(kt_kread(st, buf, 1, XBUF_KIO_NONBLOCK), EAGAIN);	/* a driver call resumes */
	io_start(&t, &rd, fd, 0, 10);
	CHECK_EQ(kt_kwrite(st, "123", 3, 0), 3);
	kt_msleep(50);
	CHECK_EQ(kt_shutdown(st), 0);
	CHECK(!pthread_join(t, NULL));
	CHECK_EQ(rd.ret, 3);
	CHECK(!memcmp(rd.buf, "123", 3));

	/* A writer asleep on a full ring, and a WAIT for room: EPIPE. */
	CHECK_EQ(kt_kwrite(st, "", 0, 0), 0);			/* count 0: no resume */
	CHECK_ERRNO(write(fd, buf, 1), EPIPE);
	CHECK_EQ(kt_kwrite(st, "r", 1, 0), 1);			/* resume */
	CHECK_EQ(read(fd, buf, 1), 1);
	memset(buf, 'f', sizeof(buf));
	CHECK_EQ(write(fd, buf, CAP), CAP);			/* outbound full */
	io_start(&t, &wr, fd, 1, 10);
	{
		long ret;
		pid_t pid = fork();

		CHECK(pid >= 0);
		if (!pid) {
			/* WAIT(OUT) for room, asleep in another process. */
			ret = kt_kwait(fd, XBUF_KWAIT_OUT | XBUF_KWAIT_EOS, 1, 5000 * 1000000LL);
			_exit(ret == -1 && errno == EPIPE ? 0 : 1);
		}
		kt_msleep(100);
		CHECK_EQ(kt_shutdown(st), 0);
		{
			int status;

			CHECK_EQ(waitpid(pid, &status, 0), pid);
			CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		}
	}
	CHECK(!pthread_join(t, NULL));
	CHECK_EQ(wr.ret, -1);
	CHECK_EQ(wr.err, EPIPE);
	kt_rings(fd, &r);
	CHECK_EQ(r.ofill, CAP);				/* what was written stays */
	CHECK_EQ(kt_kread(st, buf, CAP, 0), CAP);		/* the driver may still take it */

	close(st);
	munmap(m.base, m.size);
	close(fd);
	return T_EXIT_PASS;
}
