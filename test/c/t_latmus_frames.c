// SPDX-License-Identifier: MIT
/*
 * t_latmus_frames - the framed session of the user-space sampler
 * (xbuf_latmus_run) in its deterministic mode: known latencies give exact
 * INTERVAL frames, exact 1 us histogram cells (outliers past the last
 * cell), every raw sample in order, and END with the run's totals; the
 * histogram and the raw samples survive a full ring (they wait in the
 * sampler), interval records are dropped and counted. The cell rule of
 * xbuf/kernel.h, both samplers'.
 */
#include "test.h"
#include "xbuf/latmus.h"

struct seen {
	uint64_t intervals, partial, samples_in_intervals, overruns;
	uint32_t hist[XBUF_LATMUS_HCELLS_MAX + 1];
	uint32_t hcells;
	uint32_t raw[4096];
	size_t nraw;
	struct xbuf_latmus_end end;
	int ended;
};

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Read frames until END (xbuf_read blocks for each whole frame). */
static void drain(int fd, struct seen *s)
{
	static unsigned char buf[XBUF_LATMUS_FRAME_MAX];

	while (!s->ended) {
		struct xbuf_latmus_frame h;
		uint32_t size, type, flags;

		CHECK_EQ(xbuf_read(fd, &h, sizeof(h)), (ssize_t)sizeof(h));
		type = h.type;
		flags = h.flags;
		size = h.size;
		CHECK(size >= sizeof(h) && size <= XBUF_LATMUS_FRAME_MAX && size % 4 == 0);
		if (size > sizeof(h))
			CHECK_EQ(xbuf_read(fd, buf, size - sizeof(h)), (ssize_t)(size - sizeof(h)));
		switch (type) {
		case XBUF_LATMUS_F_INTERVAL: {
			struct xbuf_latmus_record r;

			CHECK_EQ(size, 32);
			memcpy(&r, buf, sizeof(r));
			s->intervals++;
			s->partial += !!(flags & XBUF_LATMUS_FF_PARTIAL);
			s->samples_in_intervals += r.samples;
			s->overruns += r.overruns;
			break;
		}
		case XBUF_LATMUS_F_HIST: {
			uint32_t n = le32(buf + 4);

			s->hcells = le32(buf);
			CHECK_EQ(size, 16 + 8 * n);
			for (uint32_t i = 0; i < n; i++) {
				uint32_t cell = le32(buf + 8 + 8 * i);

				CHECK(cell <= s->hcells);
				s->hist[cell] += le32(buf + 12 + 8 * i);
			}
			break;
		}
		case XBUF_LATMUS_F_SAMPLES:
			for (uint32_t i = 0; i < (size - 8) / 4; i++) {
				if (s->nraw < sizeof(s->raw) / sizeof(s->raw[0]))
					s->raw[s->nraw] = le32(buf + 4 * i);
				s->nraw++;
			}
			break;
		case XBUF_LATMUS_F_END:
			CHECK_EQ(size, 8 + sizeof(s->end));
			memcpy(&s->end, buf, sizeof(s->end));
			s->ended = 1;
			break;
		default:
			CHECK(!"unknown frame");
		}
	}
}

static void wait_stopped(struct xbuf_latmus *lm)
{
	struct xbuf_latmus_info info;

	for (int i = 0; i < 5000; i++) {
		CHECK_EQ(xbuf_latmus_info(lm, &info), 0);
		if (!info.running)
			return;
		usleep(1000);
	}
	CHECK(!"sampler still running");
}

int main(void)
{
	/* Cells: 1 us wide; negative in cell 0; cells and beyond: outliers. */
	CHECK_EQ(xbuf_latmus_cell(-5, 200), 0);
	CHECK_EQ(xbuf_latmus_cell(999, 200), 0);
	CHECK_EQ(xbuf_latmus_cell(1000, 200), 1);
	CHECK_EQ(xbuf_latmus_cell(199999, 200), 199);
	CHECK_EQ(xbuf_latmus_cell(200000, 200), 200);
	CHECK_EQ(xbuf_latmus_cell(5000000000ll, 1000), 1000);

	/* Known latencies: 100 samples cycling through five values. */
	static const unsigned int fake[] = { 500, 1500, 2500, 7000, 1200 };
	struct xbuf_latmus_params p = {
		.period_us = 100, .interval_us = 1000, .cpu = -1, .priority = 0,
		.context = XBUF_LATMUS_CTX_USER, .hcells = 5, .flags = XBUF_LATMUS_SAMPLES,
		.periods = 105, .fake_ns = fake, .fake_count = 5,
	};
	static struct seen s;
	struct xbuf_latmus_info info;
	struct xbuf_latmus *lm;
	int fd = xbuf_create(1 << 16, 0, 0, NULL);

	CHECK(fd >= 0);
	CHECK_EQ(xbuf_latmus_run(fd, &p, &lm), 0);
	drain(fd, &s);
	wait_stopped(lm);
	CHECK_EQ(xbuf_latmus_stop(lm, &info), 0);
	CHECK_EQ(info.samples, 105);
	CHECK_EQ(s.intervals, 11);		/* 10 whole, then the last 5 samples */
	CHECK_EQ(s.partial, 1);
	CHECK_EQ(s.samples_in_intervals, 105);
	CHECK_EQ(s.overruns, 0);
	CHECK_EQ(s.hcells, 5);
	CHECK_EQ(s.hist[0], 21);		/* 500 */
	CHECK_EQ(s.hist[1], 42);		/* 1500, 1200 */
	CHECK_EQ(s.hist[2], 21);		/* 2500 */
	CHECK_EQ(s.hist[3] + s.hist[4], 0);
	CHECK_EQ(s.hist[5], 21);		/* 7000: an outlier of 5 cells */
	CHECK_EQ(s.nraw, 105);
	for (size_t i = 0; i < s.nraw; i++)
		CHECK_EQ(s.raw[i], fake[i % 5]);
	CHECK_EQ(s.end.samples, 105);
	CHECK_EQ(s.end.lost, 0);
	CHECK_EQ(s.end.dropped, 0);
	CHECK_EQ(s.end.records, 11);
	CHECK_EQ((int32_t)s.end.error, 0);
	CHECK_EQ(xbuf_close(fd), 0);

	/*
	 * Nobody reads for a while: a 12 KB ring fills, interval records are
	 * dropped and counted, but not one histogram count nor raw sample is
	 * lost: they wait in the sampler, and finish sends them once drained.
	 */
	memset(&s, 0, sizeof(s));
	p.periods = 0;
	p.interval_us = 100;			/* a record per sample: the ring fills fast */
	fd = xbuf_create(12288, 0, 0, NULL);
	CHECK(fd >= 0);
	CHECK_EQ(xbuf_latmus_run(fd, &p, &lm), 0);
	usleep(300000);
	CHECK_EQ(xbuf_latmus_finish(lm), 0);
	drain(fd, &s);
	wait_stopped(lm);
	CHECK_EQ(xbuf_latmus_stop(lm, &info), 0);
	fprintf(stderr, "full ring: %llu samples, %llu records, %llu dropped\n",
		(unsigned long long)s.end.samples, (unsigned long long)s.end.records,
		(unsigned long long)s.end.dropped);
	CHECK(s.end.dropped > 0);
	CHECK_EQ(s.end.records + s.end.dropped, s.end.samples);
	CHECK_EQ(s.intervals, s.end.records);
	CHECK_EQ(s.end.lost, 0);
	CHECK_EQ(s.nraw, s.end.samples);
	CHECK_EQ(s.hist[0] + s.hist[1] + s.hist[2] + s.hist[5], s.end.samples);
	for (size_t i = 0; i < s.nraw && i < 4096; i++)
		CHECK_EQ(s.raw[i], fake[i % 5]);
	CHECK_EQ(info.samples, s.end.samples);
	CHECK_EQ(xbuf_close(fd), 0);

	/* A ring too small for the largest frame; the module's context on a user element. */
	fd = xbuf_create(4096, 0, 0, NULL);
	CHECK_EQ(xbuf_latmus_run(fd, &p, &lm), -EINVAL);
	CHECK_EQ(xbuf_close(fd), 0);
	fd = xbuf_create(1 << 14, 0, 0, NULL);
	p.context = XBUF_LATMUS_CTX_IRQ;
	CHECK_EQ(xbuf_latmus_run(fd, &p, &lm), -EINVAL);
	p.context = XBUF_LATMUS_CTX_USER;
	p.hcells = 1001;
	CHECK_EQ(xbuf_latmus_run(fd, &p, &lm), -EINVAL);
	p.hcells = 200;
	p.flags = 0x80;
	CHECK_EQ(xbuf_latmus_run(fd, &p, &lm), -EINVAL);
	CHECK_EQ(xbuf_close(fd), 0);
	return T_EXIT_PASS;
}
