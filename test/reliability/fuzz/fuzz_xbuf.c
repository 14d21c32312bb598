// SPDX-License-Identifier: MIT
/*
 * fuzz_xbuf - libFuzzer target: the input is a program of operations on
 * both sides of one element (user backend, one process: the application
 * through its fds, the driver through evl_get_xbuf() references), run
 * against a reference model of EVL's semantics (struct model below). Any
 * difference in a return value, an errno, a fill level, a counter or a
 * byte read aborts (a crash for libFuzzer), as does a sanitizer report.
 *
 * The model is EVL's cross-buffer as xbuf.h states it, per ring: a FIFO
 * of at most `capacity` bytes; reads of count > capacity are EINVAL unless
 * non-blocking; a blocking read completes with count bytes (we only issue
 * one when the model says it completes at once: one thread); writes are
 * all or nothing; count 0 returns 0 before any other check; the
 * application side gone (its last fd closed: issue 9) makes every driver
 * call EIDRM; the driver's last reference going does not end the stream
 * (the application waits: EAGAIN); evl_shutdown_xbuf() ends it: the
 * application drains, then EPIPE (its writes at once, room or not), until a
 * later driver call (a read, a write, an evl_poll_xbuf() that waits)
 * claims the end again and starts a new stream, both ways; evl_poll_xbuf() says
 * POLLIN / POLLOUT for one byte, POLLHUP once the application left,
 * POLLNVAL for a NULL handle, unknown events or no ring, -EINVAL above
 * 126 directions; xbuf_gc()/xbuf_reclaim() never take a live name, and
 * clean closes leave none stale; a borrow
 * holds its end (the same thread gets EBUSY); commits publish/consume a
 * prefix of the borrow. Ends are claimed on first use and released when
 * the last handle of their side goes, as docs/ABI.md says: the model
 * tracks each end's owner word (never held / held / gone).
 *
 * Input: byte 0-1 the two capacities (indexes into caps[]), byte 2 flags
 * (bit 0: public element), then operations: one opcode byte and its
 * arguments (16-bit sizes, reduced modulo a range around the capacity so
 * the boundaries come up often). A short input simply ends the program.
 *
 * Not covered here (single thread): the short-read rule and wake-ups
 * (test/reliability/model/xbuf.pml and the soak), other processes (crash
 * suites), the kernel backend (the guest).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "xbuf.h"
#include "check.h"

#define FAILF(...) do { fprintf(stderr, "fuzz_xbuf: op %d: ", opno); fprintf(stderr, __VA_ARGS__); \
	fprintf(stderr, "\n"); abort(); } while (0)
#define EXPECT(got, want, what) do { long long __g = (long long)(got), __w = (long long)(want); \
	if (__g != __w) FAILF("%s: got %lld, model says %lld", what, __g, __w); } while (0)

static const size_t caps[] = { 0, 1, 7, 100, 1000, 4095, 4096, 5000 };

enum owner { NEVER, HELD, GONE };

struct ring {
	size_t cap;		/* 0: no ring */
	uint64_t prod, cons;	/* stream positions */
	enum owner own[2];	/* [0] producer end, [1] consumer end */
	int borrow;		/* -1 none; else bytes borrowed (app ends only) */
	uint8_t salt;
};

#define MAXFD 4
#define MAXDRV 3

static struct model {
	struct ring r[2];		/* [XBUF_INBOUND], [XBUF_OUTBOUND] */
	int fd[MAXFD];			/* app fds, -1 closed */
	int creator;			/* slot of the creator fd, -1 once closed */
	int app_refs;
	struct evl_file *drv[MAXDRV];	/* driver refs */
	int drv_refs;
	bool public;
	char name[40];
	int closed_fd;			/* a number we closed, for EBADF, -1 none */
	bool nonblock[MAXFD];		/* O_NONBLOCK on the fd */
	bool creator_gone;		/* the creator (this process) closed its last fd once */
} m;

static int opno;
static uint8_t buf[16384];

static const uint8_t *in, *end;

static unsigned next8(void)
{
	return in < end ? *in++ : 0;
}

static unsigned next16(void)
{
	unsigned v = next8();

	return v | next8() << 8;
}

static bool more(void)
{
	return in < end;
}

/* A size for ring r: mostly around [0, cap], sometimes just above it. */
static size_t pick_size(const struct ring *r)
{
	unsigned v = next16();
	size_t cap = r->cap ? r->cap : 8;

	switch (v & 3) {
	case 0: return (v >> 2) % (cap + 2);
	case 1: return (v >> 2) % 17;
	case 2: return cap - ((v >> 2) % 3 < cap ? (v >> 2) % 3 : 0);
	default: return (v >> 2) % (2 * cap + 2);
	}
}

static uint64_t fill(const struct ring *r)
{
	return r->prod - r->cons;
}

/* Side s uses its end of ring ri (role: 0 producer, 1 consumer): a claim. */
static void claim(struct ring *r, int role)
{
	int ri = r == &m.r[XBUF_INBOUND] ? XBUF_INBOUND : XBUF_OUTBOUND;
	bool driver = (role == 0) == (XBUF_PRODUCER_SIDE(ri) == XBUF_SIDE_DRIVER);
	struct ring *o = &m.r[!ri];

	/*
	 * A driver back after evl_shutdown_xbuf() starts the new stream both
	 * ways: its other end, ended and held by nobody since, reads as never
	 * held (user_claim()). Only on the model's own rings: completes() asks
	 * a copy, which has no other ring.
	 */
	if ((r == &m.r[0] || r == &m.r[1]) && driver && r->own[role] != HELD && o->cap && o->own[!role] == GONE)
		o->own[!role] = NEVER;
	r->own[role] = HELD;
}

static bool peer_gone(const struct ring *r, int role)
{
	return r->own[!role] == GONE;
}

/* The last handle of a side went: its claimed ends are let go. */
static void side_release(int side)
{
	for (int ri = 0; ri < 2; ri++) {
		int role = XBUF_PRODUCER_SIDE(ri) == side ? 0 : 1;

		if (m.r[ri].own[role] == HELD)
			m.r[ri].own[role] = GONE;
	}
}

/*
 * Has the application side left, for the driver end of ring r? Its
 * creator closed its last fd (the creator word) and no process holds the
 * app end of r (issue 9: until a process claims it again).
 */
static bool app_left(const struct ring *r)
{
	int app_role = r == &m.r[XBUF_INBOUND] ? 1 : 0;

	return m.creator_gone && r->own[app_role] != HELD;
}

enum mode { BLOCK, NONBLOCK, NOWAIT };

/* What a read of count on ring r in mode md returns: > 0 bytes, 0 (count 0), or -errno. */
static long long model_read(struct ring *r, size_t count, enum mode md, bool busy)
{
	uint64_t f;

	if (!count)
		return 0;	/* before any other check (EVL) */
	if (!r->cap)
		return -ENOBUFS;
	if (count > r->cap && md != NONBLOCK)
		return -EINVAL;
	if (busy)
		return -EBUSY;
	claim(r, 1);
	if (r == &m.r[XBUF_OUTBOUND] && app_left(r))
		return -EIDRM;	/* the driver reads: the application side left */
	f = fill(r);
	if (f >= count)
		return count;
	if (f && md == NONBLOCK)
		return f;
	if (peer_gone(r, 1))
		return f ? (long long)f : -EPIPE;
	return -EAGAIN;
}

static long long model_write(struct ring *r, size_t count, enum mode md, bool busy)
{
	(void)md;
	if (!count)
		return 0;
	if (!r->cap)
		return -ENOBUFS;
	if (count > r->cap)
		return -EINVAL;
	if (busy)
		return -EBUSY;
	claim(r, 0);
	if (r == &m.r[XBUF_INBOUND] && app_left(r))
		return -EIDRM;	/* the driver writes: the application side left */
	if (r == &m.r[XBUF_OUTBOUND] && peer_gone(r, 0))
		return -EPIPE;	/* the driver ended the stream: an application write fails at once, room or not */
#ifdef FUZZ_MUTANT	/* the oracle's own check (run.sh): a write that exactly fills must be caught */
	if (r->cap - fill(r) > count)
#else
	if (r->cap - fill(r) >= count)
#endif
		return count;
	return peer_gone(r, 0) ? -EPIPE : -EAGAIN;
}

/* Would a blocking call complete at once (so that one thread may issue it)? */
static bool completes(struct ring *r, size_t count, bool reader)
{
	struct ring copy = *r;
	long long v = reader ? model_read(&copy, count, NOWAIT, false) : model_write(&copy, count, NOWAIT, false);

	return v != -EAGAIN;
}

static void produce(struct ring *r, uint8_t *dst, size_t n)
{
	for (size_t k = 0; k < n; k++)
		dst[k] = pattern_byte(r->prod + k + ((uint64_t)r->salt << 40));
}

static void consume_check(struct ring *r, const uint8_t *src, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (src[k] != pattern_byte(r->cons + k + ((uint64_t)r->salt << 40)))
			FAILF("byte %llu of the stream: got %#x, want %#x", (unsigned long long)(r->cons + k),
			      src[k], pattern_byte(r->cons + k + ((uint64_t)r->salt << 40)));
}

static int any_fd(void)
{
	for (int i = 0; i < MAXFD; i++)
		if (m.fd[i] >= 0)
			return i;
	return -1;
}

static int pick_fd(void)
{
	int k = (int)(next8() % MAXFD);

	for (int i = 0; i < MAXFD; i++)
		if (m.fd[(k + i) % MAXFD] >= 0)
			return (k + i) % MAXFD;
	return -1;
}

static int pick_drv(void)
{
	int k = (int)(next8() % MAXDRV);

	for (int i = 0; i < MAXDRV; i++)
		if (m.drv[(k + i) % MAXDRV])
			return (k + i) % MAXDRV;
	return -1;
}

static void check_levels(void)
{
	struct xbuf_rings rg;
	struct xbuf_stat st;
	int s = any_fd();

	if (s < 0)
		return;
	EXPECT(xbuf_rings(m.fd[s], &rg), 0, "xbuf_rings");
	EXPECT(rg.ifill, fill(&m.r[XBUF_INBOUND]), "ifill");
	EXPECT(rg.ofill, fill(&m.r[XBUF_OUTBOUND]), "ofill");
	EXPECT(rg.isize, m.r[XBUF_INBOUND].cap, "isize");
	EXPECT(rg.osize, m.r[XBUF_OUTBOUND].cap, "osize");
	EXPECT(xbuf_stat(m.fd[s], &st), 0, "xbuf_stat");
	EXPECT(st.inbound.produced, m.r[XBUF_INBOUND].prod, "inbound produced");
	EXPECT(st.inbound.consumed, m.r[XBUF_INBOUND].cons, "inbound consumed");
	EXPECT(st.outbound.produced, m.r[XBUF_OUTBOUND].prod, "outbound produced");
	EXPECT(st.outbound.consumed, m.r[XBUF_OUTBOUND].cons, "outbound consumed");
	EXPECT(st.inbound.producer_waiters + st.inbound.consumer_waiters +
	       st.outbound.producer_waiters + st.outbound.consumer_waiters, 0, "waiters");
}

/* An app call that returns -1/errno, as a negative errno. */
static long long sys_ret(ssize_t r)
{
	return r < 0 ? -(long long)errno : (long long)r;
}

static void op_app_read_begin(void)
{
	struct ring *r = &m.r[XBUF_INBOUND];
	int s = pick_fd(), fl = (int)(next8() % 3);
	size_t count = pick_size(r), commit;
	enum mode md = fl == 1 ? NONBLOCK : fl == 2 ? NOWAIT : BLOCK;
	const void *data = NULL;
	long long want, got;

	if (s < 0)
		return;
	if (md == BLOCK && m.nonblock[s])
		md = NONBLOCK;
	if (md == BLOCK && !completes(r, count, true))
		return;
	want = model_read(r, count, md, r->borrow >= 0);
	got = xbuf_read_begin(m.fd[s], count, fl == 1 ? XBUF_NONBLOCK : fl == 2 ? XBUF_NOWAIT : 0, &data);
	EXPECT(got, want, "xbuf_read_begin");
	if (got <= 0)
		return;
	consume_check(r, data, (size_t)got);
	commit = next8() & 1 ? (size_t)got : (size_t)(next16() % (got + 2));
	if (commit > (size_t)got) {
		EXPECT(xbuf_read_end(m.fd[s], commit), -EINVAL, "xbuf_read_end above the borrow");
		commit = (size_t)got;
	}
	if (next8() % 4 == 0) {	/* keep the borrow for later ops */
		r->borrow = (int)got;
		return;
	}
	EXPECT(xbuf_read_end(m.fd[s], commit), 0, "xbuf_read_end");
	r->cons += commit;
}

static void op_app_read_end(void)
{
	struct ring *r = &m.r[XBUF_INBOUND];
	int s = pick_fd();
	size_t n = next16() % 64;

	if (s < 0)
		return;
	if (r->borrow < 0) {
		EXPECT(xbuf_read_end(m.fd[s], 0), -EINVAL, "xbuf_read_end without a borrow");
		return;
	}
	if (n > (size_t)r->borrow) {
		EXPECT(xbuf_read_end(m.fd[s], n), -EINVAL, "xbuf_read_end above");
		n = (size_t)r->borrow;
	}
	EXPECT(xbuf_read_end(m.fd[s], n), 0, "xbuf_read_end");
	r->cons += n;
	r->borrow = -1;
}

static void op_app_write_begin(void)
{
	struct ring *r = &m.r[XBUF_OUTBOUND];
	int s = pick_fd(), fl = (int)(next8() % 3);
	size_t count = pick_size(r), commit;
	enum mode md = fl == 1 ? NONBLOCK : fl == 2 ? NOWAIT : BLOCK;
	void *data = NULL;
	long long want, got;

	if (s < 0)
		return;
	if (md == BLOCK && m.nonblock[s])
		md = NONBLOCK;
	if (md == BLOCK && !completes(r, count, false))
		return;
	want = model_write(r, count, md, r->borrow >= 0);
	got = xbuf_write_begin(m.fd[s], count, fl == 1 ? XBUF_NONBLOCK : fl == 2 ? XBUF_NOWAIT : 0, &data);
	EXPECT(got, want, "xbuf_write_begin");
	if (got <= 0)
		return;
	commit = next8() & 1 ? (size_t)got : (size_t)(next16() % (got + 2));
	if (commit > (size_t)got) {
		EXPECT(xbuf_write_end(m.fd[s], commit), -EINVAL, "xbuf_write_end above the borrow");
		commit = (size_t)got;
	}
	produce(r, data, (size_t)got);
	if (next8() % 4 == 0) {
		r->borrow = (int)got;
		return;
	}
	EXPECT(xbuf_write_end(m.fd[s], commit), 0, "xbuf_write_end");
	r->prod += commit;
}

static void op_app_write_end(void)
{
	struct ring *r = &m.r[XBUF_OUTBOUND];
	int s = pick_fd();
	size_t n = next16() % 64;

	if (s < 0)
		return;
	if (r->borrow < 0) {
		EXPECT(xbuf_write_end(m.fd[s], 0), -EINVAL, "xbuf_write_end without a borrow");
		return;
	}
	if (n > (size_t)r->borrow) {
		EXPECT(xbuf_write_end(m.fd[s], n), -EINVAL, "xbuf_write_end above");
		n = (size_t)r->borrow;
	}
	EXPECT(xbuf_write_end(m.fd[s], n), 0, "xbuf_write_end");
	r->prod += n;
	r->borrow = -1;
}

/* read(2)/write(2): NOWAIT first, then as the fd's O_NONBLOCK says (api.c's app_copy()). */
static void op_app_copy(bool reader)
{
	struct ring *r = &m.r[reader ? XBUF_INBOUND : XBUF_OUTBOUND];
	int s = pick_fd();
	size_t count = pick_size(r);
	long long want, got;

	if (s < 0 || count > sizeof(buf))
		return;
	if (!m.nonblock[s] && !completes(r, count, reader))
		return;
	if (reader) {
		want = model_read(r, count, NOWAIT, r->borrow >= 0);
		if (want == -EAGAIN || want == -EINVAL)
			want = model_read(r, count, m.nonblock[s] ? NONBLOCK : BLOCK, r->borrow >= 0);
		got = sys_ret(xbuf_read(m.fd[s], buf, count));
		EXPECT(got, want, "xbuf_read");
		if (got > 0) {
			consume_check(r, buf, (size_t)got);
			r->cons += (uint64_t)got;
		}
	} else {
		want = model_write(r, count, NOWAIT, r->borrow >= 0);
		produce(r, buf, count);
		got = sys_ret(xbuf_write(m.fd[s], buf, count));
		EXPECT(got, want, "xbuf_write");
		if (got > 0)
			r->prod += (uint64_t)got;
	}
}

/* xbuf_poll(timeout 0): readiness as xb_poll() defines it, no claim. */
static void op_poll(void)
{
	int s = pick_fd(), ev = (int)(next8() % 7), want = 0, gone = 0, got;
	size_t count = next8() & 1 ? pick_size(&m.r[XBUF_INBOUND]) : pick_size(&m.r[XBUF_OUTBOUND]);
	int rings[2], n = 0;

	if (s < 0)
		return;
	if (!ev || (ev & ~(XBUF_POLLIN | XBUF_POLLOUT))) {
		EXPECT(xbuf_poll(m.fd[s], ev, count, 0), -EINVAL, "xbuf_poll bad events");
		return;
	}
	if (ev & XBUF_POLLIN)
		rings[n++] = XBUF_INBOUND;
	if (ev & XBUF_POLLOUT)
		rings[n++] = XBUF_OUTBOUND;
	for (int i = 0; i < n; i++) {
		struct ring *r = &m.r[rings[i]];

		if (!r->cap) {
			EXPECT(xbuf_poll(m.fd[s], ev, count, 0), -ENOBUFS, "xbuf_poll no ring");
			return;
		}
		if (count > r->cap) {
			EXPECT(xbuf_poll(m.fd[s], ev, count, 0), -EINVAL, "xbuf_poll above the capacity");
			return;
		}
	}
	for (int i = 0; i < n; i++) {
		/* The ring itself, restored after (no claim): the model tells the rings apart by address. */
		struct ring *r = &m.r[rings[i]], saved[2] = { m.r[0], m.r[1] };
		bool reader = rings[i] == XBUF_INBOUND;
		long long v = reader ? model_read(r, count ? count : 1, NOWAIT, false)
				     : model_write(r, count ? count : 1, NOWAIT, false);

		m.r[0] = saved[0];
		m.r[1] = saved[1];

		if (v > 0)
			want |= reader ? XBUF_POLLIN : XBUF_POLLOUT;
		else if (v == -EPIPE)
			gone = -EPIPE;
	}
	if (!want && gone)
		want = gone;
	got = xbuf_poll(m.fd[s], ev, count, 0);
	EXPECT(got, want, "xbuf_poll");
}

static void op_drv_copy(bool reader)
{
	int d = pick_drv();
	struct ring *r = &m.r[reader ? XBUF_OUTBOUND : XBUF_INBOUND];
	size_t count = pick_size(r);
	bool nb = next8() & 1;
	struct evl_xbuf *xb;
	long long want, got;

	if (d < 0 || count > sizeof(buf))
		return;
	xb = (struct evl_xbuf *)m.drv[d];
	if (!nb && !completes(r, count, reader))
		return;
	if (reader) {
		want = model_read(r, count, nb ? NONBLOCK : BLOCK, false);
		got = evl_read_xbuf(xb, buf, count, nb ? O_NONBLOCK : 0);
		EXPECT(got, want, "evl_read_xbuf");
		if (got > 0) {
			consume_check(r, buf, (size_t)got);
			r->cons += (uint64_t)got;
		}
	} else {
		want = model_write(r, count, nb ? NONBLOCK : BLOCK, false);
		produce(r, buf, count);
		got = evl_write_xbuf(xb, buf, count, nb ? O_NONBLOCK : 0);
		EXPECT(got, want, "evl_write_xbuf");
		if (got > 0)
			r->prod += (uint64_t)got;
	}
}

static void op_drv_get(void)
{
	int s = pick_fd(), d;
	struct evl_file *f = NULL;

	for (d = 0; d < MAXDRV && m.drv[d]; d++)
		;
	if (d == MAXDRV)
		return;
	if (s < 0) {
		if (m.closed_fd >= 0)
			EXPECT(evl_get_xbuf(m.closed_fd, &f) != NULL, 0, "evl_get_xbuf on a closed fd");
		return;
	}
	if (!evl_get_xbuf(m.fd[s], &f) || !f)
		FAILF("evl_get_xbuf failed");
	m.drv[d] = f;
	m.drv_refs++;
}

static void op_drv_put(void)
{
	int d = pick_drv();

	if (d < 0)
		return;
	evl_put_xbuf(m.drv[d]);
	m.drv[d] = NULL;
	/*
	 * The last driver reference going does not end the stream (issue 9:
	 * only evl_shutdown_xbuf() or a death does): the application keeps
	 * waiting, and its writes EAGAIN, not EPIPE. Its ends stay as they are.
	 */
	m.drv_refs--;
}

static bool app_borrowing(void)
{
	return m.r[XBUF_INBOUND].borrow >= 0 || m.r[XBUF_OUTBOUND].borrow >= 0;
}

static void op_app_close(void)
{
	int s = pick_fd();

	if (s < 0 || app_borrowing())
		return;
	EXPECT(xbuf_close(m.fd[s]), 0, "xbuf_close");
	m.closed_fd = m.fd[s];
	m.fd[s] = -1;
	if (s == m.creator)
		m.creator = -1;		/* the name goes with the creator's handle */
	for (int i = 0; i < MAXFD; i++)
		if (m.fd[i] == m.closed_fd)
			m.closed_fd = -1;
	if (--m.app_refs == 0) {
		side_release(XBUF_SIDE_APP);
		m.creator_gone = true;
	}
}

static void op_app_open(void)
{
	int s, fd;

	for (s = 0; s < MAXFD && m.fd[s] >= 0; s++)
		;
	if (s == MAXFD || !m.public)
		return;
	fd = xbuf_open(m.name, XBUF_CLONE_USER);
	if (m.app_refs == 0 && m.drv_refs == 0) {	/* openable while any fd or mapping lives (issue 9) */
		EXPECT(fd, -ENOENT, "xbuf_open with no fd nor mapping left");
		return;
	}
	if (fd < 0)
		FAILF("xbuf_open: %d", fd);
	m.fd[s] = fd;
	m.nonblock[s] = false;
	m.app_refs++;
	if (fd == m.closed_fd)
		m.closed_fd = -1;
}

static void op_nonblock(void)
{
	int s = pick_fd();

	if (s < 0)
		return;
	m.nonblock[s] = !m.nonblock[s];
	if (fcntl(m.fd[s], F_SETFL, m.nonblock[s] ? O_NONBLOCK : 0) < 0)
		FAILF("fcntl");
}

static void op_closed_fd(void)
{
	void *p;

	if (m.closed_fd < 0)
		return;
	EXPECT(sys_ret(xbuf_read(m.closed_fd, buf, 1)), -EBADF, "xbuf_read on a closed fd");
	EXPECT(xbuf_write_begin(m.closed_fd, 1, XBUF_NONBLOCK, &p), -EBADF, "write_begin on a closed fd");
	EXPECT(xbuf_poll(m.closed_fd, XBUF_POLLIN, 0, 0), -EBADF, "xbuf_poll on a closed fd");
}

/*
 * evl_shutdown_xbuf(): the driver ends the stream of both its ends (each
 * ring there is): the application drains, then EPIPE; its writes fail with
 * EPIPE at once. A later driver call claims the end again and starts a new
 * stream both ways (model_read/model_write's claim()).
 */
static void op_drv_shutdown(void)
{
	int d = pick_drv();

	if (d < 0) {
		EXPECT(evl_shutdown_xbuf(NULL), -EBADF, "evl_shutdown_xbuf(NULL)");
		return;
	}
	EXPECT(evl_shutdown_xbuf((struct evl_xbuf *)m.drv[d]), 0, "evl_shutdown_xbuf");
	if (m.r[XBUF_INBOUND].cap)
		m.r[XBUF_INBOUND].own[0] = GONE;	/* the driver produces inbound */
	if (m.r[XBUF_OUTBOUND].cap)
		m.r[XBUF_OUTBOUND].own[1] = GONE;	/* and consumes outbound */
}

/*
 * What evl_poll_xbuf() says of one direction of a driver handle, for one
 * byte: POLLIN (outbound traffic) / POLLOUT (inbound room), POLLHUP (the
 * application left: EIDRM), 0. The ring is restored after: no claim.
 */
static short model_drv_ready(int ev)
{
	struct ring *r = &m.r[ev == POLLIN ? XBUF_OUTBOUND : XBUF_INBOUND], saved[2] = { m.r[0], m.r[1] };
	/* the ring itself, not a copy: the model tells the rings apart by address (app_left()) */
	long long v = ev == POLLIN ? model_read(r, 1, NOWAIT, false) : model_write(r, 1, NOWAIT, false);

	m.r[0] = saved[0];	/* no claim, of this end or (claim()'s new stream) the other */
	m.r[1] = saved[1];
	if (v > 0)
		return (short)ev;
	return v == -EIDRM ? POLLHUP : v == -EAGAIN ? 0 : POLLERR;
}

#define MAXPOLL 127	/* one above XB_SLEEP_MAX (126 directions) */

/*
 * evl_poll_xbuf() over up to 4 entries: driver handles (repeats allowed),
 * NULL, unknown event bits, directions without a ring; timeout 0 mostly,
 * sometimes 1 ms when the model says nothing is ready (then it must time
 * out, and it claimed the driver ends it waited on: a later stream).
 * Sometimes 126 or 127 entries of one direction: the limit.
 */
static void op_drv_poll(void)
{
	static struct evl_xbuf_pollfd p[MAXPOLL];
	short want[MAXPOLL];
	unsigned sel = next8();
	int n = 1 + (int)(sel % 4), ready = 0, dirs = 0, timeout = 0, got;

	if (sel >> 2 == 0) {	/* the argument checks */
		EXPECT(evl_poll_xbuf(NULL, 1, 0), -EFAULT, "evl_poll_xbuf(NULL, 1)");
		EXPECT(evl_poll_xbuf(p, -1, 0), -EFAULT, "evl_poll_xbuf(nfds -1)");
		EXPECT(evl_poll_xbuf(NULL, 0, 0), 0, "evl_poll_xbuf(nfds 0)");
		return;
	}
	if (sel >> 2 == 1) {	/* the limit: 126 directions poll, 127 are EINVAL */
		int d = pick_drv(), ev = next8() & 1 ? POLLIN : POLLOUT;

		n = next8() & 1 ? MAXPOLL : MAXPOLL - 1;
		if (d < 0 || !m.r[ev == POLLIN ? XBUF_OUTBOUND : XBUF_INBOUND].cap)
			return;
		for (int i = 0; i < n; i++)
			p[i] = (struct evl_xbuf_pollfd){ (struct evl_xbuf *)m.drv[d], (short)ev, 0x55 };
		want[0] = model_drv_ready(ev);
		got = evl_poll_xbuf(p, n, 0);
		if (n == MAXPOLL) {
			EXPECT(got, -EINVAL, "evl_poll_xbuf over 126 directions");
			return;
		}
		EXPECT(got, want[0] ? n : 0, "evl_poll_xbuf of 126 directions");
		for (int i = 0; i < n; i++)
			EXPECT(p[i].revents, want[0], "evl_poll_xbuf revents (126)");
		return;
	}
	for (int i = 0; i < n; i++) {
		unsigned b = next8(), e = next8();
		struct evl_xbuf *xb = b % 8 == 7 ? NULL : (struct evl_xbuf *)m.drv[b % MAXDRV];
		short ev = (short)((e & 1 ? POLLIN : 0) | (e & 2 ? POLLOUT : 0) | (e % 32 == 31 ? POLLPRI : 0));

		p[i] = (struct evl_xbuf_pollfd){ xb, ev, (short)0x55 };	/* revents garbage: must be reset */
		want[i] = 0;
		if (!xb || (ev & ~(POLLIN | POLLOUT))) {
			want[i] = POLLNVAL;
		} else {
			for (int k = 0; k < 2; k++) {
				int dir = k ? POLLOUT : POLLIN;

				if (!(ev & dir))
					continue;
				if (!m.r[dir == POLLIN ? XBUF_OUTBOUND : XBUF_INBOUND].cap)
					want[i] |= POLLNVAL;
				else {
					want[i] |= model_drv_ready(dir);
					dirs++;
				}
			}
		}
		ready += want[i] != 0;
	}
	if (!ready && dirs && next8() % 64 == 0)	/* rare: a sleep costs the run 1 ms */
		timeout = 1;
	got = evl_poll_xbuf(p, n, timeout);
	/*
	 * A signal during the 1 ms sleep: -EINTR, as xbuf.h says (libFuzzer's
	 * own SIGALRM, every 601 s of the run: the 10^7 run met it, an input
	 * alone never does). The claims were made before the sleep.
	 */
	if (timeout && got == -EINTR)
		got = 0;
	EXPECT(got, ready, "evl_poll_xbuf");
	for (int i = 0; i < n; i++)
		if (p[i].revents != want[i])
			FAILF("evl_poll_xbuf entry %d/%d (events %#x): revents %#x, model says %#x", i, n,
			      p[i].events, p[i].revents, want[i]);
	if (timeout)	/* it waited: it claimed every driver end it waited on */
		for (int i = 0; i < n; i++) {
			if (p[i].events & POLLIN)
				claim(&m.r[XBUF_OUTBOUND], 1);
			if (p[i].events & POLLOUT)
				claim(&m.r[XBUF_INBOUND], 0);
		}
}

/*
 * xbuf_gc() and xbuf_reclaim(): never a live name, and no litter: every
 * holder of ours closed cleanly, so our name is never stale (reclaim 0,
 * whether the element lives or not). gc may remove other processes' stale
 * names (>= 0); op_app_open checks ours is still openable after.
 */
static void op_gc(void)
{
	if (next8() % 64 == 0) {	/* rare: a scan of /dev/shm costs the run more than many ops */
		int r = xbuf_gc();

		if (r < 0)
			FAILF("xbuf_gc: %d", r);
	}
	EXPECT(xbuf_reclaim(m.name), 0, "xbuf_reclaim of our name");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned serial;
	static int trace = -1;
	int fd;

	if (trace < 0)
		trace = getenv("FUZZ_TRACE") != NULL;

	if (size < 3)
		return 0;
	in = data;
	end = data + size;
	memset(&m, 0, sizeof(m));
	m.r[XBUF_INBOUND].cap = caps[next8() % 8];
	m.r[XBUF_OUTBOUND].cap = caps[next8() % 8];
	if (!m.r[0].cap && !m.r[1].cap)
		return 0;
	m.public = next8() & 1;
	for (int ri = 0; ri < 2; ri++) {
		m.r[ri].borrow = -1;
		m.r[ri].salt = (uint8_t)(ri + 1);
	}
	snprintf(m.name, sizeof(m.name), "/xbfz.%d.%u", getpid(), serial++);
	/* one name space for private and public names (issue 9): unique either way */
	fd = xbuf_create(m.r[0].cap, m.r[1].cap, XBUF_CLONE_USER, "%s", m.public ? m.name : m.name + 1);
	if (fd < 0) {
		fprintf(stderr, "xbuf_create: %d\n", fd);
		abort();
	}
	for (int i = 0; i < MAXFD; i++)
		m.fd[i] = -1;
	m.fd[0] = fd;
	m.creator = 0;
	m.app_refs = 1;
	m.closed_fd = -1;

	for (opno = 0; more(); opno++) {
		unsigned op = next8() % 19;

		if (trace)	/* FUZZ_TRACE=1: the program and the model's state before each op */
			fprintf(stderr, "op %d: %u  in %llu/%llu own %d%d  out %llu/%llu own %d%d  app %d drv %d%s\n",
				opno, op, (unsigned long long)m.r[0].prod, (unsigned long long)m.r[0].cons,
				m.r[0].own[0], m.r[0].own[1], (unsigned long long)m.r[1].prod,
				(unsigned long long)m.r[1].cons, m.r[1].own[0], m.r[1].own[1], m.app_refs,
				m.drv_refs, m.creator_gone ? " creator gone" : "");
		switch (op) {
		case 0: case 1: op_app_read_begin(); break;
		case 2: op_app_read_end(); break;
		case 3: case 4: op_app_write_begin(); break;
		case 5: op_app_write_end(); break;
		case 6: op_app_copy(true); break;
		case 7: op_app_copy(false); break;
		case 8: op_poll(); break;
		case 9: case 10: op_drv_copy(false); break;
		case 11: op_drv_copy(true); break;
		case 12: op_drv_get(); break;
		case 13: op_drv_put(); break;
		case 14: if (next8() & 1) op_app_open(); else op_app_close(); break;
		case 15: if (next8() & 1) op_nonblock(); else op_closed_fd(); break;
		case 16: op_drv_shutdown(); break;
		case 17: op_drv_poll(); break;
		default: op_gc(); break;
		}
		check_levels();
	}

	/* Tear down: borrows returned, every handle closed (ASan checks for leaks). */
	if (m.r[XBUF_INBOUND].borrow >= 0 || m.r[XBUF_OUTBOUND].borrow >= 0) {
		int s = any_fd();

		if (m.r[XBUF_INBOUND].borrow >= 0)
			EXPECT(xbuf_read_end(m.fd[s], 0), 0, "final xbuf_read_end");
		if (m.r[XBUF_OUTBOUND].borrow >= 0)
			EXPECT(xbuf_write_end(m.fd[s], 0), 0, "final xbuf_write_end");
	}
	for (int d = 0; d < MAXDRV; d++)
		if (m.drv[d])
			evl_put_xbuf(m.drv[d]);
	for (int i = 0; i < MAXFD; i++)
		if (m.fd[i] >= 0)
			EXPECT(xbuf_close(m.fd[i]), 0, "final xbuf_close");
	return 0;
}
