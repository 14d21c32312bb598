/* SPDX-License-Identifier: MIT */
/*
 * test.h - what the host C tests share beyond test/check.h (CHECK*, the
 * stream pattern, exit codes).
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
#include "check.h"

/* A name unique to this process, for public elements. */
static inline const char *unique_name(const char *what)
{
	static char name[64];

	snprintf(name, sizeof(name), "t-%s-%d", what, (int)getpid());
	return name;
}

#endif
