// SPDX-License-Identifier: MIT
/*
 * t_lib_latmus_rule.c - one record rule for both latmus samplers
 * (xbuf/kernel.h, struct xbuf_latmus_acc): a record is due once its
 * samples + overruns cover the interval (per = interval / period periods).
 * So every record has
 *
 *   1 <= samples <= per   and   samples + overruns >= per,
 *
 * and, once periods are missed, records that cover the interval with
 * fewer than `per` samples. Both samplers are driven through libxbuf's
 * xbuf_latmus_start(): the user-space thread on an XBUF_CLONE_USER
 * element, the kernel companion (xbuf_latmus.ko's hrtimer) on an
 * XBUF_CLONE_KERNEL one. The period is short enough that QEMU (TCG)
 * misses some.
 */
#include "kt.h"
#include "xbuf.h"
#include "xbuf/latmus.h"

#define PERIOD_US	20
#define INTERVAL_US	400
#define PER		(INTERVAL_US / PERIOD_US)
#define REC		((size_t)sizeof(struct xbuf_latmus_record))
#define RING		(4096 * REC)

static int sampler(int backend, const char *what)
{
	struct xbuf_latmus_info last;
	struct xbuf_latmus *lm;
	unsigned long long records = 0, samples = 0, overruns = 0, short_records = 0;
	const void *p;
	ssize_t n;
	int fd, ret;

	fd = xbuf_create(RING, 0, backend, NULL);
	CHECK(fd >= 0);
	ret = xbuf_latmus_start(fd, PERIOD_US, INTERVAL_US, -1, 0, &lm);
	if (ret == -ENODEV)
		return T_EXIT_SKIP;
	CHECK_EQ(ret, 0);
	kt_msleep(400);
	CHECK_EQ(xbuf_latmus_stop(lm, &last), 0);
	CHECK_EQ(last.error, 0);
	CHECK_EQ(last.interval_us, INTERVAL_US);
	CHECK_EQ(last.period_us, PERIOD_US);

	/* Drain: the sampler is stopped, every record it wrote is there, whole. */
	for (;;) {
		n = xbuf_read_begin(fd, RING, XBUF_NONBLOCK, &p);
		if (n <= 0)
			break;
		CHECK_EQ(n % REC, 0);
		for (ssize_t off = 0; off < n; off += REC) {
			struct kt_latmus r = kt_latmus_rec((const char *)p + off);

			if (r.samples < 1 || r.samples > PER || r.samples + r.overruns < PER ||
			    r.min > r.max || r.sum < (uint64_t)r.min * r.samples ||
			    r.sum > (uint64_t)r.max * r.samples) {
				fprintf(stderr, "%s sampler, record %llu: %u samples, %u overruns, "
					"min %d max %d sum %llu (per interval: %d periods)\n",
					what, records, r.samples, r.overruns, r.min, r.max,
					(unsigned long long)r.sum, PER);
				exit(T_EXIT_FAIL);
			}
			records++;
			samples += r.samples;
			overruns += r.overruns;
			short_records += r.samples < PER;
		}
		CHECK_EQ(xbuf_read_end(fd, n), 0);
	}
	CHECK(n == -EAGAIN || n == -EPIPE);
	printf("t_lib_latmus_rule: %s sampler: %llu records, %llu samples, %llu overruns, "
	       "%llu records with fewer than %d samples, %llu dropped\n",
	       what, records, samples, overruns, short_records, PER, last.dropped);
	CHECK_EQ(records, last.records);
	CHECK(records >= 2);
	/*
	 * The premise: periods were missed. Then some record covered its
	 * interval with fewer samples than periods (it could not, if every
	 * period missed happened to fall on the last sample of a record;
	 * sent after `per` samples, as the kernel companion once did, none
	 * ever does).
	 */
	CHECK(overruns > 0);
	CHECK(short_records > 0);
	CHECK_EQ(xbuf_close(fd), 0);
	return T_EXIT_PASS;
}

int main(void)
{
	int ret;

	ret = sampler(XBUF_CLONE_USER, "user");
	if (ret != T_EXIT_PASS)
		return ret;
	return sampler(XBUF_CLONE_KERNEL, "kernel");
}
