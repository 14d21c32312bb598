/* SPDX-License-Identifier: MIT */
/*
 * mmap(2): the layout of xbuf_abi.h, the double mapping across the wrap,
 * zero-copy consumer and producer through the mapping (with KICK), and
 * zero-copy reading of latmus records written from hard irq.
 */
#include "kt.h"

static void check_info(int fd, uint64_t icap, uint64_t ocap)
{
	long pg = sysconf(_SC_PAGESIZE);
	const struct xbuf_shm_info *info;
	struct xbuf_elem_info ei;
	uint64_t isz = 0, osz = 0;

	for (uint64_t s = pg; icap && !isz; s <<= 1)
		if (s >= icap)
			isz = s;
	for (uint64_t s = pg; ocap && !osz; s <<= 1)
		if (s >= ocap)
			osz = s;

	/* The info page alone, read-only: what a user maps first. */
	info = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(info != MAP_FAILED);
	CHECK_EQ(info->magic, XBUF_MAGIC);
	CHECK_EQ(info->abi_version, XBUF_ABI_VERSION);
	CHECK_EQ(info->page_size, pg);
	CHECK_EQ(info->header_pages, XBUF_HEADER_PAGES);
	CHECK_EQ(info->file_size, 3 * pg + isz + osz);
	CHECK_EQ(info->map_size, 3 * pg + 2 * isz + 2 * osz);
	CHECK_EQ(info->ring[XBUF_INBOUND].capacity, icap);
	CHECK_EQ(info->ring[XBUF_INBOUND].data_size, isz);
	/* A direction without a ring has no data area: offsets 0 (xbuf_abi_layout()). */
	CHECK_EQ(info->ring[XBUF_INBOUND].data_file_off, isz ? 3 * pg : 0);
	CHECK_EQ(info->ring[XBUF_INBOUND].data_map_off, isz ? 3 * pg : 0);
	CHECK_EQ(info->ring[XBUF_OUTBOUND].capacity, ocap);
	CHECK_EQ(info->ring[XBUF_OUTBOUND].data_size, osz);
	CHECK_EQ(info->ring[XBUF_OUTBOUND].data_file_off, osz ? 3 * pg + isz : 0);
	CHECK_EQ(info->ring[XBUF_OUTBOUND].data_map_off, osz ? 3 * pg + 2 * isz : 0);
	CHECK_EQ(ioctl(fd, XBUF_IOC_INFO, &ei), 0);
	CHECK_EQ(ei.map_size, info->map_size);
	munmap((void *)info, pg);
}

int main(void)
{
	static unsigned char buf[8192], in[8192];
	struct kt_map m;
	struct kt_job j;
	uint64_t pos, mask;
	int fd, st, lm;

	check_info(fd = kt_create_ok(4096, 4096, 0, NULL), 4096, 4096);
	close(fd);
	check_info(fd = kt_create_ok(5000, 0, 0, NULL), 5000, 0);
	close(fd);
	check_info(fd = kt_create_ok(0, 100, 0, NULL), 0, 100);
	close(fd);
	check_info(fd = kt_create_ok(1, 70000, 0, NULL), 1, 70000);
	close(fd);

	fd = kt_create_ok(4096, 4096, 0, NULL);
	st = kt_bind(fd);
	kt_map(fd, &m);
	/* Endpoints sit on their own cache lines, as the ABI says. */
	CHECK_EQ((uintptr_t)&m.drv->cons - (uintptr_t)&m.drv->prod, 128);
	/* Offsets past the mapping are refused. */
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, m.size) == MAP_FAILED);
	CHECK(mmap(NULL, m.size + 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED);

	/* Inbound across the wrap: driver writes, the app reads in place. */
	mask = m.info->ring[XBUF_INBOUND].data_size - 1;
	kt_fill(buf, 3000, 1);
	CHECK_EQ(kt_kwrite(st, buf, 3000, 0), 3000);
	CHECK_EQ(read(fd, in, 3000), 3000);
	kt_fill(buf, 2000, 2);
	CHECK_EQ(kt_kwrite(st, buf, 2000, 0), 2000);		/* 3000..5000 wraps */
	pos = kt_load64(&m.app->cons.pos);
	CHECK_EQ(pos, 3000);
	CHECK_EQ(kt_load64(&m.drv->prod.pos), 5000);
	CHECK(kt_same(m.data[XBUF_INBOUND] + (pos & mask), 2000, 2));
	/* The second copy aliases the first. */
	CHECK(!memcmp(m.data[XBUF_INBOUND], m.data[XBUF_INBOUND] + mask + 1, mask + 1));
	/* Consume through the mapping; read(2) agrees afterwards. */
	__atomic_store_n(&m.app->cons.pos, pos + 1500, __ATOMIC_RELEASE);
	CHECK_EQ(read(fd, in, 500), 500);
	CHECK(!memcmp(in, m.data[XBUF_INBOUND] + ((pos + 1500) & mask), 500));
	CHECK_EQ(kt_load64(&m.app->cons.pos), 5000);

	/* Outbound: the app produces in place across the wrap. */
	mask = m.info->ring[XBUF_OUTBOUND].data_size - 1;
	CHECK_EQ(write(fd, buf, 3500), 3500);
	CHECK_EQ(kt_kread(st, in, 3500, 0), 3500);
	pos = kt_load64(&m.app->prod.pos);
	CHECK_EQ(pos, 3500);
	kt_fill(m.data[XBUF_OUTBOUND] + (pos & mask), 3000, 5);
	__atomic_store_n(&m.app->prod.pos, pos + 3000, __ATOMIC_RELEASE);
	CHECK_EQ(kt_kread(st, in, 3000, XBUF_KIO_NONBLOCK), 3000);
	CHECK(kt_same(in, 3000, 5));
	CHECK_EQ(kt_load64(&m.drv->cons.pos), 6500);
	/* write(2) continues from the mapped position. */
	CHECK_EQ(write(fd, buf, 10), 10);
	CHECK_EQ(kt_load64(&m.app->prod.pos), 6510);
	CHECK_EQ(kt_kread(st, in, 10, 0), 10);

	/* KICK: a kernel reader sleeps; the app produces via the mapping. */
	kt_job_start(&j, st, XBUF_SELFTEST_IOC_KREAD, 100);
	CHECK(kt_wait_nonzero(&m.drv->cons.waiters, 5000));
	pos = kt_load64(&m.app->prod.pos);
	kt_fill(m.data[XBUF_OUTBOUND] + (pos & mask), 100, 6);
	__atomic_store_n(&m.app->prod.pos, pos + 100, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* K1 */
	if (kt_load32(&m.drv->cons.waiters))
		CHECK_EQ(ioctl(fd, XBUF_IOC_KICK), 0);
	CHECK_EQ(kt_job_join(&j), 100);
	CHECK(kt_same(j.buf, 100, 6));

	/* KICK: a kernel writer waits for room; the app consumes via the mapping. */
	mask = m.info->ring[XBUF_INBOUND].data_size - 1;
	CHECK_EQ(kt_kwrite(st, buf, 4000, 0), 4000);
	kt_fill(j.buf, 200, 77);
	kt_job_start(&j, st, XBUF_SELFTEST_IOC_KWRITE, 200);
	CHECK(kt_wait_nonzero(&m.drv->prod.waiters, 5000));
	pos = kt_load64(&m.app->cons.pos);
	__atomic_store_n(&m.app->cons.pos, pos + 4000, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* K1 */
	if (kt_load32(&m.drv->prod.waiters))
		CHECK_EQ(ioctl(fd, XBUF_IOC_KICK), 0);
	CHECK_EQ(kt_job_join(&j), 200);
	CHECK(kt_same(m.data[XBUF_INBOUND] + ((pos + 4000) & mask), 200, 77));
	CHECK_EQ(read(fd, in, 200), 200);
	munmap(m.base, m.size);
	close(st);
	close(fd);

	/*
	 * Zero-copy read of latmus records: one 24-byte record per shot, in a
	 * 4096-byte ring (not a multiple of 24: records straddle the wrap and
	 * must still read contiguously).
	 */
	fd = kt_create_ok(4096, 0, 0, NULL);
	kt_map(fd, &m);
	mask = m.info->ring[XBUF_INBOUND].data_size - 1;
	lm = open(XBUF_KDEV_LATMUS, O_RDWR);
	CHECK(lm >= 0);
	{
		struct xbuf_latmus_req req = { .xbuf_fd = fd, .period_us = 500,
					       .interval_us = 500 };
		struct xbuf_latmus_stats stats;
		unsigned got = 0, straddled = 0;

		CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_START, &req), 0);
		while (got < 400) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			uint64_t prod, cons;

			CHECK_EQ(poll(&p, 1, 10000), 1);
			prod = kt_load64(&m.drv->prod.pos);
			cons = m.app->cons.pos;
			CHECK(prod - cons <= 4096);
			CHECK_EQ((prod - cons) % 24, 0);
			while (prod - cons >= 24) {
				/* In place: contiguous even across the wrap. */
				struct kt_latmus rec = kt_latmus_rec(m.data[XBUF_INBOUND] + (cons & mask));

				if ((cons & mask) + 24 > mask + 1)
					straddled++;
				CHECK_EQ(rec.samples, 1);
				CHECK_EQ(rec.min, rec.max);
				CHECK_EQ((int64_t)rec.sum, rec.min);
				CHECK(rec.min >= 0);
				cons += 24;
				got++;
			}
			__atomic_store_n(&m.app->cons.pos, cons, __ATOMIC_RELEASE);
		}
		CHECK(straddled >= 1);
		CHECK_EQ(ioctl(lm, XBUF_LATMUS_IOC_STATS, &stats), 0);
		CHECK(stats.records >= 400);
		CHECK_EQ(stats.running, 1);
		printf("latmus: %llu records, %llu dropped, %u straddled the wrap\n",
		       (unsigned long long)stats.records,
		       (unsigned long long)stats.dropped, straddled);
	}
	close(lm);
	munmap(m.base, m.size);
	close(fd);
	return T_EXIT_PASS;
}
