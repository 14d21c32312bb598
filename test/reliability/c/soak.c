// SPDX-License-Identifier: MIT
/*
 * soak - mixed traffic for S seconds, both directions, T threads per
 * role per side, across two processes (the application here, a forked
 * driver), user backend:
 *   inbound: T driver threads write records of random sizes (one
 *            evl_write_xbuf each), T application threads take whole records
 *            with zero-copy borrows (xbuf_read_begin/xbuf_read_end);
 *   outbound: T application threads write random runs of 32-byte records
 *            (xbuf_write), T driver threads read random runs of them
 *            (non-blocking evl_read_xbuf, one record blocking when empty).
 * A record carries its writer, its sequence number, its length and a
 * checksum: at the end each consumer side's per-writer counts and sums of
 * sequence numbers must match what was written (0 lost, 0 duplicated) and
 * every checksum must hold (0 corrupt). RSS, fd count and thread count of
 * this process are sampled every second; the slope of a least-squares fit
 * over the second half is printed (flat: ~0).
 *
 *   soak SECONDS THREADS    prints "soak: N passed, M failed"
 *   soak --driver NAME THREADS
 *       the driver side alone, of the public element NAME another
 *       application created (test/reliability/bun_soak.ts): until its
 *       stdin closes; then on stdout, binary: each inbound writer's record
 *       count (u64), and once the application left (EIDRM), each outbound
 *       reader's struct tally.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "xbuf.h"
#include "check.h"
#include "soak_rec.h"

static int stop;	/* atomic: __atomic loads and stores */
static int nthreads, secs;
static char name[64];
static int app_fd;
static struct evl_xbuf *drv;
static bool shutdown_at_end;	/* --driver: evl_shutdown_xbuf() once the writers stopped */
static uint64_t in_taken, in_target = UINT64_MAX;	/* inbound records taken by our readers; what the driver wrote */

struct worker {
	pthread_t th;
	int id;
	uint64_t written;	/* records */
	struct tally t;
};

/* Driver: inbound writer. */
static void *drv_writer(void *arg)
{
	struct worker *w = arg;
	uint64_t rs = 0x1234567ull + (uint64_t)w->id * 977;
	uint8_t buf[MAXREC];

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		uint32_t len = sizeof(struct rec) + (uint32_t)(xs(&rs) % (MAXREC - sizeof(struct rec) + 1));

		make_rec(buf, (uint32_t)w->id, w->written, len, &rs);
		if (evl_write_xbuf(drv, buf, len, 0) != (ssize_t)len)
			break;
		w->written++;
	}
	return NULL;
}

/* Driver: outbound reader, runs of 32-byte records. */
static void *drv_reader(void *arg)
{
	struct worker *w = arg;
	uint64_t rs = 0x7654321ull + (uint64_t)w->id;
	uint8_t buf[OREC * 64];

	for (;;) {
		size_t want = OREC * (1 + xs(&rs) % 64);
		/*
		 * Random runs without waiting, else one record blocking: a
		 * blocking read of a run would wait for all of it (EVL), and
		 * the tail the application leaves must drain before it leaves.
		 */
		ssize_t n = evl_read_xbuf(drv, buf, want, O_NONBLOCK);

		if (n == -EAGAIN)
			n = evl_read_xbuf(drv, buf, OREC, 0);

		if (n <= 0)
			break;	/* EIDRM: the application left (after we drained: main waits for it) */
		for (ssize_t off = 0; off < n; off += OREC)
			if (take_rec(buf + off, OREC, &w->t) != OREC)
				w->t.corrupt++;
	}
	return NULL;
}

/* Application: inbound reader, whole records out of a borrow. */
static void *app_reader(void *arg)
{
	struct worker *w = arg;
	struct soak_app a = { app_fd, &stop, &in_taken, &in_target };
	uint64_t bytes = 0;

	soak_app_read(&a, &w->t, &bytes);
	return NULL;
}

/* Application: outbound writer. */
static void *app_writer(void *arg)
{
	struct worker *w = arg;
	struct soak_app a = { app_fd, &stop, &in_taken, &in_target };
	uint64_t bytes = 0;

	soak_app_write(&a, (uint32_t)w->id, &w->written, &bytes);
	return NULL;
}

/* A pipe read returns what is there: read all n bytes, or fewer at the end. */
static ssize_t read_all(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static void run_driver(int out)
{
	struct worker w[2 * MAXT];
	struct evl_file *f;
	int fd = xbuf_open(name, XBUF_CLONE_USER);

	if (fd < 0 || !(drv = evl_get_xbuf(fd, &f)))
		_exit(2);
	xbuf_close(fd);
	memset(w, 0, sizeof(w));
	for (int i = 0; i < nthreads; i++) {
		w[i].id = i;
		w[nthreads + i].id = i;
		pthread_create(&w[i].th, NULL, drv_writer, &w[i]);
		pthread_create(&w[nthreads + i].th, NULL, drv_reader, &w[nthreads + i]);
	}
	/* The parent says stop by closing our stdin pipe... */
	{
		char c;

		while (read(0, &c, 1) > 0)
			;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < nthreads; i++)
		pthread_join(w[i].th, NULL);	/* writers: a blocked one ends when the app reads on, or EPIPE */
	/* report what the writers wrote, then let go (the app's readers drain then EPIPE) */
	for (int i = 0; i < nthreads; i++)
		(void)!write(out, &w[i].written, sizeof(w[i].written));
	/*
	 * --driver: the stream ends (the application's for-await loop drains
	 * and ends); our readers' next calls claim the outbound end again.
	 */
	if (shutdown_at_end && evl_shutdown_xbuf(drv))
		_exit(3);
	for (int i = 0; i < nthreads; i++) {
		pthread_join(w[nthreads + i].th, NULL);
		(void)!write(out, &w[nthreads + i].t, sizeof(w[nthreads + i].t));
	}
	evl_put_xbuf(f);
	_exit(0);
}

int main(int argc, char **argv)
{
	int tochild[2], fromchild[2], fails = 0, nsamples = 0;
	struct worker w[2 * MAXT];
	double rss[4096], fds[4096], thr[4096];
	uint64_t drv_written[MAXT];
	struct tally drv_t[MAXT], in_t = { 0 }, out_t = { 0 };
	pid_t pid;

	if (argc == 4 && !strcmp(argv[1], "--driver")) {
		/* The driver side alone, for another application (bun_soak.ts): as run_driver() says. */
		snprintf(name, sizeof(name), "%s", argv[2]);
		nthreads = atoi(argv[3]);
		if (nthreads < 1 || nthreads > MAXT)
			return 2;
		signal(SIGPIPE, SIG_IGN);
		shutdown_at_end = true;
		run_driver(1);
	}
	secs = argc > 1 ? atoi(argv[1]) : 30;
	nthreads = argc > 2 ? atoi(argv[2]) : 3;
	if (nthreads < 1 || nthreads > MAXT || secs < 2 || secs > 4000)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	snprintf(name, sizeof(name), "/soak.%d", getpid());
	app_fd = xbuf_create(64 * 1024, 16 * 1024, XBUF_CLONE_USER, "%s", name);
	CHECK(app_fd >= 0);
	CHECK(pipe(tochild) == 0 && pipe(fromchild) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(tochild[0], 0);
		close(tochild[1]);
		close(fromchild[0]);
		run_driver(fromchild[1]);
	}
	close(tochild[0]);
	close(fromchild[1]);
	memset(w, 0, sizeof(w));
	for (int i = 0; i < nthreads; i++) {
		w[i].id = i;
		w[nthreads + i].id = i;
		pthread_create(&w[i].th, NULL, app_writer, &w[i]);
		pthread_create(&w[nthreads + i].th, NULL, app_reader, &w[nthreads + i]);
	}
	for (int s = 0; s < secs && nsamples < 4096; s++) {
		sleep(1);
		rss[nsamples] = (double)sample_rss_kb();
		fds[nsamples] = count_dir("/proc/self/fd");
		thr[nsamples] = count_dir("/proc/self/task");
		nsamples++;
	}
	/* Stop: our writers first; the driver stops its writers and reports. */
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	close(tochild[1]);
	for (int i = 0; i < nthreads; i++)
		pthread_join(w[i].th, NULL);
	if (read_all(fromchild[0], drv_written, sizeof(uint64_t) * (size_t)nthreads) != (ssize_t)(sizeof(uint64_t) * (size_t)nthreads)) {
		int st = 0;

		waitpid(pid, &st, 0);
		fprintf(stderr, "soak: the driver process ended early (status %#x)\n", st);
		return 1;
	}
	/* Our readers stop once they took every record the driver wrote (they poll with a timeout)... */
	{
		uint64_t total = 0;

		for (int i = 0; i < nthreads; i++)
			total += drv_written[i];
		__atomic_store_n(&in_target, total, __ATOMIC_RELEASE);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(w[nthreads + i].th, NULL);
		for (int k = 0; k < MAXT; k++) {
			in_t.n[k] += w[nthreads + i].t.n[k];
			in_t.seqsum[k] += w[nthreads + i].t.seqsum[k];
		}
		in_t.bytes += w[nthreads + i].t.bytes;
		in_t.corrupt += w[nthreads + i].t.corrupt;
	}
	/*
	 * ... then, once the driver's readers took all we wrote (EVL: the
	 * application leaving makes every driver call EIDRM at once, unread
	 * bytes and all), our handle goes: they get EIDRM, and it reports.
	 */
	for (;;) {
		struct xbuf_rings rg;

		CHECK_EQ(xbuf_rings(app_fd, &rg), 0);
		if (!rg.ofill)
			break;
		usleep(1000);
	}
	xbuf_close(app_fd);
	CHECK(read_all(fromchild[0], drv_t, sizeof(struct tally) * (size_t)nthreads) == (ssize_t)(sizeof(struct tally) * (size_t)nthreads));
	waitpid(pid, NULL, 0);
	for (int i = 0; i < nthreads; i++) {
		for (int k = 0; k < MAXT; k++) {
			out_t.n[k] += drv_t[i].n[k];
			out_t.seqsum[k] += drv_t[i].seqsum[k];
		}
		out_t.bytes += drv_t[i].bytes;
		out_t.corrupt += drv_t[i].corrupt;
	}
	{
		uint64_t lost_in = 0, lost_out = 0, rin = 0, rout = 0;
		bool dup = false;

		for (int k = 0; k < nthreads; k++) {
			uint64_t wi = drv_written[k], wo = w[k].written;

			rin += wi;
			rout += wo;
			if (in_t.n[k] != wi || in_t.seqsum[k] != wi * (wi - 1) / 2) {
				fprintf(stderr, "inbound writer %d: wrote %llu, read %llu (seq sum %llu, want %llu)\n", k,
					(unsigned long long)wi, (unsigned long long)in_t.n[k],
					(unsigned long long)in_t.seqsum[k], (unsigned long long)(wi * (wi - 1) / 2));
				lost_in += wi > in_t.n[k] ? wi - in_t.n[k] : 0;
				dup |= in_t.n[k] > wi;
				fails++;
			}
			if (out_t.n[k] != wo || out_t.seqsum[k] != wo * (wo - 1) / 2) {
				fprintf(stderr, "outbound writer %d: wrote %llu, read %llu\n", k,
					(unsigned long long)wo, (unsigned long long)out_t.n[k]);
				lost_out += wo > out_t.n[k] ? wo - out_t.n[k] : 0;
				dup |= out_t.n[k] > wo;
				fails++;
			}
		}
		if (in_t.corrupt || out_t.corrupt)
			fails++;
		printf("soak: %d s, %d threads per role per side: inbound %llu records (%.1f MB), outbound %llu records"
		       " (%.1f MB); lost %llu, duplicated %s, corrupt %llu\n", secs, nthreads,
		       (unsigned long long)rin, in_t.bytes / 1e6, (unsigned long long)rout, out_t.bytes / 1e6,
		       (unsigned long long)(lost_in + lost_out), dup ? "yes" : "0",
		       (unsigned long long)(in_t.corrupt + out_t.corrupt));
	}
	{
		int from = nsamples / 2;
		double srss = slope(rss, from, nsamples), sfd = slope(fds, from, nsamples), sth = slope(thr, from, nsamples);

		printf("soak: samples %d; RSS %.0f -> %.0f kB (slope %.2f kB/s over the second half), fds %.0f -> %.0f"
		       " (slope %.3f/s), threads %.0f -> %.0f (slope %.3f/s)\n", nsamples, rss[0], rss[nsamples - 1],
		       srss, fds[0], fds[nsamples - 1], sfd, thr[0], thr[nsamples - 1], sth);
		if (sfd > 0.01 || sth > 0.01 || srss > 64) {
			fprintf(stderr, "soak: a resource grows\n");
			fails++;
		}
	}
	printf("soak: %d passed, %d failed\n", fails ? 0 : 1, fails ? 1 : 0);
	return fails ? 1 : 0;
}
