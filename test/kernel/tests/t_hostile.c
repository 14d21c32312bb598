/* SPDX-License-Identifier: MIT */
/*
 * A hostile application: protections of the mapping (mmap, mprotect,
 * mremap, stores, /proc/self/mem), garbage in the app page words while
 * traffic goes on, and fds closed while the companion driver writes.
 */
#include "kt.h"
#include <sys/syscall.h>

static long pg;

static void store_at(void *p)
{
	*(volatile uint32_t *)p = 0x41414141;
}

static void check_ro(void *p, const char *what)
{
	int status = kt_in_child(store_at, p);

	if (!kt_died_of_fault(status)) {
		fprintf(stderr, "store to %s did not fault (status %#x)\n", what, status);
		exit(T_EXIT_FAIL);
	}
}

static void check_rw(void *p)
{
	int status = kt_in_child(store_at, p);

	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static uint64_t rnd64(void)
{
	return ((uint64_t)rand() << 42) ^ ((uint64_t)rand() << 21) ^ (uint64_t)rand();
}

static void garbage(struct kt_map *m)
{
	struct xbuf_shm_endpoint *ep[2] = { &m->app->prod, &m->app->cons };

	for (int i = 0; i < 2; i++) {
		switch (rand() % 5) {
		case 0: ep[i]->pos = rnd64(); break;
		case 1: ep[i]->pos += (rand() % 10000) - 5000; break;
		case 2: ep[i]->pos = ~0ULL - (rand() % 100); break;
		case 3: ep[i]->pos = 1ULL << 63; break;
		default: break;
		}
		if (rand() % 2)
			ep[i]->waiters = (uint32_t)rand();
		if (rand() % 2)
			ep[i]->seq = (uint32_t)rand();
		ep[i]->ops = rnd64();
	}
}

static void close_while_running(int order)
{
	struct xbuf_latmus_req req = { .period_us = 200, .interval_us = 200 };
	struct xbuf_latmus_stats s1, s2;
	int fd, lm;

	fd = kt_create_ok(256, 0, 0, NULL);
	lm = open(XBUF_KDEV_LATMUS, O_RDWR);
	CHECK(lm >= 0);
	req.xbuf_fd = fd;
	CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_START, &req), 0);
	if (order == 0) {
		/*
		 * The app's fd goes: the sampler's writes fail (-EIDRM, counted
		 * as dropped), its reference keeps the element's memory.
		 */
		close(fd);
		CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_STATS, &s1), 0);
		kt_msleep(50);
		CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_STATS, &s2), 0);
		CHECK(s2.records + s2.dropped > s1.records + s1.dropped);
		CHECK_EQ(s2.running, 1);
		close(lm);
	} else {
		struct kt_map m;
		char buf[24];

		kt_map(fd, &m);
		kt_msleep(20);
		close(lm);
		/* Stopped: nothing more arrives, the data stays readable, then EPIPE. */
		kt_set_nonblock(fd, 1);
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		kt_msleep(20);
		CHECK_ERRNO(read(fd, buf, sizeof(buf)), EPIPE);
		close(fd);
		/* The mapping outlives the fd. */
		CHECK_EQ(m.info->magic, XBUF_MAGIC);
		munmap(m.base, m.size);
	}
}

static void exit_while_running(void *arg)
{
	struct xbuf_latmus_req req = { .period_us = 100, .interval_us = 100 };
	int lm = open(XBUF_KDEV_LATMUS, O_RDWR);

	(void)arg;
	req.xbuf_fd = kt_create_ok(4096, 4096, 0, NULL);
	CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_START, &req), 0);
	kt_msleep(10);
	_exit(3);	/* the exit closes everything, in whatever order */
}

int main(void)
{
	static unsigned char buf[8192];
	struct xbuf_elem_rings r;
	unsigned char *p, *in_data, *out_data, *q;
	struct kt_map m;
	int fd, st, status;

	pg = sysconf(_SC_PAGESIZE);
	srand(1234);
	fd = kt_create_ok(4096, 4096, 0, NULL);
	st = kt_bind(fd);
	kt_map(fd, &m);
	p = m.base;
	in_data = m.data[XBUF_INBOUND];
	out_data = m.data[XBUF_OUTBOUND];

	/* Stores: only the app page and the outbound data take them. */
	check_ro(p, "info page");
	check_ro(p + pg, "driver page");
	check_ro(in_data, "inbound data");
	check_ro(in_data + 4096 + 100, "inbound data, second copy");
	check_rw(p + 2 * pg + 512);
	check_rw(out_data);
	check_rw(out_data + 4096 + 8);

	/* mprotect(PROT_WRITE) over any read-only page fails. */
	CHECK_ERRNO(mprotect(p, pg, PROT_READ | PROT_WRITE), EACCES);
	CHECK_ERRNO(mprotect(p + pg, pg, PROT_READ | PROT_WRITE), EACCES);
	CHECK_ERRNO(mprotect(in_data, pg, PROT_READ | PROT_WRITE), EACCES);
	CHECK_ERRNO(mprotect(p, m.size, PROT_READ | PROT_WRITE), EACCES);
	CHECK_EQ(mprotect(p + 2 * pg, pg, PROT_READ | PROT_WRITE), 0);
	CHECK_EQ(mprotect(out_data, 2 * 4096, PROT_READ | PROT_WRITE), 0);
	/* Down then up again: still no write to kernel-owned pages. */
	CHECK_EQ(mprotect(p, 2 * pg, PROT_READ), 0);
	CHECK_ERRNO(mprotect(p, 2 * pg, PROT_READ | PROT_WRITE), EACCES);
	check_ro(p + pg, "driver page after mprotect");
	CHECK_EQ(m.info->magic, XBUF_MAGIC);

	/* Mapping read-only parts alone. */
	CHECK(mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
	CHECK_EQ(errno, EPERM);
	CHECK(mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   in_data - p) == MAP_FAILED);
	CHECK_EQ(errno, EPERM);
	q = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(q != MAP_FAILED);
	CHECK_ERRNO(mprotect(q, pg, PROT_READ | PROT_WRITE), EACCES);	/* no VM_MAYWRITE */
	munmap(q, pg);
	/* A read-only mapping of the app page cannot be upgraded either. */
	q = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 2 * pg);
	CHECK(q != MAP_FAILED);
	CHECK_ERRNO(mprotect(q, pg, PROT_READ | PROT_WRITE), EACCES);
	munmap(q, pg);
	/* MAP_PRIVATE is refused. */
	CHECK(mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);
	/* An fd opened read-only maps read-only only. */
	{
		struct xbuf_elem_info ei;
		char path[64];
		int pfd = kt_create_ok(4096, 4096, 0, "/t_hostile");
		int rofd = open("/dev/xbuf/t_hostile", O_RDONLY);

		CHECK(rofd >= 0);
		CHECK_EQ(ioctl(rofd, XBUF_IOC_INFO, &ei), 0);
		CHECK(mmap(NULL, ei.map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			   rofd, 0) == MAP_FAILED);
		q = mmap(NULL, ei.map_size, PROT_READ, MAP_SHARED, rofd, 0);
		CHECK(q != MAP_FAILED);
		CHECK_ERRNO(mprotect(q + 2 * pg, pg, PROT_READ | PROT_WRITE), EACCES);
		munmap(q, ei.map_size);
		close(rofd);
		close(pfd);
		snprintf(path, sizeof(path), "/dev/xbuf/t_hostile");
		CHECK_ERRNO(open(path, O_RDWR), ENOENT);
	}

	/* mremap: cannot grow, cannot duplicate; a moved piece stays read-only. */
	CHECK(mremap(p, m.size, m.size + pg, MREMAP_MAYMOVE) == MAP_FAILED);
	CHECK(mremap(p, 0, pg, MREMAP_MAYMOVE) == MAP_FAILED);
	q = mmap(NULL, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(q != MAP_FAILED);
	{
		unsigned char *moved = mremap(p + pg, pg, pg,
					      MREMAP_MAYMOVE | MREMAP_FIXED, q);

		printf("t_hostile: mremap move of the driver page %s\n",
		       moved != MAP_FAILED ? "allowed, still read-only" : "refused");
		if (moved != MAP_FAILED) {
			CHECK_ERRNO(mprotect(moved, pg, PROT_READ | PROT_WRITE), EACCES);
			check_ro(moved, "moved driver page");
			/* Put it back where it was. */
			CHECK(mremap(moved, pg, pg, MREMAP_MAYMOVE | MREMAP_FIXED,
				     p + pg) == p + pg);
		} else {
			munmap(q, pg);
		}
	}
	check_ro(p + pg, "driver page after mremap");
	CHECK_EQ(m.info->magic, XBUF_MAGIC);

	/* /proc/self/mem cannot write through our pages either. */
	{
		int mem = open("/proc/self/mem", O_RDWR);
		uint32_t v = 0;

		if (mem >= 0) {
			CHECK(pwrite(mem, &v, sizeof(v), (off_t)(uintptr_t)p) != sizeof(v));
			CHECK(pwrite(mem, &v, sizeof(v), (off_t)(uintptr_t)in_data) != sizeof(v));
			close(mem);
		}
		CHECK_EQ(m.info->magic, XBUF_MAGIC);
	}
	/* madvise cannot drop our pages to get fresh (writable) ones. */
	madvise(p, m.size, MADV_DONTNEED);
	CHECK_EQ(m.info->magic, XBUF_MAGIC);
	check_ro(p, "info page after madvise");

	/* Garbage in the app words while both ends keep going (non-blocking). */
	for (int i = 0; i < 2000; i++) {
		long n;

		garbage(&m);
		kt_fill(buf, 4096, i);
		n = kt_kwrite(st, buf, 1 + rand() % 4096, XBUF_KIO_NONBLOCK);
		CHECK(n > 0 || errno == EAGAIN);
		n = kt_kread(st, buf, 1 + rand() % 8192, XBUF_KIO_NONBLOCK);
		CHECK(n == -1 ? errno == EAGAIN : n > 0 && n <= 4096);
		kt_set_nonblock(fd, 1);
		n = write(fd, buf, 1 + rand() % 4096);
		CHECK(n > 0 || errno == EAGAIN);
		n = read(fd, buf, 1 + rand() % 8192);
		CHECK(n == -1 ? errno == EAGAIN : n > 0 && n <= 4096);
		kt_set_nonblock(fd, 0);
		kt_rings(fd, &r);
		CHECK(r.ifill <= r.isize && r.ofill <= r.osize);
		CHECK_EQ(r.isize, 4096);
		{
			struct pollfd pf = { .fd = fd, .events = POLLIN | POLLOUT };

			CHECK(poll(&pf, 1, 0) >= 0);
		}
	}
	/* The driver page is intact: the kernel never took the garbage in. */
	CHECK(m.drv->prod.waiters == 0 && m.drv->cons.waiters == 0);

	/* Repair the app words: traffic is exact again. */
	m.app->cons.pos = kt_load64(&m.drv->prod.pos);
	m.app->prod.pos = kt_load64(&m.drv->cons.pos);
	m.app->cons.waiters = m.app->prod.waiters = 0;
	kt_rings(fd, &r);
	CHECK_EQ(r.ifill, 0);
	CHECK_EQ(r.ofill, 0);
	kt_fill(buf, 1000, 99);
	CHECK_EQ(kt_kwrite(st, buf, 1000, 0), 1000);
	CHECK_EQ(read(fd, buf + 2000, 1000), 1000);
	CHECK(kt_same(buf + 2000, 1000, 99));
	CHECK_EQ(write(fd, buf, 1000), 1000);
	CHECK_EQ(kt_kread(st, buf + 2000, 1000, 0), 1000);
	CHECK(kt_same(buf + 2000, 1000, 99));
	/* read(2) into a read-only page of our own mapping: EFAULT, nothing consumed. */
	CHECK_EQ(kt_kwrite(st, buf, 10, 0), 10);
	CHECK_ERRNO(read(fd, p, 10), EFAULT);
	CHECK_EQ(read(fd, buf, 10), 10);
	munmap(m.base, m.size);
	close(st);
	close(fd);

	/* Closing while the companion driver writes, in both orders, and exit. */
	close_while_running(0);
	close_while_running(1);
	for (int i = 0; i < 3; i++) {
		status = kt_in_child(exit_while_running, NULL);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	}
	kt_msleep(50);
	return T_EXIT_PASS;
}
