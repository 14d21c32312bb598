/* SPDX-License-Identifier: MIT */
/*
 * check.h - the one check header of every C test program and test peer:
 * test/c (host), test/kernel/tests (guest) and tools/c. One program per
 * feature, exit 0 pass, 1 fail, 77 skip (liburing's convention).
 *
 *   CHECK(cond)            cond must hold
 *   CHECK_EQ(expr, want)   expr == want (as long long)
 *   CHECK_ERR(expr, err)   expr returns -err (the library's and the kernel API's convention)
 *   CHECK_ERRNO(expr, err) expr returns -1 with errno == err (syscalls, xbuf_read/xbuf_write)
 *
 * The stream pattern: the byte at stream offset i is the top byte of
 * i * XBUF_TEST_PATTERN_K mod 2^64, so loss, duplication and reordering all
 * show. test/ts/helpers.ts computes the same bytes.
 */
#ifndef XBUF_TEST_CHECK_H
#define XBUF_TEST_CHECK_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T_EXIT_PASS 0
#define T_EXIT_FAIL 1
#define T_EXIT_SKIP 77

#define CHECK(cond) do {							\
	if (!(cond)) {								\
		fprintf(stderr, "%s:%d: check failed: %s (errno %d: %s)\n",	\
			__FILE__, __LINE__, #cond, errno, strerror(errno));	\
		exit(T_EXIT_FAIL);						\
	}									\
} while (0)

#define CHECK_EQ(expr, want) do {						\
	long long __v = (long long)(expr), __w = (long long)(want);		\
	if (__v != __w) {							\
		fprintf(stderr, "%s:%d: %s = %lld, want %lld (errno %d: %s)\n",	\
			__FILE__, __LINE__, #expr, __v, __w, errno, strerror(errno)); \
		exit(T_EXIT_FAIL);						\
	}									\
} while (0)

#define CHECK_ERR(expr, err) do {						\
	long long __r = (long long)(expr);					\
	if (__r != -(long long)(err)) {						\
		fprintf(stderr, "%s:%d: %s returned %lld, expected -%s\n",	\
			__FILE__, __LINE__, #expr, __r, #err);			\
		exit(T_EXIT_FAIL);						\
	}									\
} while (0)

#define CHECK_ERRNO(expr, err) do {						\
	long long __r;								\
	errno = 0;								\
	__r = (long long)(expr);						\
	if (__r != -1 || errno != (err)) {					\
		fprintf(stderr, "%s:%d: %s = %lld errno %d (%s), want -1 errno %d (%s)\n", \
			__FILE__, __LINE__, #expr, __r, errno, strerror(errno),	\
			(err), strerror(err));					\
		exit(T_EXIT_FAIL);						\
	}									\
} while (0)

#define XBUF_TEST_PATTERN_K	0x9E3779B97F4A7C15ull

static inline uint8_t pattern_byte(uint64_t i)
{
	return (uint8_t)((i * XBUF_TEST_PATTERN_K) >> 56);
}

static inline void pattern_fill(uint8_t *buf, uint64_t off, size_t n)
{
	for (size_t k = 0; k < n; k++)
		buf[k] = pattern_byte(off + k);
}

/* Offset of the first mismatch against the pattern, or -1. */
static inline long long pattern_check(const uint8_t *buf, uint64_t off, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (buf[k] != pattern_byte(off + k))
			return (long long)k;
	return -1;
}

#endif /* XBUF_TEST_CHECK_H */
