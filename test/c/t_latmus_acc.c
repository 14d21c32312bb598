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
};

/* Steps fed into a fresh accumulator: only the last makes the record due. */
struct acc_case {
	const char *what;
	unsigned int per_interval;
	int n;
	struct step step[4];
	struct xbuf_latmus_acc want;	/* sum, min, max, overruns, samples, periods */
};

static const struct acc_case cases[] = {
	{ "four samples, no overrun: due on the fourth", 4, 4,
	  { { 100, 0 }, { 300, 0 }, { 200, 0 }, { 50, 0 } }, { 650, 50, 300, 0, 4, 4 } },
	{ "overruns count toward the interval: 2 samples + 2 missed", 4, 2,
	  { { 2500, 2 }, { 10, 0 } }, { 2510, 10, 2500, 2, 2, 4 } },
	{ "missed periods past the interval's end stay in the record", 4, 2,
	  { { 7, 0 }, { 12345, 10 } }, { 12352, 7, 12345, 10, 2, 12 } },
	{ "per_interval 1: every sample is a record", 1, 1,
	  { { 42, 0 } }, { 42, 42, 42, 0, 1, 1 } },
	{ "more than 2 s late: s32 saturation, in the sum too", 2, 2,
	  { { 5000000000ll, 0 }, { 1, 0 } }, { 0x7fffffffull + 1, 1, 0x7fffffff, 0, 2, 2 } },
};

static void run(const struct acc_case *c)
{
	struct xbuf_latmus_acc a;

	fprintf(stderr, "%s\n", c->what);
	xbuf_latmus_acc_reset(&a);
	for (int i = 0; i < c->n; i++)
		CHECK_EQ(xbuf_latmus_acc_add(&a, c->step[i].lat, c->step[i].missed, c->per_interval) != 0,
			 i == c->n - 1);
	CHECK_EQ(a.sum, c->want.sum);
	CHECK_EQ(a.min, c->want.min);
	CHECK_EQ(a.max, c->want.max);
	CHECK_EQ(a.overruns, c->want.overruns);
	CHECK_EQ(a.samples, c->want.samples);
	CHECK_EQ(a.periods, c->want.periods);
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

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run(&cases[i]);
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
