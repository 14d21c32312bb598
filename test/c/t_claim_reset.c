// SPDX-License-Identifier: MIT
/*
 * t_claim_reset - a driver call asleep across its own process's
 * evl_shutdown_xbuf() and the next driver call's claim is still woken.
 *
 * The claim resets the end's `waiters` and `wanted`: a dead owner's
 * sleepers are gone. Ours are not: a writer asleep for room while another
 * thread ends the stream and then writes again (claim_end(): a new stream)
 * keeps its registration, or the application's commits, which look at
 * `waiters` (K1), never wake it. Found by the Promela model's SHUTDOWN
 * configuration (test/reliability/model, MUT_CLAIM_RESET); before the fix
 * this writer stayed asleep with 64 bytes of room.
 */
#include <fcntl.h>
#include <pthread.h>
#include "test.h"

static struct evl_xbuf *xb;
static int a_done;

static void *writer_a(void *arg)
{
	char b[32];
	ssize_t n;

	memset(b, 'a', sizeof(b));
	n = evl_write_xbuf(xb, b, sizeof(b), 0);	/* blocking: 16 bytes of room, it needs 32 */
	__atomic_store_n(&a_done, n == 32 ? 1 : -1, __ATOMIC_RELEASE);
	return NULL;
}

int main(void)
{
	char buf[64];
	const void *d;
	struct evl_file *ef;
	pthread_t th;
	int fd = xbuf_create(64, 64, XBUF_CLONE_USER, NULL);
	ssize_t n;

	CHECK(fd >= 0);
	xb = evl_get_xbuf(fd, &ef);
	CHECK(xb != NULL);
	CHECK_ERR(xbuf_read_begin(fd, 64, XBUF_NONBLOCK, &d), EAGAIN);	/* the app end claimed */
	memset(buf, 'p', sizeof(buf));
	CHECK_EQ(evl_write_xbuf(xb, buf, 48, O_NONBLOCK), 48);
	CHECK_EQ(pthread_create(&th, NULL, writer_a, NULL), 0);
	usleep(200000);	/* A is asleep for room */
	CHECK_EQ(__atomic_load_n(&a_done, __ATOMIC_ACQUIRE), 0);
	CHECK_EQ(evl_shutdown_xbuf(xb), 0);
	CHECK_EQ(evl_write_xbuf(xb, buf, 8, O_NONBLOCK), 8);	/* claims again: a new stream */
	n = xbuf_read_begin(fd, 64, XBUF_NONBLOCK, &d);	/* 56 bytes: the old stream's 48, the new one's 8 */
	CHECK_EQ(n, 56);
	CHECK_EQ(xbuf_read_end(fd, (size_t)n), 0);	/* 64 bytes of room: K1 must wake A */
	for (int i = 0; i < 200 && !__atomic_load_n(&a_done, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	if (__atomic_load_n(&a_done, __ATOMIC_ACQUIRE) != 1)
		fprintf(stderr, "t_claim_reset: the writer is %s after 2 s with 64 bytes of room\n",
			__atomic_load_n(&a_done, __ATOMIC_ACQUIRE) ? "failed" : "still asleep (a lost wake-up)");
	CHECK_EQ(__atomic_load_n(&a_done, __ATOMIC_ACQUIRE), 1);
	CHECK_EQ(pthread_join(th, NULL), 0);
	evl_put_xbuf(ef);
	CHECK_EQ(xbuf_close(fd), 0);
	return T_EXIT_PASS;
}
