// SPDX-License-Identifier: MIT
/*
 * t_layout - the user backend's info page is exactly xbuf_abi_layout()'s,
 * the one the module writes too, including a direction created with size
 * 0: no data area, and data_size, data_file_off and data_map_off all 0.
 */
#include "test.h"
#include "xbuf/abi.h"

int main(void)
{
	const struct { size_t i, o; } sizes[] = {
		{ 4096, 0 }, { 0, 4096 }, { 1, 0 }, { 0, 100000 }, { 5000, 3 }, { 1 << 20, 0 },
	};
	long page = sysconf(_SC_PAGESIZE);

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct xbuf_shm_info want;
		const struct xbuf_shm_info *info;
		int fd = xbuf_create(sizes[k].i, sizes[k].o, XBUF_CLONE_USER, NULL);

		CHECK(fd >= 0);
		info = xbuf_map_base(fd);
		CHECK(info != NULL);
		memset(&want, 0xa5, sizeof(want));	/* the layout sets every byte */
		xbuf_abi_layout(&want, sizes[k].i, sizes[k].o, (uint32_t)page);
		if (memcmp(info, &want, sizeof(want))) {
			fprintf(stderr, "info page of (%zu, %zu) differs from xbuf_abi_layout()\n",
				sizes[k].i, sizes[k].o);
			return T_EXIT_FAIL;
		}
		for (int r = 0; r < 2; r++) {
			const struct xbuf_shm_ring_info *ri = &info->ring[r];

			if (ri->capacity)
				continue;
			CHECK_EQ(ri->data_size, 0);
			CHECK_EQ(ri->data_file_off, 0);
			CHECK_EQ(ri->data_map_off, 0);
		}
		if (!sizes[k].i) {
			char b;

			CHECK_ERRNO(xbuf_read(fd, &b, 1), ENOBUFS);
		}
		if (!sizes[k].o)
			CHECK_ERRNO(xbuf_write(fd, "x", 1), ENOBUFS);
		CHECK_EQ(xbuf_close(fd), 0);
	}
	return T_EXIT_PASS;
}
