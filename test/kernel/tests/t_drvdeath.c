/* SPDX-License-Identifier: MIT */
/*
 * Issue 9: a process driving an in-kernel driver (the selftest module's
 * BIND/KWRITE) dies: that ends the stream as evl_shutdown_xbuf() does.
 * The application reads what was written, then EPIPE, and a reader
 * asleep at the time wakes; the next driver starts a new stream.
 */
#include "kt.h"

static int efd;
static int pipes[2];

/* The driver: bind, write, say so, then sleep in a driver call until killed. */
static void driver(void *arg)
{
	int st = kt_bind(efd);
	char buf[8];

	(void)arg;
	close(efd);						/* the driver holds no app file */
	CHECK_EQ(kt_kwrite(st, "hello", 5, 0), 5);
	kt_say(pipes[1], 'w');
	kt_kread(st, buf, 8, 0);				/* blocks: nothing outbound */
	_exit(1);
}

struct reader {
	long ret;
	int err;
	char buf[16];
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	r->ret = read(efd, r->buf, sizeof(r->buf));		/* blocking, 16: more than will come */
	r->err = errno;
	return NULL;
}

int main(void)
{
	struct reader rd = { 0 };
	struct kt_map m;
	pthread_t t;
	pid_t pid;
	char buf[16];
	int status, st;

	alarm(60);						/* a missed end would hang: fail instead */
	efd = kt_create_ok(256, 256, 0, NULL);
	kt_map(efd, &m);
	CHECK(!pipe(pipes));
	pid = fork();
	CHECK(pid >= 0);
	if (!pid)
		driver(NULL);
	CHECK_EQ(kt_hear(pipes[0]), 'w');
	CHECK(!pthread_create(&t, NULL, reader_main, &rd));
	kt_msleep(100);
	/* Alive: a blocking read of 16 waits for more; no end yet. */
	CHECK_EQ(kt_load32(&m.drv->prod.owner), 0);
	CHECK_EQ(kill(pid, SIGKILL), 0);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK(!pthread_join(t, NULL));
	CHECK_EQ(rd.ret, 5);					/* the tail */
	CHECK(!memcmp(rd.buf, "hello", 5));
	CHECK_ERRNO(read(efd, buf, 1), EPIPE);
	CHECK_ERRNO(write(efd, buf, 1), EPIPE);
	CHECK_EQ(kt_load32(&m.drv->prod.owner), XBUF_OWNER_GONE);

	/* Another driver: a new stream. */
	st = kt_bind(efd);
	CHECK_EQ(kt_kwrite(st, "again", 5, 0), 5);
	CHECK_EQ(read(efd, buf, 5), 5);
	CHECK(!memcmp(buf, "again", 5));
	close(st);						/* its close ends it too */
	CHECK_ERRNO(read(efd, buf, 1), EPIPE);
	munmap(m.base, m.size);
	close(efd);
	return T_EXIT_PASS;
}
