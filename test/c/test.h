/* SPDX-License-Identifier: MIT */
/*
 * test.h - shared by the C test programs: one program per feature, exit 0
 * pass, 1 fail, 77 skip (liburing's convention).
 */
#ifndef XBUF_TEST_H
#define XBUF_TEST_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "xbuf.h"

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

/* Expect a call returning -errno to fail with exactly `err`. */
#define CHECK_ERR(expr, err) do {						\
	long long __r = (long long)(expr);					\
	if (__r != -(long long)(err)) {						\
		fprintf(stderr, "%s:%d: %s returned %lld, expected -%s\n",	\
			__FILE__, __LINE__, #expr, __r, #err);			\
		exit(T_EXIT_FAIL);						\
	}									\
} while (0)

/* The byte at stream offset i of the test pattern: position-dependent, so loss, duplication and reordering show. */
static inline uint8_t pattern_byte(uint64_t i)
{
	return (uint8_t)((i * 0x9E3779B97F4A7C15ull) >> 56);
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

/* A name unique to this process, for public elements. */
static inline const char *unique_name(const char *what)
{
	static char name[64];

	snprintf(name, sizeof(name), "t-%s-%d", what, (int)getpid());
	return name;
}

#endif
