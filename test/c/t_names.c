// SPDX-License-Identifier: MIT
/*
 * t_names - the user backend takes element names by the module's rule,
 * xbuf_abi_check_name() (xbuf/abi.h): at most XBUF_NAME_MAX bytes; not
 * "." or ".."; no '/', no control character, no leading '@'; a public
 * element needs a name that is not one of the module's devices
 * (XBUF_RESERVED_NAMES: EEXIST). The table says what each name gets, and
 * the rule must say the same.
 */
#include "test.h"
#include "xbuf/abi.h"

struct name_case {
	const char *name;
	int public_err;		/* xbuf_create(..., XBUF_CLONE_PUBLIC, name) */
	int private_err;	/* xbuf_create(..., 0, name) */
};

static char ok[64], max[64], over[80];

static void check_create(const char *name, int public, int want)
{
	int flags = XBUF_CLONE_USER | (public ? XBUF_CLONE_PUBLIC : 0);
	int fd = xbuf_create(16, 16, flags, "%s", name);

	if (want) {
		if (fd != -want) {
			fprintf(stderr, "xbuf_create(%s, \"%s\") = %d, want -%d\n",
				public ? "public" : "private", name, fd, want);
			exit(T_EXIT_FAIL);
		}
		return;
	}
	if (fd < 0) {
		fprintf(stderr, "xbuf_create(%s, \"%s\") = %d, want an fd\n",
			public ? "public" : "private", name, fd);
		exit(T_EXIT_FAIL);
	}
	CHECK_EQ(xbuf_close(fd), 0);
}

int main(void)
{
	snprintf(ok, sizeof(ok), "%s", unique_name("names"));
	memset(max, 'n', XBUF_NAME_MAX);
	memcpy(max, ok, strlen(ok));	/* unique, exactly XBUF_NAME_MAX bytes */
	memset(over, 'n', XBUF_NAME_MAX + 1);
	memcpy(over, ok, strlen(ok));
	{
		const struct name_case cases[] = {
			{ ok, 0, 0 },
			{ max, 0, 0 },
			{ over, ENAMETOOLONG, ENAMETOOLONG },
			{ "", EINVAL, 0 },
			{ ".", EINVAL, EINVAL },
			{ "..", EINVAL, EINVAL },
			{ "a/b", EINVAL, EINVAL },
			{ "@3", EINVAL, EINVAL },		/* sysfs names private elements @<id> */
			{ "a\001b", EINVAL, EINVAL },
			{ "a\nb", EINVAL, EINVAL },
			{ "a\177", EINVAL, EINVAL },
			{ "clone", EEXIST, 0 },		/* the module's devices */
			{ "latmus", EEXIST, 0 },
			{ "selftest", EEXIST, 0 },
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			const struct name_case *c = &cases[i];

			/* The table is the rule. */
			CHECK_EQ(xbuf_abi_check_name(c->name, 1), -c->public_err);
			CHECK_EQ(xbuf_abi_check_name(c->name, 0), -c->private_err);
			/* And the user backend applies it. */
			check_create(c->name, 1, c->public_err);
			check_create(c->name, 0, c->private_err);
		}
	}
	/* A leading '/' makes a name public, and the rest obeys the same rule. */
	CHECK_ERR(xbuf_create(16, 16, XBUF_CLONE_USER, "/@x"), EINVAL);
	CHECK_ERR(xbuf_create(16, 16, XBUF_CLONE_USER, "/clone"), EEXIST);
	CHECK_ERR(xbuf_create(16, 16, XBUF_CLONE_USER, "/"), EINVAL);
	/* Opening: a bad name is EINVAL; a reserved one names no element. */
	CHECK_ERR(xbuf_open("@x", XBUF_CLONE_USER), EINVAL);
	CHECK_ERR(xbuf_open("a\001", XBUF_CLONE_USER), EINVAL);
	CHECK_ERR(xbuf_open("clone", XBUF_CLONE_USER), ENOENT);
	CHECK_ERR(xbuf_open("", XBUF_CLONE_USER), EINVAL);
	return T_EXIT_PASS;
}
