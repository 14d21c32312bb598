// SPDX-License-Identifier: MIT
/*
 * t_hostile - the user backend never trusts the positions the other side
 * writes (xbuf/abi.h: xbuf_abi_room(), xbuf_abi_fill()). A hostile driver
 * stores a bad position straight into its page of the mapping, as any
 * process sharing the object can:
 *   - a consumer position ahead of the producer's, or more than a ring
 *     behind it, leaves the producer no room: writes get EAGAIN and
 *     nothing in the ring is overwritten. (A producer answers from the
 *     consumer position it loaded last while that shows enough room: a
 *     lower bound of an honest consumer's. So the ring is full first
 *     here, and every call must load the lie.)
 *   - a producer position behind the consumer's reads as empty, one more
 *     than a ring ahead as a full ring (never more than the capacity).
 */
#include <fcntl.h>
#include "test.h"
#include "xbuf/abi.h"

static struct xbuf_shm_side *side_page(char *base, long page, int which)
{
	return (struct xbuf_shm_side *)(base + which * page);
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	int fd = xbuf_create(4096, 4096, XBUF_CLONE_USER, "hostile");
	const struct xbuf_shm_info *info;
	struct xbuf_shm_side *drv, *app;
	unsigned char buf[4096], *odata, *snap;
	uint64_t cap, dsize, prod;
	const void *rp;
	void *wp;
	char *base;

	CHECK(fd >= 0);
	base = xbuf_map_base(fd);
	CHECK(base != NULL);
	info = (const struct xbuf_shm_info *)base;
	drv = side_page(base, page, XBUF_DRIVER_PAGE);
	app = side_page(base, page, XBUF_APP_PAGE);
	cap = info->ring[XBUF_OUTBOUND].capacity;
	dsize = info->ring[XBUF_OUTBOUND].data_size;
	odata = (unsigned char *)base + info->ring[XBUF_OUTBOUND].data_map_off;
	snap = malloc(dsize);
	CHECK(snap != NULL);

	/* The producer side: the application writes outbound, the driver page's cons lies. */
	pattern_fill(buf, 0, cap);
	CHECK_EQ(xbuf_write(fd, buf, cap), (ssize_t)cap);	/* full: no room left to answer from */
	prod = __atomic_load_n(&app->prod.pos, __ATOMIC_ACQUIRE);
	CHECK_EQ(prod, cap);
	memcpy(snap, odata, dsize);
	{
		const uint64_t bad[] = {
			prod + 1,		/* ahead of the producer */
			prod + cap,
			prod + (1ull << 63),
			prod - cap - 1,		/* more than a ring behind */
			prod - 2 * cap,
			prod - (1ull << 62),
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			fprintf(stderr, "consumer at %#llx, producer at %#llx\n",
				(unsigned long long)bad[i], (unsigned long long)prod);
			__atomic_store_n(&drv->cons.pos, bad[i], __ATOMIC_SEQ_CST);
			CHECK_ERR(xbuf_write_begin(fd, 1, XBUF_NONBLOCK, &wp), EAGAIN);
			CHECK_ERR(xbuf_write_begin(fd, 1, XBUF_NOWAIT, &wp), EAGAIN);
			CHECK_EQ(xbuf_poll(fd, XBUF_POLLOUT, 1, 0), 0);
			CHECK_EQ(xbuf_poll(fd, XBUF_POLLOUT, 1, 20), 0);	/* sleeps, wakes by timeout */
			CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
			CHECK_ERRNO(xbuf_write(fd, buf, 1), EAGAIN);
			CHECK(fcntl(fd, F_SETFL, 0) == 0);
			CHECK_EQ(__atomic_load_n(&app->prod.pos, __ATOMIC_ACQUIRE), prod);
			CHECK(memcmp(odata, snap, dsize) == 0);	/* nothing overwritten */
		}
	}
	/* An honest position again: everything consumed, the whole ring is room. */
	__atomic_store_n(&drv->cons.pos, prod, __ATOMIC_SEQ_CST);
	CHECK_EQ(xbuf_write_begin(fd, cap, XBUF_NONBLOCK, &wp), cap);
	CHECK_EQ(xbuf_write_end(fd, 0), 0);
	/* A consumer that consumed only part of a full ring leaves exactly that room. */
	CHECK_EQ(xbuf_write(fd, buf, cap), (ssize_t)cap);
	__atomic_store_n(&drv->cons.pos, prod + 10, __ATOMIC_SEQ_CST);
	CHECK_EQ(xbuf_write_begin(fd, 10, XBUF_NONBLOCK, &wp), 10);
	CHECK_EQ(xbuf_write_end(fd, 0), 0);
	CHECK_ERR(xbuf_write_begin(fd, 11, XBUF_NONBLOCK, &wp), EAGAIN);

	/* The consumer side: the application reads inbound, the driver page's prod lies. */
	cap = info->ring[XBUF_INBOUND].capacity;
	CHECK_EQ(__atomic_load_n(&app->cons.pos, __ATOMIC_ACQUIRE), 0);
	__atomic_store_n(&drv->prod.pos, (uint64_t)-5, __ATOMIC_SEQ_CST);	/* behind us */
	CHECK_ERR(xbuf_read_begin(fd, 1, XBUF_NONBLOCK, &rp), EAGAIN);
	CHECK_EQ(xbuf_poll(fd, XBUF_POLLIN, 1, 0), 0);
	__atomic_store_n(&drv->prod.pos, 3 * cap + 7, __ATOMIC_SEQ_CST);	/* over a ring ahead */
	CHECK_EQ(xbuf_read_begin(fd, 1 << 20, XBUF_NONBLOCK, &rp), cap);	/* the capacity, no more */
	CHECK_EQ(xbuf_read_end(fd, 0), 0);
	{
		struct xbuf_rings rg;

		CHECK_EQ(xbuf_rings(fd, &rg), 0);
		CHECK_EQ(rg.ifill, cap);
	}

	free(snap);
	CHECK_EQ(xbuf_close(fd), 0);
	return T_EXIT_PASS;
}
