/* SPDX-License-Identifier: MIT */
/*
 * Issue 9: the application leaving ends the driver's waits. When the
 * element's last file goes (its last fd closed and its last mapping
 * gone, or the process holding them killed), every in-kernel driver
 * call blocked on it returns -EIDRM at once, later ones (count > 0)
 * return -EIDRM, used ring or not, and evl_shutdown_xbuf() too; the
 * driver's reference keeps the memory until evl_put_xbuf() (UNBIND),
 * while the name is free for a new element at once.
 */
#include "kt.h"

/* A blocked call's answer came within this long of the app leaving. */
#define AT_ONCE_S	2.0

static void wait_done(struct kt_job *j, double t0)
{
	while (!kt_job_done(j)) {
		CHECK(kt_now() - t0 < AT_ONCE_S);
		kt_msleep(1);
	}
}

/* A blocked KREAD and a blocked KWRITE (full inbound ring) on st. */
static void start_blocked(int st, struct kt_job *rd, struct kt_job *wr, size_t cap)
{
	static unsigned char fill[4096];

	CHECK(cap <= sizeof(fill));
	CHECK_EQ(kt_kwrite(st, fill, cap, XBUF_KIO_NONBLOCK), (long)cap);
	kt_job_start(rd, st, XBUF_SELFTEST_IOC_KREAD, 8);
	kt_job_start(wr, st, XBUF_SELFTEST_IOC_KWRITE, 8);
	kt_msleep(100);
	CHECK(!kt_job_done(rd) && !kt_job_done(wr));
}

static void check_gone(int st, struct kt_job *rd, struct kt_job *wr, double t0)
{
	char buf[8];

	wait_done(rd, t0);
	wait_done(wr, t0);
	CHECK_EQ(kt_job_join(rd), -1);
	CHECK_EQ(rd->err, EIDRM);
	CHECK_EQ(kt_job_join(wr), -1);
	CHECK_EQ(wr->err, EIDRM);
	/* Later calls, blocking or not, either ring. */
	CHECK_ERRNO(kt_kread(st, buf, 8, 0), EIDRM);
	CHECK_ERRNO(kt_kread(st, buf, 8, XBUF_KIO_NONBLOCK), EIDRM);
	CHECK_ERRNO(kt_kwrite(st, buf, 8, 0), EIDRM);
	CHECK_ERRNO(kt_kwrite(st, buf, 8, XBUF_KIO_NONBLOCK | XBUF_KIO_IRQOFF), EIDRM);
	CHECK_ERRNO(kt_shutdown(st), EIDRM);
	CHECK_EQ(kt_kread(st, buf, 0, 0), 0);			/* count 0 first */
	CHECK_EQ(kt_kwrite(st, buf, 0, 0), 0);
}

static void child_holds(void *arg)
{
	int *pipes = arg;
	int fd = kt_create_ok(512, 512, XBUF_KCLONE_PUBLIC, "t_eidrm_die");
	struct kt_map m;

	kt_map(fd, &m);			/* an fd and a mapping: both go with the process */
	kt_say(pipes[1], 'c');
	for (;;)
		pause();
}

int main(void)
{
	struct kt_job rd, wr;
	struct kt_map m;
	double t0;
	int fd, st, st2, pipes[2], status;
	pid_t pid;
	char buf[8];

	/* 1. The last fd closes: the blocked calls end at once. */
	fd = kt_create_ok(512, 512, XBUF_KCLONE_PUBLIC, "t_eidrm");
	st = kt_bind(fd);
	start_blocked(st, &rd, &wr, 512);
	t0 = kt_now();
	close(fd);
	check_gone(st, &rd, &wr, t0);
	/* The name is free while the driver still holds the old element. */
	CHECK(access("/dev/xbuf/t_eidrm", F_OK) < 0);
	CHECK_ERRNO(open("/dev/xbuf/t_eidrm", O_RDWR), ENOENT);
	fd = kt_create_ok(512, 512, XBUF_KCLONE_PUBLIC, "t_eidrm");
	st2 = kt_bind(fd);
	CHECK_EQ(kt_kwrite(st2, "new", 3, 0), 3);		/* the new one is its own */
	CHECK_ERRNO(kt_kwrite(st, "old", 3, XBUF_KIO_NONBLOCK), EIDRM);
	CHECK_EQ(read(fd, buf, 3), 3);
	CHECK(!memcmp(buf, "new", 3));
	CHECK_EQ(ioctl(st, XBUF_SELFTEST_IOC_UNBIND), 0);	/* the last put frees it */
	close(st);
	close(st2);
	close(fd);

	/* 2. Unused rings, nobody blocked: later calls get EIDRM all the same. */
	fd = kt_create_ok(64, 64, 0, NULL);
	st = kt_bind(fd);
	close(fd);
	CHECK_ERRNO(kt_kread(st, buf, 1, XBUF_KIO_NONBLOCK), EIDRM);
	CHECK_ERRNO(kt_kwrite(st, buf, 1, 0), EIDRM);
	close(st);

	/* 3. A mapping is the application too: fd closed, mapping alive. */
	fd = kt_create_ok(512, 512, 0, NULL);
	st = kt_bind(fd);
	kt_map(fd, &m);
	close(fd);
	CHECK_ERRNO(kt_kread(st, buf, 1, XBUF_KIO_NONBLOCK), EAGAIN);	/* still there */
	CHECK_EQ(kt_kwrite(st, "map", 3, 0), 3);
	CHECK(!memcmp(m.data[XBUF_INBOUND], "map", 3));
	start_blocked(st, &rd, &wr, 512 - 3);
	t0 = kt_now();
	munmap(m.base, m.size);					/* the last of the app */
	check_gone(st, &rd, &wr, t0);
	close(st);

	/* 4. The process holding the application end is killed. */
	CHECK(!pipe(pipes));
	pid = fork();
	CHECK(pid >= 0);
	if (!pid)
		child_holds(pipes);
	CHECK_EQ(kt_hear(pipes[0]), 'c');
	fd = open("/dev/xbuf/t_eidrm_die", O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	st = kt_bind(fd);
	close(fd);						/* only the child's files are left */
	start_blocked(st, &rd, &wr, 512);
	t0 = kt_now();
	CHECK_EQ(kill(pid, SIGKILL), 0);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	check_gone(st, &rd, &wr, t0);
	CHECK_ERRNO(open("/dev/xbuf/t_eidrm_die", O_RDWR), ENOENT);
	close(st);
	return T_EXIT_PASS;
}
