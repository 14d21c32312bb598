/* SPDX-License-Identifier: MIT */
/*
 * soak_rec.h - the soaks' records and samples, shared by the user-space
 * soak (test/reliability/c/soak.c) and the kernel backend's
 * (test/kernel/tests/t_lib_soak.c); bun_soak.ts reads and writes the same
 * records. A record: magic, writer (< SOAK_MAXT), length (24..SOAK_MAXREC),
 * an FNV-1a sum of the payload after the header, the writer's sequence
 * number; then the payload.
 */
#ifndef XBUF_SOAK_REC_H
#define XBUF_SOAK_REC_H

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "xbuf.h"

#define MAXT 8
#define MAXREC 1024
#define OREC 32

struct rec {
	uint32_t magic, writer, len, sum;	/* sum: of the payload bytes after the header */
	uint64_t seq;
};

struct tally {
	uint64_t n[MAXT], seqsum[MAXT], bytes, corrupt;
};

static inline uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static inline uint32_t payload_sum(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static inline void make_rec(uint8_t *buf, uint32_t writer, uint64_t seq, uint32_t len, uint64_t *rs)
{
	struct rec r = { 0x58425546, writer, len, 0, seq };

	for (uint32_t i = sizeof(r); i < len; i++)
		buf[i] = (uint8_t)xs(rs);
	r.sum = payload_sum(buf + sizeof(r), len - sizeof(r));
	memcpy(buf, &r, sizeof(r));
}

/* Check one record at p (at most avail bytes); its length, 0 if incomplete, -1 corrupt. */
static inline long take_rec(const uint8_t *p, size_t avail, struct tally *t)
{
	struct rec r;

	if (avail < sizeof(r))
		return 0;
	memcpy(&r, p, sizeof(r));
	if (r.magic != 0x58425546 || r.writer >= MAXT || r.len < sizeof(r) || r.len > MAXREC)
		return -1;
	if (avail < r.len)
		return 0;
	if (payload_sum(p + sizeof(r), r.len - sizeof(r)) != r.sum)
		return -1;
	t->n[r.writer]++;
	t->seqsum[r.writer] += r.seq;
	t->bytes += r.len;
	return r.len;
}

/* RSS of this process, kB. */
static inline long sample_rss_kb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, rss = 0;

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Entries of a directory (/proc/self/fd, /proc/self/task). */
static inline int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Least-squares slope of y over samples [from, to), per sample. */
static inline double slope(const double *y, int from, int to)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0;
	int n = to - from;

	if (n < 2)
		return 0;
	for (int i = from; i < to; i++) {
		sx += i;
		sy += y[i];
		sxx += (double)i * i;
		sxy += (double)i * y[i];
	}
	return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

/*
 * The application's threads, on fd (xbuf.h's calls, either backend).
 * The reader takes whole records out of zero-copy borrows until *taken
 * (shared by the readers) reaches *target; the writer sends random runs
 * of OREC-byte records until *stop. Both add the bytes they moved.
 */
struct soak_app {
	int fd;
	int *stop;
	uint64_t *taken, *target;
};

static inline void soak_app_read(const struct soak_app *a, struct tally *t, uint64_t *bytes)
{
	while (__atomic_load_n(a->taken, __ATOMIC_ACQUIRE) < __atomic_load_n(a->target, __ATOMIC_ACQUIRE)) {
		const void *data;
		ssize_t n = xbuf_read_begin(a->fd, 4 * MAXREC, XBUF_NONBLOCK, &data);
		size_t used = 0;

		if (n == -EAGAIN) {
			if (xbuf_poll(a->fd, XBUF_POLLIN, sizeof(struct rec), 100) < 0)
				break;
			continue;
		}
		if (n < 0) {
			t->corrupt++;	/* EPIPE before all was taken, or worse */
			break;
		}
		for (;;) {
			long r = take_rec((const uint8_t *)data + used, (size_t)n - used, t);

			if (r < 0) {
				t->corrupt++;
				used = (size_t)n;
				break;
			}
			if (!r)
				break;
			used += (size_t)r;
			__atomic_fetch_add(a->taken, 1, __ATOMIC_RELEASE);
		}
		xbuf_read_end(a->fd, used);
		*bytes += used;
		if (!used && xbuf_poll(a->fd, XBUF_POLLIN, (size_t)n + 1 > 4 * MAXREC ? 4 * MAXREC : (size_t)n + 1, 100) < 0)
			break;
	}
}

static inline void soak_app_write(const struct soak_app *a, uint32_t id, uint64_t *written, uint64_t *bytes)
{
	uint64_t rs = 0xabcdefull + (uint64_t)id * 31;
	uint8_t buf[OREC * 16];

	while (!__atomic_load_n(a->stop, __ATOMIC_ACQUIRE)) {
		int k = 1 + (int)(xs(&rs) % 16);

		for (int i = 0; i < k; i++)
			make_rec(buf + i * OREC, id, *written + (uint64_t)i, OREC, &rs);
		if (xbuf_write(a->fd, buf, (size_t)k * OREC) != k * OREC)
			break;
		*written += (uint64_t)k;
		*bytes += (uint64_t)k * OREC;
	}
}

#endif
