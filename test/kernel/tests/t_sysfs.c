/* SPDX-License-Identifier: MIT */
/* The sysfs attribute "rings": "ifill isize ofill osize". */
#include "kt.h"

static void read_rings(const char *dir, unsigned long long v[4])
{
	char path[256], line[128];
	FILE *f;

	snprintf(path, sizeof(path), XBUF_KSYSFS_CLASS "/%s/rings", dir);
	f = fopen(path, "r");
	CHECK(f);
	CHECK(fgets(line, sizeof(line), f));
	fclose(f);
	CHECK_EQ(sscanf(line, "%llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3]), 4);
}

int main(void)
{
	unsigned long long v[4];
	struct xbuf_elem_info ei;
	unsigned char buf[200];
	char dir[64];
	int fd, st;

	fd = kt_create_ok(4096, 8192, 0, "/t_sys");
	read_rings("t_sys", v);
	CHECK_EQ(v[0], 0);
	CHECK_EQ(v[1], 4096);
	CHECK_EQ(v[2], 0);
	CHECK_EQ(v[3], 8192);

	st = kt_bind(fd);
	kt_fill(buf, sizeof(buf), 1);
	CHECK_EQ(kt_kwrite(st, buf, 100, 0), 100);
	CHECK_EQ(write(fd, buf, 50), 50);
	read_rings("t_sys", v);
	CHECK_EQ(v[0], 100);
	CHECK_EQ(v[1], 4096);
	CHECK_EQ(v[2], 50);
	CHECK_EQ(v[3], 8192);

	CHECK_EQ(read(fd, buf, 60), 60);
	CHECK_EQ(kt_kread(st, buf, 50, 0), 50);
	read_rings("t_sys", v);
	CHECK_EQ(v[0], 40);
	CHECK_EQ(v[2], 0);
	close(st);
	close(fd);
	{
		struct stat sb;

		CHECK(stat(XBUF_KSYSFS_CLASS "/t_sys", &sb) < 0);
	}

	/* A private element lives under @<id>. */
	fd = kt_create_ok(0, 12345, 0, "whatever");
	CHECK_EQ(ioctl(fd, XBUF_IOC_INFO, &ei), 0);
	snprintf(dir, sizeof(dir), "@%u", ei.id);
	CHECK_EQ(write(fd, buf, 77), 77);
	read_rings(dir, v);
	CHECK_EQ(v[0], 0);
	CHECK_EQ(v[1], 0);
	CHECK_EQ(v[2], 77);
	CHECK_EQ(v[3], 12345);
	close(fd);

	/* The clone device has no rings attribute. */
	{
		struct stat sb;

		CHECK(stat(XBUF_KSYSFS_CLASS "/clone", &sb) == 0);
		CHECK(stat(XBUF_KSYSFS_CLASS "/clone/rings", &sb) < 0);
	}
	return T_EXIT_PASS;
}
