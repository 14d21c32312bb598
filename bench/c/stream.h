/* SPDX-License-Identifier: MIT */
/*
 * stream.h - the benchmark streams, shared by bench_source (the producer)
 * and bench_sink (the C consumer).
 *
 * Both streams are a cycle of NCHUNKS precomputed 64 KiB-ish chunks of
 * pseudo-random data, so producing costs one memcpy per write and the
 * checksum of any stream length is known in advance:
 *
 *   bulk:    65536-byte chunks; checksum = sum of the u32 words mod 2^32
 *   records: 2730 latmus records (65520 bytes) per chunk; checksum =
 *            acc (int32: min_lat + max_lat + overruns + samples, mod 2^32)
 *            and lat (double: sum of sum_lat, added in stream order)
 *
 * The JavaScript consumers compute exactly the same figures (bench/lib.ts).
 */
#ifndef BENCH_STREAM_H
#define BENCH_STREAM_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NCHUNKS		17	/* prime: a lost or repeated chunk changes the checksum */
#define BULK_CHUNK	65536
#define REC_SIZE	24
#define REC_PER_CHUNK	2730
#define REC_CHUNK	(REC_SIZE * REC_PER_CHUNK)	/* 65520: whole records only */

struct latmus_record {
	uint64_t sum_lat;
	int32_t min_lat;
	int32_t max_lat;
	uint32_t overruns;
	uint32_t samples;
};
_Static_assert(sizeof(struct latmus_record) == REC_SIZE, "latmus record");

enum stream_kind { STREAM_BULK, STREAM_RECORDS };

struct checksum {
	uint32_t sum;		/* bulk */
	uint32_t acc;		/* records */
	double lat;		/* records */
};

struct stream {
	enum stream_kind kind;
	size_t chunk;		/* bytes per chunk */
	unsigned char *data;	/* NCHUNKS chunks back to back */
};

static inline uint64_t stream_rand(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

static inline int stream_init(struct stream *st, enum stream_kind kind)
{
	uint64_t seed = 0x9E3779B97F4A7C15ull;

	st->kind = kind;
	st->chunk = kind == STREAM_BULK ? BULK_CHUNK : REC_CHUNK;
	st->data = aligned_alloc(64, NCHUNKS * BULK_CHUNK);
	if (!st->data)
		return -1;
	if (kind == STREAM_BULK) {
		uint32_t *w = (uint32_t *)st->data;

		for (size_t i = 0; i < NCHUNKS * BULK_CHUNK / 4; i++)
			w[i] = (uint32_t)stream_rand(&seed);
	} else {
		for (size_t i = 0; i < NCHUNKS * REC_PER_CHUNK; i++) {
			struct latmus_record r;

			r.sum_lat = stream_rand(&seed) >> 24;	/* < 2^40: exact as a JS number */
			r.min_lat = (int32_t)stream_rand(&seed);
			r.max_lat = (int32_t)stream_rand(&seed);
			r.overruns = (uint32_t)stream_rand(&seed);
			r.samples = (uint32_t)stream_rand(&seed);
			memcpy(st->data + i * REC_SIZE, &r, REC_SIZE);
		}
	}
	return 0;
}

/* Chunk j of the stream. */
static inline const unsigned char *stream_chunk(const struct stream *st, uint64_t j)
{
	return st->data + (j % NCHUNKS) * st->chunk;
}

/* Fold n bytes (a multiple of 4, or of REC_SIZE) into a checksum. */
static inline void checksum_add(struct checksum *c, enum stream_kind kind, const void *p, size_t n)
{
	if (kind == STREAM_BULK) {
		const uint32_t *w = p;
		uint32_t s = c->sum;

		for (size_t i = 0; i < n / 4; i++)
			s += w[i];
		c->sum = s;
	} else {
		const unsigned char *b = p;
		uint32_t acc = c->acc;
		double lat = c->lat;

		for (size_t i = 0; i + REC_SIZE <= n; i += REC_SIZE) {
			struct latmus_record r;

			memcpy(&r, b + i, REC_SIZE);
			acc += (uint32_t)r.min_lat + (uint32_t)r.max_lat + r.overruns + r.samples;
			lat += (double)r.sum_lat;
		}
		c->acc = acc;
		c->lat = lat;
	}
}

/* The checksum of the first `bytes` bytes of the stream (whole chunks). */
static inline struct checksum stream_expect(const struct stream *st, uint64_t bytes)
{
	struct checksum c = { 0, 0, 0 };

	for (uint64_t j = 0; j < bytes / st->chunk; j++)
		checksum_add(&c, st->kind, stream_chunk(st, j), st->chunk);
	return c;
}

static inline void checksum_print(FILE *f, const char *prefix, const struct checksum *c)
{
	fprintf(f, "%s\"sum\":%u,\"acc\":%d,\"lat\":%.17g", prefix, c->sum, (int32_t)c->acc, c->lat);
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif /* BENCH_STREAM_H */
