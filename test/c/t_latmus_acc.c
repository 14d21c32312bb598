// SPDX-License-Identifier: MIT
/*
 * t_latmus_acc - the one latmus accumulator of both samplers
 * (xbuf_latmus_acc_*() in xbuf/kernel.h): known latencies and missed
 * periods give exact records, due once samples + overruns cover the
 * interval; missed periods go to the record being filled, even past the
 * interval's end; latencies saturate at s32; the record is little-endian.
 */
#include "test.h"
#include "xbuf/kernel.h"

struct step {
	long long lat;
	unsigned long long missed;
	int due;
};

/* Feed steps into a fresh accumulator; the last must make the record due. */
static struct xbuf_latmus_acc run(const struct step *s, int n, unsigned int per_interval)
{
	struct xbuf_latmus_acc a;

	xbuf_latmus_acc_reset(&a);
	for (int i = 0; i < n; i++)
		CHECK_EQ(xbuf_latmus_acc_add(&a, s[i].lat, s[i].missed, per_interval) != 0, s[i].due);
	return a;
}

static uint64_t le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int main(void)
{
	struct xbuf_latmus_record rec;
	struct xbuf_latmus_acc a;
	const unsigned char *b = (const unsigned char *)&rec;

	/* Four samples, no overrun, per_interval 4: due on the fourth. */
	{
		const struct step s[] = { { 100, 0, 0 }, { 300, 0, 0 }, { 200, 0, 0 }, { 50, 0, 1 } };

		a = run(s, 4, 4);
		CHECK_EQ(a.sum, 650);
		CHECK_EQ(a.min, 50);
		CHECK_EQ(a.max, 300);
		CHECK_EQ(a.samples, 4);
		CHECK_EQ(a.overruns, 0);
		CHECK_EQ(a.periods, 4);
	}
	/* Overruns count toward the interval: 2 samples + 2 missed = 4 periods. */
	{
		const struct step s[] = { { 2500, 2, 0 }, { 10, 0, 1 } };

		a = run(s, 2, 4);
		CHECK_EQ(a.sum, 2510);
		CHECK_EQ(a.min, 10);
		CHECK_EQ(a.max, 2500);
		CHECK_EQ(a.samples, 2);
		CHECK_EQ(a.overruns, 2);
	}
	/* Missed periods past the interval's end stay in the record being filled. */
	{
		const struct step s[] = { { 7, 0, 0 }, { 12345, 10, 1 } };

		a = run(s, 2, 4);
		CHECK_EQ(a.samples, 2);
		CHECK_EQ(a.overruns, 10);
		CHECK_EQ(a.periods, 12);
	}
	/* per_interval 1: every sample is a record. */
	{
		const struct step s[] = { { 42, 0, 1 } };

		a = run(s, 1, 1);
		CHECK_EQ(a.samples, 1);
		CHECK_EQ(a.min, 42);
		CHECK_EQ(a.max, 42);
	}
	/* More than 2 s late: the s32 fields saturate, and so does the sum's share. */
	{
		const struct step s[] = { { 5000000000ll, 0, 0 }, { 1, 0, 1 } };

		a = run(s, 2, 2);
		CHECK_EQ(a.max, 0x7fffffff);
		CHECK_EQ(a.min, 1);
		CHECK_EQ(a.sum, 0x7fffffffull + 1);
	}
	/* The wire record: little-endian, 24 bytes, in field order. */
	a.sum = 0x0102030405060708ull;
	a.min = -2;
	a.max = 0x11223344;
	a.overruns = 5;
	a.samples = 0x01020304;
	xbuf_latmus_acc_record(&a, &rec);
	CHECK_EQ(sizeof(rec), 24);
	CHECK_EQ(le(b, 8), 0x0102030405060708ull);
	CHECK_EQ(le(b + 8, 4), 0xfffffffeull);
	CHECK_EQ(le(b + 12, 4), 0x11223344);
	CHECK_EQ(le(b + 16, 4), 5);
	CHECK_EQ(le(b + 20, 4), 0x01020304);
	/* Reset: an empty record, min above max, nothing counted. */
	xbuf_latmus_acc_reset(&a);
	CHECK_EQ(a.sum, 0);
	CHECK_EQ(a.samples + a.overruns + a.periods, 0);
	CHECK(a.min > a.max);
	return T_EXIT_PASS;
}
