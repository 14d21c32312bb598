/* SPDX-License-Identifier: MIT */
/*
 * xbuf/latmus.h - the user-space latmus driver of libxbuf: a thread that
 * measures the wake-up latency of a periodic timer (clock_nanosleep,
 * TIMER_ABSTIME, CLOCK_MONOTONIC) and sends one struct xbuf_latmus_record
 * per reporting interval into a cross-buffer's inbound ring, with the
 * driver API only (evl_get_xbuf, evl_write_xbuf with O_NONBLOCK). The same
 * records, byte for byte, as the kernel companion (kmod/latmus.c).
 *
 *   latency  = actual wake-up time - expected wake-up time, ns
 *   overrun  = a period whose wake-up was missed altogether: the sampler
 *              woke more than a period late and skips to the next period
 *              still ahead (as hrtimer_forward() does)
 *   a record covers samples + overruns periods; it is sent once the
 *   interval's periods (interval_us / period_us) are covered, the first
 *   one counting from the start call
 *
 * Every call returns 0 or a negative errno value.
 */
#ifndef XBUF_LATMUS_H
#define XBUF_LATMUS_H

#include "xbuf.h"
#include "xbuf/kernel.h"	/* struct xbuf_latmus_record and its accumulator: the wire format */

#ifdef __cplusplus
extern "C" {
#endif

/* info.policy of a kernel session: the companion's hrtimer, in hard IRQ. */
#define XBUF_LATMUS_POLICY_KERNEL	(-1)

/* Longest period: a stop request waits for the sampler's current sleep. */
#define XBUF_LATMUS_MAX_PERIOD_US	1000000u

struct xbuf_latmus;

struct xbuf_latmus_info {
	unsigned long long records;	/* records written into the ring */
	unsigned long long dropped;	/* records that did not fit (EAGAIN), not written */
	unsigned long long samples;	/* wake-ups measured */
	unsigned long long overruns;	/* periods missed */
	unsigned int period_us;
	unsigned int interval_us;	/* as applied: a whole number of periods */
	int policy;			/* what the sampler got: SCHED_FIFO or SCHED_OTHER */
	int priority;			/* its SCHED_FIFO priority, 0 under SCHED_OTHER */
	int cpu;			/* the CPU it is pinned to, -1 if not pinned */
	int error;			/* 0, or the -errno that ended the sampler early */
	int running;			/* 1 until the sampler thread has returned */
	int reserved;
};

/*
 * Start sampling into the element efd of the calling process (a driver
 * reference is taken: the application may close efd meanwhile).
 * On a kernel element (xbuf_backend(efd) == XBUF_BACKEND_KERNEL) the
 * sampler is the kernel companion, xbuf_latmus.ko, started through
 * /dev/xbuf/latmus: its hrtimer writes the same records from hard IRQ;
 * cpu and priority do not apply, info.policy is XBUF_LATMUS_POLICY_KERNEL,
 * info.overruns stays 0 (each record carries its own), and -ENODEV means
 * the companion module is not loaded.
 * priority 1..99 asks for SCHED_FIFO and falls back to SCHED_OTHER
 * silently when the process may not use it (info.policy says which);
 * priority 0 asks for SCHED_OTHER. cpu >= 0 pins the sampler, -1 does not.
 * Returns 0 and the session in *out, or -EINVAL (period 0 or above
 * XBUF_LATMUS_MAX_PERIOD_US, interval < period, priority above 99, cpu
 * outside the process's affinity mask), -EBADF (efd is no element),
 * -ENOMEM, -EAGAIN (no thread).
 */
int xbuf_latmus_start(int efd, unsigned int period_us, unsigned int interval_us,
		      int cpu, int priority, struct xbuf_latmus **out);

/*
 * The framed session (EVL's latmus as a whole): what xbuf_latmus_start()
 * does, but the ring carries the frames of xbuf/kernel.h (INTERVAL, HIST,
 * SAMPLES, END) instead of bare records: the per-sample histogram, the raw
 * samples if asked, and an END frame once everything went through.
 *
 *   context   XBUF_LATMUS_CTX_USER: this library's thread, on a user-space
 *             element; XBUF_LATMUS_CTX_IRQ or _KTHREAD: the kernel
 *             companion (its hrtimer handler, or its kernel thread woken
 *             by a timer), on a kernel element. Otherwise -EINVAL.
 *   hcells    histogram cells of 1 us, 1..XBUF_LATMUS_HCELLS_MAX; 0: no HIST
 *   flags     XBUF_LATMUS_SAMPLES: stream every raw sample
 *   periods   stop by itself (and finish) after that many periods; 0: never
 *   fake_ns   deterministic mode (tests): sample i measures fake_ns[i %
 *             fake_count] ns instead of the clock (the sleeps still happen);
 *             fake_count <= XBUF_LATMUS_FAKE_MAX, 0: the clock
 * The inbound ring must hold XBUF_LATMUS_FRAME_MAX bytes (-EINVAL).
 */
struct xbuf_latmus_params {
	unsigned int period_us;
	unsigned int interval_us;
	int cpu;			/* -1: not pinned */
	int priority;			/* 0: SCHED_OTHER; 1..99 SCHED_FIFO if allowed */
	unsigned int context;		/* XBUF_LATMUS_CTX_* */
	unsigned int hcells;
	unsigned int flags;		/* XBUF_LATMUS_SAMPLES */
	unsigned int fake_count;
	unsigned long long periods;
	const unsigned int *fake_ns;
};

int xbuf_latmus_run(int efd, const struct xbuf_latmus_params *params, struct xbuf_latmus **out);

/*
 * Stop sampling, then send the last partial interval, the pending
 * histogram counts, every staged sample and END, waiting for room as
 * needed (the reader drains meanwhile), and end the sampler
 * (info.running drops to 0). Returns at once; xbuf_latmus_stop() after END
 * has been read. On a session of xbuf_latmus_start(): a plain stop request.
 */
int xbuf_latmus_finish(struct xbuf_latmus *lm);

/* Counters and settings of a session, at any time from any thread. */
int xbuf_latmus_info(struct xbuf_latmus *lm, struct xbuf_latmus_info *info);

/*
 * Stop the sampler (within one period: it finishes its current sleep and
 * sends no partial record), drop the driver reference and free the
 * session. The final counters go to *last when not NULL. No record is
 * written into the ring after this returns. Once the sampler has tried to
 * send a record (records + dropped > 0) it holds the ring's producer end,
 * and dropping it tells the application's readers the producer is gone
 * (EPIPE once the ring is drained); before that, there is nothing to drain.
 */
int xbuf_latmus_stop(struct xbuf_latmus *lm, struct xbuf_latmus_info *last);

#ifdef __cplusplus
}
#endif

#endif /* XBUF_LATMUS_H */
