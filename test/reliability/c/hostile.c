// SPDX-License-Identifier: MIT
/*
 * hostile - a lying driver (user backend): a forked process that opens
 * the element, claims its ends, then writes garbage into every word of
 * its page (both endpoints' pos, seq, waiters, owner, wanted, counters)
 * and into the inbound data, bumping and waking its seq words, while the
 * application here runs blocking calls on both rings. The honest side:
 *   - never crashes (run under ASan+UBSan by run.sh);
 *   - never reads outside the ring: a borrow lies within the data area's
 *     double mapping and is at most the capacity; a read never returns
 *     more than asked;
 *   - never blocks for ever: every call returns (bytes, EAGAIN, EPIPE...)
 *     within 2 s, or the run fails (SIGALRM);
 *   - keeps its own words honest: its producer position moves by exactly
 *     what it wrote, its consumer position by what it read;
 *   - an honest element beside it (in-process driver, pattern-checked)
 *     sees no corruption: only the liar's traffic is garbled.
 *
 *   hostile ITERATIONS     prints "hostile: N passed, M failed"
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "xbuf.h"
#include "check.h"

static uint64_t rs = 0x2545F4914F6CDD1Dull;

static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static uint64_t garbage64(uint64_t near)
{
	switch (rnd() % 6) {
	case 0: return rnd();
	case 1: return near + rnd() % 16384;
	case 2: return near - rnd() % 16384;
	case 3: return 0;
	case 4: return ~0ull - rnd() % 4;
	default: return near;
	}
}

static uint32_t garbage32(void)
{
	switch (rnd() % 5) {
	case 0: return (uint32_t)rnd();
	case 1: return 0;
	case 2: return 0xffffffffu;
	case 3: return (uint32_t)(rnd() % 8);
	default: return (uint32_t)getpid();
	}
}

static void scribble(struct xbuf_shm_endpoint *ep)
{
	__atomic_store_n(&ep->pos, garbage64(__atomic_load_n(&ep->pos, __ATOMIC_RELAXED)), __ATOMIC_SEQ_CST);
	if (rnd() & 1)
		__atomic_store_n(&ep->waiters, garbage32(), __ATOMIC_SEQ_CST);
	if (rnd() & 1)
		__atomic_store_n(&ep->wanted, garbage32(), __ATOMIC_SEQ_CST);
	if (rnd() % 4 == 0)
		__atomic_store_n(&ep->owner, garbage32(), __ATOMIC_SEQ_CST);
	if (rnd() & 1)
		ep->ops = rnd(), ep->eagain = rnd(), ep->wakeups = rnd();
	__atomic_add_fetch(&ep->seq, (uint32_t)(rnd() % 3), __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &ep->seq, FUTEX_WAKE, 1 << 30, NULL, NULL, 0);
}

static void liar(const char *name)
{
	struct evl_file *f;
	struct evl_xbuf *xb;
	long page = sysconf(_SC_PAGESIZE);
	int fd = xbuf_open(name, XBUF_CLONE_USER);
	uint8_t b[16] = { 0 };
	char *base;
	struct xbuf_shm_side *drv;
	const struct xbuf_shm_info *info;

	if (fd < 0 || !(xb = evl_get_xbuf(fd, &f)))
		_exit(2);
	evl_write_xbuf(xb, b, 1, O_NONBLOCK);	/* claim both ends */
	evl_read_xbuf(xb, b, 1, O_NONBLOCK);
	base = xbuf_map_base(fd);
	info = (const void *)base;
	drv = (struct xbuf_shm_side *)(base + XBUF_DRIVER_PAGE * page);
	for (;;) {
		scribble(rnd() & 1 ? &drv->prod : &drv->cons);
		if (rnd() % 8 == 0)	/* garbage in the data it produces */
			memset(base + info->ring[XBUF_INBOUND].data_map_off + rnd() % info->ring[XBUF_INBOUND].data_size,
			       (int)rnd(), 1);
		if (rnd() % 16 == 0)
			usleep(rnd() % 500);
	}
}

static void on_alarm(int sig)
{
	static const char msg[] = "hostile: a call blocked for 2 s\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

int main(int argc, char **argv)
{
	int iters = argc > 1 ? atoi(argv[1]) : 2000, fails = 0, fd, hfd;
	long page = sysconf(_SC_PAGESIZE);
	char name[64];
	static uint8_t buf[8192], hbuf[512];
	const struct xbuf_shm_info *info;
	struct xbuf_shm_side *app;
	struct evl_file *hf;
	struct evl_xbuf *hxb;
	uint64_t wrote = 0, read_n = 0, hoff_w = 0, hoff_r = 0, pos0_in, pos0_out;
	unsigned char *lo, *hi;
	char *base;
	pid_t pid;

	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	snprintf(name, sizeof(name), "/hostile.%d", getpid());
	fd = xbuf_create(4096, 4096, XBUF_CLONE_USER, "%s", name);
	CHECK(fd >= 0);
	hfd = xbuf_create(4096, 0, XBUF_CLONE_USER, "honest");	/* beside it: honest traffic */
	CHECK(hfd >= 0);
	hxb = evl_get_xbuf(hfd, &hf);
	CHECK(hxb != NULL);
	base = xbuf_map_base(fd);
	info = (const void *)base;
	app = (struct xbuf_shm_side *)(base + XBUF_APP_PAGE * page);
	lo = (unsigned char *)base + info->ring[XBUF_INBOUND].data_map_off;
	hi = lo + 2 * info->ring[XBUF_INBOUND].data_size;
	pid = fork();
	CHECK(pid >= 0);
	if (!pid)
		liar(name);
	usleep(20000);
	pos0_in = __atomic_load_n(&app->cons.pos, __ATOMIC_RELAXED);
	pos0_out = __atomic_load_n(&app->prod.pos, __ATOMIC_RELAXED);
	for (int i = 0; i < iters; i++) {
		size_t count = 1 + rnd() % (rnd() & 1 ? 4096 : 64);
		const void *data;
		void *wdata;
		ssize_t n;

		alarm(2);
		switch (rnd() % 5) {
		case 0:	/* blocking read */
			n = xbuf_read(fd, buf, count);
			if (n > (ssize_t)count) {
				fprintf(stderr, "read %zd of %zu\n", n, count);
				fails++;
			}
			if (n > 0)
				read_n += (uint64_t)n;
			break;
		case 1:	/* a borrow: within the mapping, at most the capacity */
			n = xbuf_read_begin(fd, count, rnd() & 1 ? XBUF_NONBLOCK : 0, &data);
			if (n > 0) {
				if ((const unsigned char *)data < lo || (const unsigned char *)data + n > hi ||
				    (uint64_t)n > info->ring[XBUF_INBOUND].capacity) {
					fprintf(stderr, "borrow %p+%zd outside [%p, %p)\n", data, n, (void *)lo, (void *)hi);
					fails++;
				}
				memcpy(buf, data, (size_t)n);	/* ASan: every byte readable */
				xbuf_read_end(fd, (size_t)n);
				read_n += (uint64_t)n;
			}
			break;
		case 2:	/* blocking write */
			n = xbuf_write(fd, buf, count);
			if (n > 0)
				wrote += (uint64_t)n;
			break;
		case 3:
			n = xbuf_write_begin(fd, count, rnd() & 1 ? XBUF_NONBLOCK : 0, &wdata);
			if (n > 0) {
				memset(wdata, 0x5a, (size_t)n);
				xbuf_write_end(fd, (size_t)n);
				wrote += (uint64_t)n;
			}
			break;
		default:
			xbuf_poll(fd, XBUF_POLLIN | XBUF_POLLOUT, rnd() % 4096, (int)(rnd() % 20));
			break;
		}
		alarm(0);
		/* Our own words: moved by exactly what we did. */
		if (__atomic_load_n(&app->prod.pos, __ATOMIC_RELAXED) != pos0_out + wrote ||
		    __atomic_load_n(&app->cons.pos, __ATOMIC_RELAXED) != pos0_in + read_n) {
			fprintf(stderr, "our positions moved: prod %llu (want %llu), cons %llu (want %llu)\n",
				(unsigned long long)app->prod.pos, (unsigned long long)(pos0_out + wrote),
				(unsigned long long)app->cons.pos, (unsigned long long)(pos0_in + read_n));
			fails++;
			break;
		}
		/* The honest element: pattern through, untouched by the liar. */
		{
			size_t k = 1 + rnd() % sizeof(hbuf);

			pattern_fill(hbuf, hoff_w, k);
			if (evl_write_xbuf(hxb, hbuf, k, O_NONBLOCK) == (ssize_t)k)
				hoff_w += k;
			n = xbuf_read_begin(hfd, 4096, XBUF_NONBLOCK, &data);
			if (n > 0) {
				if (pattern_check(data, hoff_r, (size_t)n) >= 0) {
					fprintf(stderr, "the honest element is corrupt at %llu\n", (unsigned long long)hoff_r);
					fails++;
				}
				hoff_r += (uint64_t)n;
				xbuf_read_end(hfd, (size_t)n);
			}
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	evl_put_xbuf(hf);
	xbuf_close(hfd);
	xbuf_close(fd);
	printf("hostile: %d calls against a lying driver, %llu bytes written, %llu read; honest element %llu bytes\n",
	       iters, (unsigned long long)wrote, (unsigned long long)read_n, (unsigned long long)hoff_r);
	printf("hostile: %d passed, %d failed\n", fails ? 0 : 1, fails ? 1 : 0);
	return fails ? 1 : 0;
}
