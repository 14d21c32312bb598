/* SPDX-License-Identifier: MIT */
/*
 * kt.h - helpers of the guest-side kernel tests (test/kernel/tests/t_*.c).
 * One program per feature, liburing style: exit 0 pass, 1 fail, 77 skip.
 * The checks (CHECK, CHECK_EQ, CHECK_ERR for -errno returns, CHECK_ERRNO
 * for -1 with errno) and exit codes are test/check.h's, shared with
 * test/c and tools/c.
 */
#ifndef KT_H
#define KT_H

#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "xbuf/abi.h"
#include "xbuf/kernel.h"
#include "check.h"

/*
 * A raw latmus record (packed, little-endian, at any offset) in host order.
 * Its min and max are signed.
 */
struct kt_latmus {
	uint64_t sum;
	int32_t min, max;
	uint32_t overruns, samples;
};

static inline struct kt_latmus kt_latmus_rec(const void *p)
{
	struct xbuf_latmus_record r;
	struct kt_latmus k;

	memcpy(&r, p, sizeof(r));
	k.sum = le64toh(r.sum_lat);
	k.min = (int32_t)le32toh(r.min_lat);
	k.max = (int32_t)le32toh(r.max_lat);
	k.overruns = le32toh(r.overruns);
	k.samples = le32toh(r.samples);
	return k;
}

static int kt_cfd = -1;

static inline int kt_clone_fd(void)
{
	if (kt_cfd < 0) {
		kt_cfd = open(XBUF_KDEV_CLONE, O_RDWR | O_CLOEXEC);
		CHECK(kt_cfd >= 0);
	}
	return kt_cfd;
}

/* ioctl(CLONE): the new fd, or -1 with errno. */
static inline int kt_create(uint64_t isz, uint64_t osz, uint32_t flags,
			    const char *name)
{
	struct xbuf_clone_req req;

	memset(&req, 0, sizeof(req));
	req.i_bufsz = isz;
	req.o_bufsz = osz;
	req.flags = flags;
	if (name)
		memcpy(req.name, name, strnlen(name, sizeof(req.name)));
	return ioctl(kt_clone_fd(), XBUF_IOC_CLONE, &req);
}

static inline int kt_create_ok(uint64_t isz, uint64_t osz, uint32_t flags,
			       const char *name)
{
	int fd = kt_create(isz, osz, flags, name);

	CHECK(fd >= 0);
	return fd;
}

/* A selftest session bound to element fd efd (the in-kernel driver end). */
static inline int kt_bind(int efd)
{
	int st = open(XBUF_KDEV_SELFTEST, O_RDWR | O_CLOEXEC);

	CHECK(st >= 0);
	CHECK_EQ(ioctl(st, XBUF_SELFTEST_IOC_BIND, &efd), 0);
	return st;
}

static inline long kt_kio(int st, unsigned long cmd, void *buf, size_t n,
			  unsigned flags)
{
	struct xbuf_kio kio = {
		.buf = (uintptr_t)buf, .count = n, .flags = flags,
	};

	return ioctl(st, cmd, &kio);
}

/* evl_shutdown_xbuf() of the session's element: 0, or -1 with errno. */
static inline int kt_shutdown(int st)
{
	return ioctl(st, XBUF_SELFTEST_IOC_SHUTDOWN);
}

/* evl_write_xbuf() into the inbound ring; evl_read_xbuf() from the outbound one. */
#define kt_kwrite(st, buf, n, fl) kt_kio(st, XBUF_SELFTEST_IOC_KWRITE, (void *)(buf), n, fl)
#define kt_kread(st, buf, n, fl)  kt_kio(st, XBUF_SELFTEST_IOC_KREAD, buf, n, fl)

/*
 * An in-kernel call (KREAD or KWRITE, blocking) on a thread of its own, so
 * that the test can watch it sleep. For KWRITE, fill buf first.
 */
struct kt_job {
	int st;
	unsigned long cmd;
	size_t n;
	long ret;
	int err;
	int done;			/* set (release) once the call returned */
	pthread_t thread;
	unsigned char buf[256];
};

static inline void *kt_job_main(void *arg)
{
	struct kt_job *j = arg;

	j->ret = kt_kio(j->st, j->cmd, j->buf, j->n, 0);
	j->err = errno;
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static inline void kt_job_start(struct kt_job *j, int st, unsigned long cmd, size_t n)
{
	CHECK(n <= sizeof(j->buf));
	j->st = st;
	j->cmd = cmd;
	j->n = n;
	j->done = 0;
	CHECK(!pthread_create(&j->thread, NULL, kt_job_main, j));
}

static inline int kt_job_done(struct kt_job *j)
{
	return __atomic_load_n(&j->done, __ATOMIC_ACQUIRE);
}

/* Wait for the call: what it returned. */
static inline long kt_job_join(struct kt_job *j)
{
	CHECK(!pthread_join(j->thread, NULL));
	return j->ret;
}

static inline void kt_rings(int fd, struct xbuf_elem_rings *r)
{
	CHECK_EQ(ioctl(fd, XBUF_IOC_RINGS, r), 0);
}

static inline void kt_set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	CHECK(fl >= 0);
	CHECK_EQ(fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK), 0);
}

static inline void kt_msleep(unsigned ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static inline void kt_fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 7 + (i >> 8));
}

static inline int kt_same(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seed + i * 7 + (i >> 8)))
			return 0;
	return 1;
}

/* poll(2) of one fd: its revents, 0 on timeout. */
static inline short kt_poll1(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n = poll(&p, 1, ms);

	CHECK(n >= 0);
	return n ? p.revents : 0;
}

/* XBUF_IOC_WAIT: the ready mask, 0 on timeout, or -1 with errno. */
static inline long kt_kwait(int fd, unsigned events, uint64_t count, long long ns)
{
	struct xbuf_wait_req w = { .events = events, .count = count, .timeout_ns = ns };

	return ioctl(fd, XBUF_IOC_WAIT, &w);
}

/* A full shared mapping of element fd, PROT_READ|PROT_WRITE. */
struct kt_map {
	unsigned char *base;
	size_t size;
	const struct xbuf_shm_info *info;
	const struct xbuf_shm_side *drv;
	struct xbuf_shm_side *app;
	unsigned char *data[2];
};

static inline void kt_map(int fd, struct kt_map *m)
{
	struct xbuf_elem_info ei;

	CHECK_EQ(ioctl(fd, XBUF_IOC_INFO, &ei), 0);
	m->size = ei.map_size;
	m->base = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m->base != MAP_FAILED);
	m->info = (const void *)m->base;
	m->drv = (const void *)(m->base + XBUF_DRIVER_PAGE * m->info->page_size);
	m->app = (void *)(m->base + XBUF_APP_PAGE * m->info->page_size);
	for (int r = 0; r < 2; r++)
		m->data[r] = m->base + m->info->ring[r].data_map_off;
}

/* Run fn in a forked child; return its wait status. */
static inline int kt_in_child(void (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (!pid) {
		fn(arg);
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	return status;
}

static inline int kt_died_of_fault(int status)
{
	return WIFSIGNALED(status) &&
	       (WTERMSIG(status) == SIGBUS || WTERMSIG(status) == SIGSEGV);
}

static inline __u32 kt_load32(const volatile __u32 *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline __u64 kt_load64(const volatile __u64 *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Wait up to ms for *p to become non-zero. */
static inline int kt_wait_nonzero(const volatile __u32 *p, unsigned ms)
{
	for (unsigned i = 0; i < ms; i++) {
		if (kt_load32(p))
			return 1;
		kt_msleep(1);
	}
	return kt_load32(p) != 0;
}

/*
 * Become an ordinary user: uid = gid = `uid`, supplementary groups the
 * one of /dev/xbuf/clone (the "xbuf" group) if in_group, none otherwise.
 * For a forked child of the (root) test program.
 */
#include <grp.h>
static inline void kt_become(uid_t uid, int in_group)
{
	struct stat st;
	gid_t g;

	CHECK_EQ(stat(XBUF_KDEV_CLONE, &st), 0);
	g = st.st_gid;
	CHECK_EQ(setgroups(in_group ? 1 : 0, &g), 0);
	CHECK_EQ(setresgid(uid, uid, uid), 0);
	CHECK_EQ(setresuid(uid, uid, uid), 0);
	/* The clone fd of root is not ours: open it as this user. */
	if (kt_cfd >= 0)
		close(kt_cfd);
	kt_cfd = -1;
}

static inline double kt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* KREAD/KWRITE returning the in-kernel call's duration (ns) in *ns. */
static inline long kt_kio_ns(int st, unsigned long cmd, void *buf, size_t n,
			     unsigned flags, uint32_t *ns)
{
	struct xbuf_kio kio = {
		.buf = (uintptr_t)buf, .count = n, .flags = flags,
	};
	long r = ioctl(st, cmd, &kio);

	*ns = kio.ns;
	return r;
}

/* One byte over a pipe between a test and its child: a step of a handshake. */
static inline void kt_say(int fd, char c)
{
	CHECK_EQ(write(fd, &c, 1), 1);
}

static inline char kt_hear(int fd)
{
	char c = 0;

	CHECK_EQ(read(fd, &c, 1), 1);
	return c;
}

#endif /* KT_H */
