// SPDX-License-Identifier: MIT
/*
 * kdump.c - guest diagnostics (test/kernel/guest-init.sh, on a hang):
 * maps the info, driver and app pages of the kernel element /dev/xbuf/NAME
 * read-only (no claim, no change) and prints every endpoint word.
 *   kdump NAME...
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include "xbuf/abi.h"

static void ep(const char *what, const volatile struct xbuf_shm_endpoint *e)
{
	printf("  %-12s pos %llu seq %u waiters %u owner %#x wanted %u ops %llu eagain %llu wakeups %llu\n", what,
	       (unsigned long long)e->pos, e->seq, e->waiters, e->owner, e->wanted, (unsigned long long)e->ops,
	       (unsigned long long)e->eagain, (unsigned long long)e->wakeups);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char path[128];
		int fd;

		snprintf(path, sizeof(path), "/dev/xbuf/%s", argv[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			perror(path);
			continue;
		}
		const long pg = sysconf(_SC_PAGESIZE);
		const unsigned char *m = mmap(NULL, 3 * pg, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED) {
			perror("mmap");
			close(fd);
			continue;
		}
		const struct xbuf_shm_info *info = (const void *)m;
		const struct xbuf_shm_side *drv = (const void *)(m + pg), *app = (const void *)(m + 2 * pg);
		printf("kdump %s: capacity in %llu out %llu\n", argv[i], (unsigned long long)info->ring[0].capacity,
		       (unsigned long long)info->ring[1].capacity);
		ep("drv.prod(in)", &drv->prod);
		ep("app.cons(in)", &app->cons);
		ep("app.prod(out)", &app->prod);
		ep("drv.cons(out)", &drv->cons);
		printf("  in fill %lld, out fill %lld\n", (long long)(drv->prod.pos - app->cons.pos),
		       (long long)(app->prod.pos - drv->cons.pos));
		munmap((void *)m, 3 * pg);
		close(fd);
	}
	return 0;
}
