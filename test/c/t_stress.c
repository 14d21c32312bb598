// SPDX-License-Identifier: MIT
/*
 * Many threads on every end at once, both directions, small rings so they
 * block and wake all the time. Every record carries its writer, sequence
 * number and a checksum: a record torn by another write, lost or
 * delivered twice fails the test. Readers mix copying and zero-copy reads.
 */
#include <fcntl.h>
#include <pthread.h>
#include "test.h"

#define REC		48
#define WRITERS		3
#define READERS		3
#define PER_WRITER	40000

struct rec {
	uint32_t writer;
	uint32_t seq;
	uint64_t sum;
	uint8_t fill[REC - 16];
};
_Static_assert(sizeof(struct rec) == REC, "record size");

static int fd;
static struct evl_xbuf *xb;
static uint8_t seen[2][WRITERS + 1][PER_WRITER];	/* [direction][writer][seq] */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t checksum(const struct rec *r)
{
	uint64_t h = 0xcbf29ce484222325ull ^ r->writer ^ ((uint64_t)r->seq << 32);

	for (int i = 0; i < REC - 16; i++)
		h = (h ^ r->fill[i]) * 0x100000001b3ull;
	return h;
}

static void make(struct rec *r, uint32_t writer, uint32_t seq)
{
	r->writer = writer;
	r->seq = seq;
	for (int i = 0; i < REC - 16; i++)
		r->fill[i] = (uint8_t)(writer * 31 + seq * 7 + (uint32_t)i);
	r->sum = checksum(r);
}

/* Returns false on the poison record that ends a reader. */
static bool account(int dir, const struct rec *r)
{
	if (r->writer == WRITERS)
		return false;
	CHECK(r->writer < WRITERS && r->seq < PER_WRITER);
	CHECK(r->sum == checksum(r));
	pthread_mutex_lock(&seen_lock);
	CHECK(!seen[dir][r->writer][r->seq]);
	seen[dir][r->writer][r->seq] = 1;
	pthread_mutex_unlock(&seen_lock);
	return true;
}

static void *in_writer(void *arg)	/* driver side, inbound */
{
	uint32_t id = (uint32_t)(uintptr_t)arg;
	struct rec r;

	for (uint32_t s = 0; s < PER_WRITER; s++) {
		make(&r, id, s);
		CHECK(evl_write_xbuf(xb, &r, REC, 0) == REC);
	}
	return NULL;
}

static void *in_reader(void *arg)	/* application side, inbound */
{
	uintptr_t zero_copy = (uintptr_t)arg & 1;
	struct rec r;

	for (;;) {
		if (zero_copy) {
			const void *p;

			CHECK(xbuf_read_begin(fd, REC, 0, &p) == REC);
			memcpy(&r, p, REC);
			CHECK(xbuf_read_end(fd, REC) == 0);
		} else {
			CHECK(xbuf_read(fd, &r, REC) == REC);
		}
		if (!account(0, &r))
			return NULL;
	}
}

static void *out_writer(void *arg)	/* application side, outbound */
{
	uint32_t id = (uint32_t)(uintptr_t)arg;
	struct rec r;

	for (uint32_t s = 0; s < PER_WRITER; s++) {
		make(&r, id, s);
		if (s & 1) {
			void *p;

			CHECK(xbuf_write_begin(fd, REC, 0, &p) == REC);
			memcpy(p, &r, REC);
			CHECK(xbuf_write_end(fd, REC) == 0);
		} else {
			CHECK(xbuf_write(fd, &r, REC) == REC);
		}
	}
	return NULL;
}

static void *out_reader(void *arg)	/* driver side, outbound */
{
	struct rec r;

	for (;;) {
		CHECK(evl_read_xbuf(xb, &r, REC, 0) == REC);
		if (!account(1, &r))
			return NULL;
	}
}

int main(void)
{
	pthread_t iw[WRITERS], ir[READERS], ow[WRITERS], orr[READERS];
	struct evl_file *f;
	struct xbuf_stat st;
	struct rec poison;
	uintptr_t i;

	fd = xbuf_create(1000, 700, 0, NULL);	/* 20 and 14 records: lots of waiting */
	CHECK(fd >= 0);
	xb = evl_get_xbuf(fd, &f);
	CHECK(xb);
	for (i = 0; i < READERS; i++) {
		CHECK(pthread_create(&ir[i], NULL, in_reader, (void *)i) == 0);
		CHECK(pthread_create(&orr[i], NULL, out_reader, NULL) == 0);
	}
	for (i = 0; i < WRITERS; i++) {
		CHECK(pthread_create(&iw[i], NULL, in_writer, (void *)i) == 0);
		CHECK(pthread_create(&ow[i], NULL, out_writer, (void *)i) == 0);
	}
	for (i = 0; i < WRITERS; i++) {
		pthread_join(iw[i], NULL);
		pthread_join(ow[i], NULL);
	}
	make(&poison, WRITERS, 0);
	for (i = 0; i < READERS; i++) {
		CHECK(evl_write_xbuf(xb, &poison, REC, 0) == REC);
		CHECK(xbuf_write(fd, &poison, REC) == REC);
	}
	for (i = 0; i < READERS; i++) {
		pthread_join(ir[i], NULL);
		pthread_join(orr[i], NULL);
	}
	for (int d = 0; d < 2; d++)
		for (int w = 0; w < WRITERS; w++)
			for (int s = 0; s < PER_WRITER; s++)
				CHECK(seen[d][w][s]);
	CHECK(xbuf_stat(fd, &st) == 0);
	CHECK(st.inbound.produced == (uint64_t)REC * (WRITERS * PER_WRITER + READERS));
	CHECK(st.inbound.consumed == st.inbound.produced && st.inbound.fill == 0);
	CHECK(st.outbound.consumed == st.outbound.produced && st.outbound.fill == 0);
	CHECK(st.inbound.consumer_waiters == 0 && st.inbound.producer_waiters == 0);
	printf("inbound: %llu wakeups to readers, %llu to writers\n",
	       st.inbound.producer_wakeups, st.inbound.consumer_wakeups);
	evl_put_xbuf(f);
	CHECK(xbuf_close(fd) == 0);
	return T_EXIT_PASS;
}
