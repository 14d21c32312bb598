/* SPDX-License-Identifier: MIT */
/*
 * t_soak.c - issue 11: a hostile soak. 10^5 random stores into every
 * application-writable word (the app page) and into the outbound data
 * (both copies), while blocking calls of both sides are in flight on that
 * element: in-kernel evl_write_xbuf()/evl_read_xbuf() (selftest), read(2),
 * write(2), XBUF_IOC_WAIT. Whatever they return, nothing else may suffer:
 * the kernel log stays clean (0 WARN/BUG/Oops: guest-init scans), every
 * call ends once interrupted, and a bystander element carrying checked
 * traffic on both rings meanwhile loses or garbles no byte. The honest
 * side (the in-kernel driver) keeps EVL's shape: all-or-nothing writes,
 * reads of 1..count, its own positions exactly what its calls moved, and
 * a timed XBUF_IOC_WAIT ends by its timeout (issue 14).
 */
#include "kt.h"

#define STORES	100000
#define CAP	65536

static volatile int stop;
static int victim, bystander, vst, bst;

static void on_sig(int sig)
{
	(void)sig;
}

static unsigned rnd(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

/*
 * The victim's blocking calls, any size. The honest side's (the kernel
 * driver's) calls keep EVL's shape whatever the liar stored: a write is
 * all or nothing, a read returns 1..count bytes (or an error), and the
 * driver's own positions move by exactly what its calls returned
 * (checked at the end against the driver page). A timed wait ends by its
 * timeout: the liar cannot stretch it.
 */
static unsigned long v_kw_bytes, v_kr_bytes;
static int v_bad;

static void *v_kwrite(void *arg)
{
	static unsigned char buf[CAP];
	unsigned seed = 1;

	(void)arg;
	while (!stop) {
		size_t n = 1 + rnd(&seed) % CAP;
		long r = kt_kwrite(vst, buf, n, 0);

		if (r == (long)n)
			v_kw_bytes += n;
		else if (r != -1) {
			fprintf(stderr, "t_soak: a driver write of %zu returned %ld\n", n, r);
			v_bad = 1;
		}
	}
	return NULL;
}

static void *v_kread(void *arg)
{
	static unsigned char buf[CAP];
	unsigned seed = 2;

	(void)arg;
	while (!stop) {
		size_t n = 1 + rnd(&seed) % CAP;
		long r = kt_kread(vst, buf, n, 0);

		if (r > 0 && (size_t)r <= n)
			v_kr_bytes += (unsigned long)r;
		else if (r != -1) {
			fprintf(stderr, "t_soak: a driver read of %zu returned %ld\n", n, r);
			v_bad = 1;
		}
	}
	return NULL;
}

static void *v_read(void *arg)
{
	static unsigned char buf[CAP];
	unsigned seed = 3;

	(void)arg;
	while (!stop)
		(void)!read(victim, buf, 1 + rnd(&seed) % CAP);
	return NULL;
}

static void *v_write(void *arg)
{
	static unsigned char buf[CAP];
	unsigned seed = 4;

	(void)arg;
	while (!stop)
		(void)!write(victim, buf, 1 + rnd(&seed) % CAP);
	return NULL;
}

static void *v_wait(void *arg)
{
	unsigned seed = 5;

	(void)arg;
	while (!stop) {
		struct xbuf_wait_req w = {
			.events = rnd(&seed) % 2 ? XBUF_KWAIT_IN | XBUF_KWAIT_OUT : XBUF_KWAIT_OUT,
			.count = rnd(&seed) % (CAP + 1), .timeout_ns = 50000000,
		};
		struct timespec t0, t1;
		long ms;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		ioctl(victim, XBUF_IOC_WAIT, &w);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms > 2000) {	/* 50 ms asked; TCG is slow, not 40 times */
			fprintf(stderr, "t_soak: a 50 ms wait took %ld ms\n", ms);
			v_bad = 1;
		}
	}
	return NULL;
}

/* The bystander: a checked stream each way. */
static unsigned long b_in, b_out;
static int b_bad;

static void *b_driver(void *arg)
{
	unsigned char buf[512];
	unsigned long in = 0, out = 0;

	(void)arg;
	while (!stop) {
		long n;

		for (int i = 0; i < 512; i++)
			buf[i] = (unsigned char)(in + i);
		if (kt_kwrite(bst, buf, 512, XBUF_KIO_NONBLOCK) == 512)
			in += 512;
		n = kt_kread(bst, buf, 512, XBUF_KIO_NONBLOCK);
		for (long i = 0; i < n; i++)
			if (buf[i] != (unsigned char)(out + i * 3))
				b_bad = 1;
		if (n > 0)
			out += n;
	}
	b_in = in;
	b_out = out;
	return NULL;
}

static unsigned long b_read, b_written;

static void *b_app(void *arg)
{
	unsigned char buf[512];
	unsigned long rd = 0, wr = 0;

	(void)arg;
	while (!stop) {
		long n = read(bystander, buf, sizeof(buf));

		for (long i = 0; i < n; i++)
			if (buf[i] != (unsigned char)(rd + i))
				b_bad = 1;
		if (n > 0)
			rd += n;
		for (int i = 0; i < 256; i++)
			buf[i] = (unsigned char)((wr + i) * 3);
		if (write(bystander, buf, 256) == 256)
			wr += 256;
	}
	b_read = rd;
	b_written = wr;
	return NULL;
}

int main(void)
{
	void *(*fns[])(void *) = { v_kwrite, v_kread, v_read, v_write, v_wait, b_driver, b_app };
	enum { NT = sizeof(fns) / sizeof(fns[0]) };
	struct sigaction sa = { .sa_handler = on_sig };	/* no SA_RESTART: calls end */
	pthread_t th[NT];
	struct kt_map m;
	unsigned seed = 42;
	unsigned char buf[4096];
	size_t words, data;

	CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
	victim = kt_create_ok(CAP, CAP, 0, NULL);
	bystander = kt_create_ok(CAP, CAP, XBUF_KCLONE_NONBLOCK, NULL);
	vst = kt_bind(victim);
	bst = kt_bind(bystander);
	kt_map(victim, &m);
	words = m.info->page_size / sizeof(uint64_t);
	data = 2 * m.info->ring[XBUF_OUTBOUND].data_size;
	for (int i = 0; i < NT; i++)
		CHECK(!pthread_create(&th[i], NULL, fns[i], NULL));

	for (int i = 0; i < STORES; i++) {
		uint64_t v = ((uint64_t)rnd(&seed) << 40) ^ ((uint64_t)rnd(&seed) << 16) ^ rnd(&seed);

		switch (rnd(&seed) % 4) {
		case 0:		/* small numbers: positions near the real ones */
			v %= 3 * CAP;
			/* fallthrough */
		case 1:
			((volatile uint64_t *)m.app)[rnd(&seed) % words] = v;
			break;
		case 2:
			((volatile uint32_t *)m.app)[rnd(&seed) % (2 * words)] = (uint32_t)v;
			break;
		default:
			m.data[XBUF_OUTBOUND][rnd(&seed) % data] = (unsigned char)v;
		}
		if (i % 1000 == 999) {
			ioctl(victim, XBUF_IOC_KICK);
			kt_msleep(1);
		}
	}

	stop = 1;
	for (int i = 0; i < NT; i++) {
		struct timespec ts;

		/* Interrupt whatever still sleeps, until the thread is out. */
		for (;;) {
			pthread_kill(th[i], SIGUSR1);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 20000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (!pthread_timedjoin_np(th[i], NULL, &ts))
				break;
		}
	}
	printf("t_soak: %d stores; bystander in %lu/%lu out %lu/%lu bytes\n", STORES,
	       b_in, b_read, b_written, b_out);
	printf("t_soak: the driver's calls on the victim: %lu bytes written, %lu read; its page says %llu, %llu\n",
	       v_kw_bytes, v_kr_bytes, (unsigned long long)kt_load64(&m.drv->prod.pos),
	       (unsigned long long)kt_load64(&m.drv->cons.pos));
	CHECK(!v_bad);
	CHECK_EQ(kt_load64(&m.drv->prod.pos), v_kw_bytes);
	CHECK_EQ(kt_load64(&m.drv->cons.pos), v_kr_bytes);
	CHECK(!b_bad);
	CHECK(b_read > 0 && b_out > 0);
	/* Drain the bystander: every byte written arrives, in order. */
	while (b_read < b_in) {
		long n = read(bystander, buf, sizeof(buf));

		CHECK(n > 0);
		for (long i = 0; i < n; i++)
			CHECK_EQ(buf[i], (unsigned char)(b_read + i));
		b_read += n;
	}
	while (b_out < b_written) {
		long n = kt_kread(bst, buf, sizeof(buf), XBUF_KIO_NONBLOCK);

		CHECK(n > 0);
		for (long i = 0; i < n; i++)
			CHECK_EQ(buf[i], (unsigned char)((b_out + i) * 3));
		b_out += n;
	}
	CHECK_EQ(b_read, b_in);
	close(vst);
	munmap(m.base, m.size);
	close(victim);
	close(bst);
	close(bystander);
	return T_EXIT_PASS;
}
