// SPDX-License-Identifier: MIT
/*
 * t_lib_backends.c - the two backends of libxbuf agree where xbuf/abi.h
 * says they must: the info page of an element (xbuf_abi_layout(), a
 * direction of size 0 included) and the name rule (xbuf_abi_check_name(),
 * private and public). Each element is created once with
 * XBUF_CLONE_USER and once with XBUF_CLONE_KERNEL; both results must be
 * what the header says. Linked with the library sources (csrc).
 */
#include "kt.h"
#include "xbuf.h"

static int failures;

/* The info page of fd against the header's layout: the whole page, rest zero. */
static void check_info(const char *backend, int fd, uint64_t icap, uint64_t ocap,
		       long pg, unsigned char *want)
{
	const unsigned char *base = xbuf_map_base(fd);

	CHECK(base);
	if (memcmp(base, want, pg)) {
		const struct xbuf_shm_info *got = (const void *)base;

		fprintf(stderr, "%s backend, sizes %llu/%llu: info page differs from xbuf_abi_layout()\n",
			backend, (unsigned long long)icap, (unsigned long long)ocap);
		for (int r = 0; r < 2; r++)
			fprintf(stderr, "  ring %d: capacity %llu data_size %llu file_off %llu map_off %llu\n",
				r, (unsigned long long)got->ring[r].capacity,
				(unsigned long long)got->ring[r].data_size,
				(unsigned long long)got->ring[r].data_file_off,
				(unsigned long long)got->ring[r].data_map_off);
		fprintf(stderr, "  file_size %llu map_size %llu\n",
			(unsigned long long)got->file_size, (unsigned long long)got->map_size);
		failures++;
	}
}

static void info_pages(void)
{
	static const uint64_t sizes[][2] = {
		{ 5000, 0 }, { 0, 100 }, { 4096, 4096 }, { 1, 70000 }, { 0, 1 << 20 },
	};
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *want = calloc(1, pg);
	unsigned char *user_page = malloc(pg);

	CHECK(want && user_page);
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t icap = sizes[i][0], ocap = sizes[i][1];
		int ufd, kfd;

		memset(want, 0, pg);
		xbuf_abi_layout((struct xbuf_shm_info *)want, icap, ocap, (uint32_t)pg);
		ufd = xbuf_create(icap, ocap, XBUF_CLONE_USER, NULL);
		CHECK(ufd >= 0);
		kfd = xbuf_create(icap, ocap, XBUF_CLONE_KERNEL, NULL);
		CHECK(kfd >= 0);
		CHECK_EQ(xbuf_backend(ufd), XBUF_BACKEND_USER);
		CHECK_EQ(xbuf_backend(kfd), XBUF_BACKEND_KERNEL);
		check_info("user", ufd, icap, ocap, pg, want);
		check_info("kernel", kfd, icap, ocap, pg, want);
		memcpy(user_page, xbuf_map_base(ufd), pg);
		if (memcmp(user_page, xbuf_map_base(kfd), pg)) {
			fprintf(stderr, "sizes %llu/%llu: the backends' info pages differ\n",
				(unsigned long long)icap, (unsigned long long)ocap);
			failures++;
		}
		CHECK_EQ(xbuf_close(ufd), 0);
		CHECK_EQ(xbuf_close(kfd), 0);
	}
	free(want);
	free(user_page);
}

/* xbuf_create()'s answer, an fd folded to 0. */
static int create(int backend, int public, const char *name)
{
	int fd = xbuf_create(16, 16, backend | (public ? XBUF_CLONE_PUBLIC : 0), "%s", name);

	if (fd < 0)
		return fd;
	CHECK_EQ(xbuf_close(fd), 0);
	return 0;
}

static void show(const char *name)
{
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		fprintf(stderr, *p < 0x20 || *p >= 0x7f ? "\\x%02x" : "%c", *p);
}

static void names(void)
{
	char n63[XBUF_NAME_MAX + 1], n64[XBUF_NAME_MAX + 2];
	/* name, private result, public result: xbuf_abi_check_name()'s rule. */
	const struct { const char *name; int priv, pub; } table[] = {
		{ "t_names_ok", 0, 0 },
		{ "x@y", 0, 0 },		/* '@' only leads a sysfs "@<id>" */
		{ "", 0, -EINVAL },		/* a public element needs a name */
		{ "@x", -EINVAL, -EINVAL },
		{ "@", -EINVAL, -EINVAL },
		{ "a\x01" "b", -EINVAL, -EINVAL },
		{ "tab\t", -EINVAL, -EINVAL },
		{ "del\x7f", -EINVAL, -EINVAL },
		{ ".", -EINVAL, -EINVAL },
		{ "..", -EINVAL, -EINVAL },
		{ "...", 0, 0 },
		{ "a/b", -EINVAL, -EINVAL },
		{ n63, 0, 0 },
		{ n64, -ENAMETOOLONG, -ENAMETOOLONG },
		{ "clone", 0, -EEXIST },	/* XBUF_RESERVED_NAMES: devices of the module */
		{ "latmus", 0, -EEXIST },
		{ "selftest", 0, -EEXIST },
		{ "clone2", 0, 0 },
	};
	static const struct { int flag; const char *what; } backends[] = {
		{ XBUF_CLONE_USER, "user" }, { XBUF_CLONE_KERNEL, "kernel" },
	};

	memset(n63, 'n', sizeof(n63) - 1);
	n63[sizeof(n63) - 1] = 0;
	memset(n64, 'm', sizeof(n64) - 1);
	n64[sizeof(n64) - 1] = 0;
	/* The rule itself, as the header states it. */
	for (unsigned i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		CHECK_EQ(xbuf_abi_check_name(table[i].name, 0), table[i].priv);
		CHECK_EQ(xbuf_abi_check_name(table[i].name, 1), table[i].pub);
	}
	/* Both backends apply it. */
	for (unsigned i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		for (int pub = 0; pub < 2; pub++) {
			int want = pub ? table[i].pub : table[i].priv;
			int got[2];

			for (int b = 0; b < 2; b++) {
				got[b] = create(backends[b].flag, pub, table[i].name);
				if (got[b] != want) {
					fprintf(stderr, "%s backend, %s name \"", backends[b].what,
						pub ? "public" : "private");
					show(table[i].name);
					fprintf(stderr, "\": %d (%s), want %d (%s)\n", got[b],
						strerror(-got[b]), want, strerror(-want));
					failures++;
				}
			}
			if (got[0] != got[1]) {
				fprintf(stderr, "  the backends differ on \"");
				show(table[i].name);
				fprintf(stderr, "\" (%s)\n", pub ? "public" : "private");
			}
		}
	}
}

int main(void)
{
	int fd;

	fd = xbuf_create(16, 16, XBUF_CLONE_KERNEL, NULL);
	if (fd == -ENODEV)
		return T_EXIT_SKIP;
	CHECK(fd >= 0);
	CHECK_EQ(xbuf_close(fd), 0);

	info_pages();
	names();
	if (failures)
		fprintf(stderr, "t_lib_backends: %d disagreement(s) with xbuf/abi.h\n", failures);
	return failures ? T_EXIT_FAIL : T_EXIT_PASS;
}
