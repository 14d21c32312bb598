/* SPDX-License-Identifier: MIT */
/*
 * The room rule of xbuf/abi.h (xbuf_abi_room()), applied by the kernel to
 * the positions an application writes through its mapping: a consumer
 * position ahead of the producer's, or more than a ring behind it, leaves
 * the producer no room. It must not treat the ring as empty and overwrite
 * what may be unread.
 *
 *   inbound:  the app's cons.pos (app page) against the in-kernel writer
 *             (evl_write_xbuf through /dev/xbuf/selftest KWRITE): EAGAIN,
 *             a blocking writer sleeps, and the unread bytes stay intact;
 *   outbound: the app's own prod.pos against the in-kernel reader's
 *             position: write(2) gets EAGAIN, poll(2) no POLLOUT,
 *             XBUF_IOC_WAIT(OUT) is not ready.
 */
#include "kt.h"

#define CAP	4096ULL
#define UNREAD	1000ULL

/*
 * prod - cons values that leave no room: the consumer ahead of the
 * producer (by one byte, a ring, far), or more than a ring behind it
 * (by one byte, and far enough to be negative as an s64).
 */
static const uint64_t bad_used[] = {
	-1ULL, -CAP, -(1ULL << 62), CAP + 1, (1ULL << 63) + 5,
};

#define NBAD (sizeof(bad_used) / sizeof(bad_used[0]))

static void inbound(void)
{
	static unsigned char buf[CAP], got[CAP];
	uint64_t prod, mask;
	struct xbuf_elem_rings rg;
	struct kt_map m;
	struct kt_job j;
	int fd, st;

	fd = kt_create_ok(CAP, CAP, 0, NULL);
	st = kt_bind(fd);
	kt_map(fd, &m);
	mask = m.info->ring[XBUF_INBOUND].data_size - 1;

	/* Move the positions off zero (and across the wrap), then leave UNREAD bytes. */
	kt_fill(buf, 3000, 3);
	CHECK_EQ(kt_kwrite(st, buf, 3000, 0), 3000);
	CHECK_EQ(read(fd, got, 3000), 3000);
	kt_fill(buf, UNREAD, 11);
	CHECK_EQ(kt_kwrite(st, buf, UNREAD, 0), UNREAD);
	prod = kt_load64(&m.drv->prod.pos);
	CHECK_EQ(prod, 3000 + UNREAD);
	CHECK_EQ(kt_load64(&m.app->cons.pos), 3000);

	for (unsigned i = 0; i < NBAD; i++) {
		__atomic_store_n(&m.app->cons.pos, prod - bad_used[i], __ATOMIC_RELEASE);
		/* Neither a small write nor one that would cover the unread bytes. */
		kt_fill(buf, CAP, 100 + i);
		CHECK_ERRNO(kt_kwrite(st, buf, 1, XBUF_KIO_NONBLOCK), EAGAIN);
		CHECK_ERRNO(kt_kwrite(st, buf, 16, XBUF_KIO_NONBLOCK), EAGAIN);
		CHECK_ERRNO(kt_kwrite(st, buf, CAP, XBUF_KIO_NONBLOCK), EAGAIN);
		CHECK_ERRNO(kt_kwrite(st, buf, CAP, XBUF_KIO_NONBLOCK | XBUF_KIO_IRQOFF), EAGAIN);
		CHECK_EQ(kt_load64(&m.drv->prod.pos), prod);
		CHECK(kt_same(m.data[XBUF_INBOUND] + (3000 & mask), UNREAD, 11));
		/* The reader's fill is clamped: what it reads is its own business. */
		kt_rings(fd, &rg);
		CHECK(rg.ifill <= CAP);
	}

	/* A blocking in-kernel writer sleeps instead of overwriting... */
	__atomic_store_n(&m.app->cons.pos, prod - bad_used[0], __ATOMIC_RELEASE);
	kt_fill(j.buf, 16, 200);
	kt_job_start(&j, st, XBUF_SELFTEST_IOC_KWRITE, 16);
	CHECK(kt_wait_nonzero(&m.drv->prod.waiters, 5000));
	kt_msleep(20);
	CHECK(!kt_job_done(&j));
	CHECK_EQ(kt_load64(&m.drv->prod.pos), prod);
	CHECK(kt_same(m.data[XBUF_INBOUND] + (3000 & mask), UNREAD, 11));
	/* ...a kick with the position still wrong does not let it run... */
	CHECK_EQ(ioctl(fd, XBUF_IOC_KICK), 0);
	kt_msleep(20);
	CHECK(!kt_job_done(&j));
	/* ...and once the app repairs its position, it writes after the unread bytes. */
	__atomic_store_n(&m.app->cons.pos, 3000, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* K1 */
	CHECK_EQ(ioctl(fd, XBUF_IOC_KICK), 0);
	CHECK_EQ(kt_job_join(&j), 16);
	CHECK_EQ(kt_load64(&m.drv->prod.pos), prod + 16);

	/* Everything reads back in order: nothing was overwritten. */
	CHECK_EQ(read(fd, got, UNREAD), UNREAD);
	CHECK(kt_same(got, UNREAD, 11));
	CHECK_EQ(read(fd, got, 16), 16);
	CHECK(kt_same(got, 16, 200));

	munmap(m.base, m.size);
	close(st);
	close(fd);
}

static void outbound(void)
{
	static unsigned char buf[CAP], got[CAP];
	uint64_t cons, prod;
	struct xbuf_wait_req w = { .events = XBUF_KWAIT_OUT, .count = 1, .timeout_ns = 0 };
	struct kt_map m;
	int fd, st;

	fd = kt_create_ok(CAP, CAP, XBUF_KCLONE_NONBLOCK, NULL);
	st = kt_bind(fd);
	kt_map(fd, &m);

	kt_fill(buf, 3000, 5);
	CHECK_EQ(write(fd, buf, 3000), 3000);
	CHECK_EQ(kt_kread(st, got, 3000, 0), 3000);
	cons = kt_load64(&m.drv->cons.pos);
	CHECK_EQ(cons, 3000);
	prod = kt_load64(&m.app->prod.pos);
	CHECK_EQ(prod, 3000);

	/* The app's producer position against the kernel's consumer position. */
	for (unsigned i = 0; i < NBAD; i++) {
		struct pollfd pf = { .fd = fd, .events = POLLOUT };
		uint64_t p = cons + bad_used[i];
		long n;

		__atomic_store_n(&m.app->prod.pos, p, __ATOMIC_RELEASE);
		CHECK_ERRNO(write(fd, buf, 1), EAGAIN);
		CHECK_ERRNO(write(fd, buf, CAP), EAGAIN);
		CHECK_EQ(kt_load64(&m.app->prod.pos), p);
		CHECK_EQ(poll(&pf, 1, 0), 0);
		CHECK_EQ(ioctl(fd, XBUF_IOC_WAIT, &w), 0);
		/* The in-kernel reader takes at most a ring, whatever the app says. */
		n = kt_kread(st, got, CAP, XBUF_KIO_NONBLOCK);
		CHECK(n == -1 ? errno == EAGAIN : n > 0 && (uint64_t)n <= CAP);
		cons = kt_load64(&m.drv->cons.pos);
		/* Back to a sane state for the next round. */
		__atomic_store_n(&m.app->prod.pos, cons, __ATOMIC_RELEASE);
	}

	/* Repaired: write(2) and the kernel reader agree again. */
	kt_fill(buf, 100, 9);
	CHECK_EQ(write(fd, buf, 100), 100);
	CHECK_EQ(kt_kread(st, got, 100, 0), 100);
	CHECK(kt_same(got, 100, 9));

	munmap(m.base, m.size);
	close(st);
	close(fd);
}

int main(void)
{
	inbound();
	outbound();
	return T_EXIT_PASS;
}
