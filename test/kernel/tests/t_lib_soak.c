// SPDX-License-Identifier: MIT
/*
 * t_lib_soak.c - the reliability soak on the kernel backend (issue 14;
 * test/reliability/c/soak.c is the user-space one): mixed traffic for
 * SECS seconds ($XBUF_KSOAK_SECS, default 60: the guest runs under TCG),
 * both directions, T threads per role per side, on one kernel element;
 * xbuf_selftest.ko plays the driver (in-kernel evl_write_xbuf() /
 * evl_read_xbuf(), blocking):
 *   inbound:  T driver threads write records of random sizes (24-1024
 *             bytes, one blocking KWRITE each); T application threads take
 *             whole records out of libxbuf's zero-copy borrows;
 *   outbound: T application threads write random runs of 32-byte records
 *             (xbuf_write, blocking); T driver threads read random runs
 *             (non-blocking KREAD, one record blocking when empty).
 * Records carry writer, sequence number, length and an FNV checksum: per
 * writer, the count and the sum of sequence numbers read must equal what
 * was written (0 lost, 0 duplicated), every checksum must hold (0
 * corrupt); the kernel's own counters (xbuf_stat) must say the bytes we
 * moved. RSS, fds and threads of this process are sampled every second
 * and the slope over the second half must be flat; the kernel log stays
 * clean (guest-init's scan).
 */
#include "kt.h"
#include "xbuf.h"
#include "reliability/c/soak_rec.h"
#include <stdbool.h>

#define T	3	/* threads per role per side (soak_rec.h: at most MAXT) */

struct worker {
	pthread_t th;
	int id;
	uint64_t written, bytes;
	struct tally t;
};

static int fd, st, stop_writers, stop_readers;
static uint64_t in_taken, in_target = UINT64_MAX;

static bool flag(int *f)
{
	return __atomic_load_n(f, __ATOMIC_ACQUIRE);
}

static void *drv_writer(void *arg)
{
	struct worker *w = arg;
	uint64_t rs = 0x1234567ull + (uint64_t)w->id * 977;
	uint8_t buf[MAXREC];

	while (!flag(&stop_writers)) {
		uint32_t len = sizeof(struct rec) + (uint32_t)(xs(&rs) % (MAXREC - sizeof(struct rec) + 1));

		make_rec(buf, (uint32_t)w->id, w->written, len, &rs);
		if (kt_kwrite(st, buf, len, 0) != (long)len)
			break;	/* EINTR at the end, nothing else */
		w->written++;
		w->bytes += len;
	}
	return NULL;
}

static void *drv_reader(void *arg)
{
	struct worker *w = arg;
	uint64_t rs = 0x7654321ull + (uint64_t)w->id;
	uint8_t buf[OREC * 64];

	for (;;) {
		long n = kt_kread(st, buf, OREC * (1 + xs(&rs) % 64), XBUF_KIO_NONBLOCK);

		if (n < 0 && errno == EAGAIN) {
			if (flag(&stop_readers))
				break;
			n = kt_kread(st, buf, OREC, 0);	/* blocking; SIGUSR1 ends it at the end */
			if (n < 0 && errno == EINTR)
				continue;
		}
		if (n <= 0 || n % OREC) {
			w->t.corrupt++;	/* a short or failed read: not EVL's */
			break;
		}
		w->bytes += (uint64_t)n;
		for (long off = 0; off < n; off += OREC)
			if (take_rec(buf + off, OREC, &w->t) != OREC)
				w->t.corrupt++;
	}
	return NULL;
}

static void *app_reader(void *arg)
{
	struct worker *w = arg;
	struct soak_app a = { fd, &stop_writers, &in_taken, &in_target };

	soak_app_read(&a, &w->t, &w->bytes);
	return NULL;
}

static void *app_writer(void *arg)
{
	struct worker *w = arg;
	struct soak_app a = { fd, &stop_writers, &in_taken, &in_target };

	soak_app_write(&a, (uint32_t)w->id, &w->written, &w->bytes);
	return NULL;
}

static void on_sig(int sig)
{
	(void)sig;
}

/* Join, interrupting (SIGUSR1, no SA_RESTART) whatever still sleeps. */
static void join_all(struct worker *w, int n)
{
	for (int i = 0; i < n; i++)
		for (;;) {
			struct timespec ts;

			pthread_kill(w[i].th, SIGUSR1);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 20000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (!pthread_timedjoin_np(w[i].th, NULL, &ts))
				break;
		}
}

/*
 * t_lib_soak --driver NAME 3: the driver side alone, for a Bun application
 * (test/reliability/bun_soak.ts --kernel, which guest-init.sh runs): on the
 * kernel element NAME, T writer and T reader threads until stdin closes
 * (the application has stopped writing and sees its outbound ring empty);
 * then on stdout each writer's record count (u64), an end record (writer
 * MAXT - 1, 24 bytes: the kernel backend has no evl_shutdown_xbuf() for
 * user space, so the stream ends in-band), and each reader's struct tally.
 */
static int driver_main(const char *name)
{
	struct worker dw[T], dr[T];
	uint8_t end[sizeof(struct rec)];
	uint64_t rs = 1;
	char c;

	fd = xbuf_open(name, XBUF_CLONE_KERNEL);
	if (fd < 0)
		return 2;
	st = kt_bind(fd);
	memset(dw, 0, sizeof(dw));
	memset(dr, 0, sizeof(dr));
	for (int i = 0; i < T; i++) {
		dw[i].id = dr[i].id = i;
		CHECK(!pthread_create(&dw[i].th, NULL, drv_writer, &dw[i]));
		CHECK(!pthread_create(&dr[i].th, NULL, drv_reader, &dr[i]));
	}
	while (read(0, &c, 1) > 0)
		;
	__atomic_store_n(&stop_writers, 1, __ATOMIC_RELEASE);
	join_all(dw, T);
	for (int i = 0; i < T; i++)
		CHECK(write(1, &dw[i].written, sizeof(dw[i].written)) == sizeof(dw[i].written));
	make_rec(end, MAXT - 1, 0, sizeof(end), &rs);
	CHECK_EQ(kt_kwrite(st, end, sizeof(end), 0), (long)sizeof(end));
	__atomic_store_n(&stop_readers, 1, __ATOMIC_RELEASE);
	join_all(dr, T);
	for (int i = 0; i < T; i++)
		CHECK(write(1, &dr[i].t, sizeof(dr[i].t)) == sizeof(dr[i].t));
	close(st);
	xbuf_close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static double rss[600], fds[600], thr[600];
	struct worker dw[T], dr[T], aw[T], ar[T];
	struct sigaction sa = { .sa_handler = on_sig };
	struct tally in_t = { 0 }, out_t = { 0 };
	struct xbuf_stat xs0;
	const char *env = getenv("XBUF_KSOAK_SECS");
	int secs = env ? atoi(env) : 60, ns = 0, fails = 0;
	uint64_t in_w = 0, out_w = 0, in_bytes = 0, out_bytes = 0, rd_in = 0, rd_out = 0;

	if (secs < 2 || secs > 600)
		secs = 60;
	CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
	if (argc == 4 && !strcmp(argv[1], "--driver"))
		return atoi(argv[3]) == T ? driver_main(argv[2]) : 2;
	fd = xbuf_create(64 * 1024, 16 * 1024, 0, NULL);
	CHECK(fd >= 0);
	if (xbuf_backend(fd) != XBUF_BACKEND_KERNEL)
		return T_EXIT_SKIP;
	st = kt_bind(fd);
	memset(dw, 0, sizeof(dw));
	memset(dr, 0, sizeof(dr));
	memset(aw, 0, sizeof(aw));
	memset(ar, 0, sizeof(ar));
	for (int i = 0; i < T; i++) {
		dw[i].id = dr[i].id = aw[i].id = ar[i].id = i;
		CHECK(!pthread_create(&dw[i].th, NULL, drv_writer, &dw[i]));
		CHECK(!pthread_create(&dr[i].th, NULL, drv_reader, &dr[i]));
		CHECK(!pthread_create(&aw[i].th, NULL, app_writer, &aw[i]));
		CHECK(!pthread_create(&ar[i].th, NULL, app_reader, &ar[i]));
	}
	for (int s = 0; s < secs; s++) {
		sleep(1);
		rss[ns] = (double)sample_rss_kb();
		fds[ns] = count_dir("/proc/self/fd");
		thr[ns++] = count_dir("/proc/self/task");
	}
	/* Writers stop (a blocked one completes: the readers go on, or SIGUSR1 ends it)... */
	__atomic_store_n(&stop_writers, 1, __ATOMIC_RELEASE);
	join_all(dw, T);
	join_all(aw, T);
	for (int i = 0; i < T; i++) {
		in_w += dw[i].written;
		in_bytes += dw[i].bytes;
		out_w += aw[i].written;
		out_bytes += aw[i].bytes;
	}
	/* ... the readers take every record written, then stop. */
	__atomic_store_n(&in_target, in_w, __ATOMIC_RELEASE);
	for (int i = 0; i < T; i++)
		pthread_join(ar[i].th, NULL);
	for (;;) {
		struct xbuf_rings rg;

		CHECK_EQ(xbuf_rings(fd, &rg), 0);
		if (!rg.ofill)
			break;
		kt_msleep(1);
	}
	__atomic_store_n(&stop_readers, 1, __ATOMIC_RELEASE);
	join_all(dr, T);

	for (int i = 0; i < T; i++) {
		for (int k = 0; k < T; k++) {
			in_t.n[k] += ar[i].t.n[k];
			in_t.seqsum[k] += ar[i].t.seqsum[k];
			out_t.n[k] += dr[i].t.n[k];
			out_t.seqsum[k] += dr[i].t.seqsum[k];
		}
		in_t.corrupt += ar[i].t.corrupt;
		out_t.corrupt += dr[i].t.corrupt;
		rd_in += ar[i].bytes;
		rd_out += dr[i].bytes;
	}
	for (int k = 0; k < T; k++) {
		uint64_t wi = dw[k].written, wo = aw[k].written;

		if (in_t.n[k] != wi || in_t.seqsum[k] != wi * (wi - 1) / 2) {
			fprintf(stderr, "inbound writer %d: wrote %llu, read %llu\n", k, (unsigned long long)wi,
				(unsigned long long)in_t.n[k]);
			fails++;
		}
		if (out_t.n[k] != wo || out_t.seqsum[k] != wo * (wo - 1) / 2) {
			fprintf(stderr, "outbound writer %d: wrote %llu, read %llu\n", k, (unsigned long long)wo,
				(unsigned long long)out_t.n[k]);
			fails++;
		}
	}
	if (in_t.corrupt || out_t.corrupt) {
		fprintf(stderr, "corrupt: inbound %llu, outbound %llu\n", (unsigned long long)in_t.corrupt,
			(unsigned long long)out_t.corrupt);
		fails++;
	}
	/* The kernel's counters say what we moved. */
	CHECK_EQ(xbuf_stat(fd, &xs0), 0);
	if (xs0.inbound.produced != in_bytes || xs0.inbound.consumed != rd_in ||
	    xs0.outbound.produced != out_bytes || xs0.outbound.consumed != rd_out) {
		fprintf(stderr, "counters: inbound %llu/%llu (we wrote %llu, read %llu), outbound %llu/%llu (%llu, %llu)\n",
			xs0.inbound.produced, xs0.inbound.consumed, (unsigned long long)in_bytes,
			(unsigned long long)rd_in, xs0.outbound.produced, xs0.outbound.consumed,
			(unsigned long long)out_bytes, (unsigned long long)rd_out);
		fails++;
	}
	printf("t_lib_soak: %d s, %d threads per role per side, kernel backend: inbound %llu records (%.1f MB),"
	       " outbound %llu records (%.1f MB); lost or duplicated %d writers, corrupt %llu\n", secs, T,
	       (unsigned long long)in_w, in_bytes / 1e6, (unsigned long long)out_w, out_bytes / 1e6, fails,
	       (unsigned long long)(in_t.corrupt + out_t.corrupt));
	{
		int from = ns / 2;
		double sr = slope(rss, from, ns), sf = slope(fds, from, ns), sth = slope(thr, from, ns);

		printf("t_lib_soak: RSS %.0f -> %.0f kB (slope %.2f kB/s over the second half), fds %.0f -> %.0f"
		       " (slope %.3f/s), threads %.0f -> %.0f (slope %.3f/s)\n", rss[0], rss[ns - 1], sr, fds[0],
		       fds[ns - 1], sf, thr[0], thr[ns - 1], sth);
		if (sf > 0.01 || sth > 0.01 || sr > 64) {
			fprintf(stderr, "t_lib_soak: a resource grows\n");
			fails++;
		}
	}
	close(st);
	xbuf_close(fd);
	return fails ? T_EXIT_FAIL : T_EXIT_PASS;
}
