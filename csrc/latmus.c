// SPDX-License-Identifier: MIT
/*
 * latmus.c - the user-space latmus driver: a sampler thread measuring the
 * wake-up latency of a periodic absolute timer, sending one record per
 * reporting interval through a cross-buffer with EVL's driver API only,
 * as kmod/latmus.c does from an hrtimer. See xbuf/latmus.h. Both samplers
 * accumulate with xbuf_latmus_acc_*() (xbuf/kernel.h): one record rule.
 *
 * The sampler never blocks on the ring: a record that does not fit is
 * dropped and counted (O_NONBLOCK), so a slow reader cannot disturb the
 * timing being measured. A framed session (xbuf_latmus_run) also sends the
 * per-sample histogram and the raw samples, which are never dropped: they
 * wait in the sampler until they fit (xbuf_latmus_out_* of xbuf/kernel.h,
 * the module's emitter too).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "xbuf/latmus.h"
#define XBUF_LATMUS_EMITTER	/* the framed emitter of xbuf/kernel.h, the module's too */
#include "xbuf/kernel.h"

#define NSEC_PER_SEC	1000000000LL
#define NSEC_PER_USEC	1000LL

/* Raw samples the user sampler can hold while the ring is full: 1.3 s at 10 us. */
#define XB_LATMUS_STAGE		(1u << 17)

struct xbuf_latmus {
	int kfd;			/* kernel session: /dev/xbuf/latmus; -1: our thread */
	pthread_t thread;
	struct evl_xbuf *xbuf;
	struct evl_file *efile;
	int64_t period_ns;
	uint32_t per_interval;		/* periods covered by one record */
	unsigned int period_us, interval_us;
	int policy, priority, cpu;
	uint64_t periods;		/* stop after that many; 0: never */
	unsigned int *fake;		/* deterministic mode: a copy of the table */
	unsigned int fake_count;
	struct xbuf_latmus_out out;	/* the sampler thread's only */
	/* Written by the sampler, read by anyone: atomics. */
	int stop;			/* at once, nothing more is sent */
	int finish;			/* stop sampling, send what is pending and END */
	int running;
	int error;
	uint64_t records, dropped, samples, overruns;
};

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * NSEC_PER_SEC + ts->tv_nsec;
}

static struct timespec ns_ts(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / NSEC_PER_SEC, .tv_nsec = ns % NSEC_PER_SEC };

	return ts;
}

/* What the sampler counted, for xbuf_latmus_info() from any thread. */
static void publish(struct xbuf_latmus *lm)
{
	__atomic_store_n(&lm->records, lm->out.records, __ATOMIC_RELAXED);
	__atomic_store_n(&lm->dropped, lm->out.dropped, __ATOMIC_RELAXED);
	__atomic_store_n(&lm->samples, lm->out.samples, __ATOMIC_RELAXED);
	__atomic_store_n(&lm->overruns, lm->out.overruns, __ATOMIC_RELAXED);
}


/*
 * The sampler stops on its own (its run done, END written, or an error):
 * it ends its stream, so the reader drains what it wrote, then EPIPE,
 * and no reader waits for a sampler that is gone (xbuf_latmus_stop()
 * ends it too, for a stop from outside).
 */
static void *sampler_done(struct xbuf_latmus *lm, int err)
{
	if (err)
		__atomic_store_n(&lm->error, err, __ATOMIC_RELAXED);
	__atomic_store_n(&lm->running, 0, __ATOMIC_RELEASE);
	evl_shutdown_xbuf(lm->xbuf);
	return NULL;
}
static void *latmus_sampler(void *arg)
{
	struct xbuf_latmus *lm = arg;
	struct xbuf_latmus_out *o = &lm->out;
	struct timespec now, next_ts;
	uint64_t done = 0;
	int64_t next;
	int err = 0, ret;

	/*
	 * Pinned by the thread itself, before its first sample: musl has no
	 * pthread_attr_setaffinity_np(), and this way no sample is taken on
	 * another CPU. cpu_allowed() checked the CPU at start.
	 */
	if (lm->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(lm->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			return sampler_done(lm, -errno);
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	next = ts_ns(&now) + lm->period_ns;	/* the first interval counts from here */

	while (!__atomic_load_n(&lm->stop, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&lm->finish, __ATOMIC_ACQUIRE) &&
	       !(lm->periods && done >= lm->periods)) {
		int64_t lat, missed;

		next_ts = ns_ts(next);
		ret = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next_ts, NULL);
		if (ret == EINTR)
			continue;	/* a signal handler ran: the deadline still stands */
		if (ret) {
			err = -ret;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);

		/* Never negative: an absolute sleep does not return early. */
		lat = ts_ns(&now) - next;
		if (lm->fake_count)
			lat = lm->fake[o->samples % lm->fake_count];
		missed = lat / lm->period_ns;
		next += (missed + 1) * lm->period_ns;
		done += (uint64_t)missed + 1;

		/*
		 * The shared rule (xbuf/kernel.h): the latency saturates at s32,
		 * missed periods go to the record being filled even past the
		 * interval's end, the record is due once samples + overruns
		 * cover it; the histogram and the raw samples are never dropped.
		 */
		ret = xbuf_latmus_out_sample(o, lat, (uint64_t)missed);
		publish(lm);
		if (ret < 0)	/* frames are written whole or not at all: anything else is fatal */
			return sampler_done(lm, ret);
	}
	if (err)
		__atomic_store_n(&lm->error, err, __ATOMIC_RELAXED);
	/* The end: wait for room as long as the reader drains, unless stopped. */
	while (!__atomic_load_n(&lm->stop, __ATOMIC_ACQUIRE)) {
		struct timespec ms = { 0, 1000000 };

		ret = xbuf_latmus_out_finish(o, err);
		if (ret) {
			if (ret < 0)
				__atomic_store_n(&lm->error, ret, __ATOMIC_RELAXED);
			break;
		}
		nanosleep(&ms, NULL);
	}
	publish(lm);
	return sampler_done(lm, 0);
}

/* Is cpu one the process may run on? pthread_create() would say EINVAL late. */
static bool cpu_allowed(int cpu)
{
	cpu_set_t set;

	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return false;
	if (sched_getaffinity(0, sizeof(set), &set))
		return false;
	return CPU_ISSET(cpu, &set);
}

/*
 * Start the sampler thread, under SCHED_FIFO at `priority` if asked and
 * allowed, else under the default policy.
 */
static int latmus_spawn(struct xbuf_latmus *lm)
{
	struct sched_param param = { .sched_priority = lm->priority };
	pthread_attr_t attr;
	int ret, policy;

	ret = pthread_attr_init(&attr);
	if (ret)
		return -ret;
	if (lm->priority > 0) {
		pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
		pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
		pthread_attr_setschedparam(&attr, &param);
		ret = pthread_create(&lm->thread, &attr, latmus_sampler, lm);
		if (ret != EPERM)
			goto started;
		/* No CAP_SYS_NICE nor RLIMIT_RTPRIO: measure what we can. */
		pthread_attr_setinheritsched(&attr, PTHREAD_INHERIT_SCHED);
	}
	ret = pthread_create(&lm->thread, &attr, latmus_sampler, lm);
started:
	if (ret)
		goto out;
	pthread_setname_np(lm->thread, "xbuf-latmus");
	/* Report what the thread actually runs under, not what was asked. */
	if (pthread_getschedparam(lm->thread, &policy, &param) == 0) {
		lm->policy = policy;
		lm->priority = policy == SCHED_FIFO || policy == SCHED_RR ? param.sched_priority : 0;
	}
out:
	pthread_attr_destroy(&attr);
	return -ret;
}

/* A kernel element: the companion module samples; we only start it. */
static int latmus_start_kernel(struct xbuf_latmus *lm, int efd, const struct xbuf_latmus_params *p)
{
	int ret;

	lm->kfd = open(XBUF_KDEV_LATMUS, O_RDWR | O_CLOEXEC);
	if (lm->kfd < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	if (!p) {
		struct xbuf_latmus_req req = {
			.xbuf_fd = efd,
			.period_us = lm->period_us,
			.interval_us = lm->interval_us,
		};

		ret = ioctl(lm->kfd, XBUF_LATMUS_IOC_START, &req);
	} else {
		struct xbuf_latmus_setup setup = {
			.xbuf_fd = efd,
			.period_us = p->period_us,
			.interval_us = p->interval_us,
			.context = p->context,
			.cpu = p->cpu,
			.priority = (uint32_t)p->priority,
			.hcells = p->hcells,
			.flags = p->flags,
			.periods = p->periods,
			.fake_ptr = (uint64_t)(uintptr_t)p->fake_ns,
			.fake_count = p->fake_count,
		};

		ret = ioctl(lm->kfd, XBUF_LATMUS_IOC_SETUP, &setup);
	}
	if (ret < 0) {
		ret = errno == ENOTTY ? -EOPNOTSUPP : -errno;	/* a module without SETUP */
		close(lm->kfd);
		return ret;
	}
	lm->policy = XBUF_LATMUS_POLICY_KERNEL;
	lm->priority = p && p->context == XBUF_LATMUS_CTX_KTHREAD ? 50 : 0;	/* sched_set_fifo(): MAX_RT_PRIO / 2 */
	if (!p || p->context == XBUF_LATMUS_CTX_IRQ)
		lm->cpu = p ? p->cpu : -1;
	return 0;
}

static void latmus_free(struct xbuf_latmus *lm)
{
	free(lm->out.hist);
	free(lm->out.stage);
	free(lm->out.frame);
	free(lm->fake);
	free(lm);
}

static int latmus_new(int efd, const struct xbuf_latmus_params *p, struct xbuf_latmus **out)
{
	bool kernel = xbuf_backend(efd) == XBUF_BACKEND_KERNEL;
	struct xbuf_latmus *lm;
	int ret;

	if (!out || !p->period_us || p->period_us > XBUF_LATMUS_MAX_PERIOD_US ||
	    p->interval_us < p->period_us || p->priority < 0 || p->priority > 99 ||
	    p->hcells > XBUF_LATMUS_HCELLS_MAX || p->fake_count > XBUF_LATMUS_FAKE_MAX ||
	    (p->fake_count && !p->fake_ns) || (p->flags & ~XBUF_LATMUS_SAMPLES) ||
	    p->context > XBUF_LATMUS_CTX_KTHREAD)
		return -EINVAL;
	if (p->cpu != -1 && !cpu_allowed(p->cpu))
		return -EINVAL;

	lm = calloc(1, sizeof(*lm));
	if (!lm)
		return -ENOMEM;
	lm->period_us = p->period_us;
	lm->period_ns = (int64_t)p->period_us * NSEC_PER_USEC;
	lm->per_interval = p->interval_us / p->period_us;
	lm->interval_us = lm->per_interval * p->period_us;
	lm->cpu = p->cpu;
	lm->priority = p->priority;
	lm->policy = SCHED_OTHER;
	lm->periods = p->periods;
	lm->running = 1;
	lm->kfd = -1;
	*out = lm;
	if (kernel)
		return 0;

	lm->out.per_interval = lm->per_interval;
	lm->out.hcells = p->hcells;
	lm->out.frame = malloc(XBUF_LATMUS_FRAME_MAX);
	ret = -ENOMEM;
	if (!lm->out.frame)
		goto fail;
	if (p->hcells && !(lm->out.hist = calloc(p->hcells + 1, sizeof(uint32_t))))
		goto fail;
	if (p->flags & XBUF_LATMUS_SAMPLES) {
		lm->out.stage = malloc(XB_LATMUS_STAGE * sizeof(uint32_t));
		if (!lm->out.stage)
			goto fail;
		lm->out.stage_cap = XB_LATMUS_STAGE;
	}
	if (p->fake_count) {
		lm->fake = malloc(p->fake_count * sizeof(unsigned int));
		if (!lm->fake)
			goto fail;
		memcpy(lm->fake, p->fake_ns, p->fake_count * sizeof(unsigned int));
		lm->fake_count = p->fake_count;
	}
	return 0;
fail:
	latmus_free(lm);
	*out = NULL;
	return ret;
}

/* The user-space thread on a user-space element (framed: the frames of a run). */
static int latmus_start_user(struct xbuf_latmus *lm, int efd, bool framed)
{
	int ret;

	lm->xbuf = evl_get_xbuf(efd, &lm->efile);
	if (!lm->xbuf)
		return -EBADF;
	lm->out.xbuf = lm->xbuf;
	lm->out.framed = framed;
	xbuf_latmus_out_init(&lm->out);
	ret = latmus_spawn(lm);
	if (ret)
		evl_put_xbuf(lm->efile);
	return ret;
}

int xbuf_latmus_start(int efd, unsigned int period_us, unsigned int interval_us,
		      int cpu, int priority, struct xbuf_latmus **out)
{
	struct xbuf_latmus_params p = {
		.period_us = period_us, .interval_us = interval_us, .cpu = cpu, .priority = priority,
	};
	struct xbuf_latmus *lm;
	int ret;

	ret = latmus_new(efd, &p, &lm);
	if (ret)
		return ret;
	if (xbuf_backend(efd) == XBUF_BACKEND_KERNEL)
		ret = latmus_start_kernel(lm, efd, NULL);
	else
		ret = latmus_start_user(lm, efd, false);
	if (ret) {
		latmus_free(lm);
		return ret;
	}
	*out = lm;
	return 0;
}

int xbuf_latmus_run(int efd, const struct xbuf_latmus_params *p, struct xbuf_latmus **out)
{
	struct xbuf_latmus *lm;
	bool kernel;
	int ret;

	if (!p || !out)
		return -EINVAL;
	kernel = xbuf_backend(efd) == XBUF_BACKEND_KERNEL;
	{
		struct xbuf_rings r;

		ret = xbuf_rings(efd, &r);
		if (ret)
			return ret;
		if (r.isize < XBUF_LATMUS_FRAME_MAX)
			return -EINVAL;		/* the largest frame must fit */
	}
	if (kernel != (p->context != XBUF_LATMUS_CTX_USER))
		return xbuf_backend(efd) < 0 ? -EBADF : -EINVAL;	/* the context picks the backend */
	ret = latmus_new(efd, p, &lm);
	if (ret)
		return ret;
	ret = kernel ? latmus_start_kernel(lm, efd, p) : latmus_start_user(lm, efd, true);
	if (ret) {
		latmus_free(lm);
		return ret;
	}
	*out = lm;
	return 0;
}

int xbuf_latmus_finish(struct xbuf_latmus *lm)
{
	if (!lm)
		return -EINVAL;
	if (lm->kfd >= 0)
		return ioctl(lm->kfd, XBUF_LATMUS_IOC_FINISH) < 0 ? -errno : 0;
	__atomic_store_n(&lm->finish, 1, __ATOMIC_RELEASE);
	return 0;
}

int xbuf_latmus_info(struct xbuf_latmus *lm, struct xbuf_latmus_info *info)
{
	if (!lm || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	if (lm->kfd >= 0) {
		struct xbuf_latmus_stats ks;

		if (ioctl(lm->kfd, XBUF_LATMUS_IOC_STATS, &ks) == 0) {
			__atomic_store_n(&lm->records, ks.records, __ATOMIC_RELAXED);
			__atomic_store_n(&lm->dropped, ks.dropped, __ATOMIC_RELAXED);
			__atomic_store_n(&lm->samples, ks.samples, __ATOMIC_RELAXED);
			__atomic_store_n(&lm->running, (int)ks.running, __ATOMIC_RELEASE);
		}
	}
	info->records = __atomic_load_n(&lm->records, __ATOMIC_RELAXED);
	info->dropped = __atomic_load_n(&lm->dropped, __ATOMIC_RELAXED);
	info->samples = __atomic_load_n(&lm->samples, __ATOMIC_RELAXED);
	info->overruns = __atomic_load_n(&lm->overruns, __ATOMIC_RELAXED);
	info->period_us = lm->period_us;
	info->interval_us = lm->interval_us;
	info->policy = lm->policy;
	info->priority = lm->priority;
	info->cpu = lm->cpu;
	info->error = __atomic_load_n(&lm->error, __ATOMIC_RELAXED);
	info->running = __atomic_load_n(&lm->running, __ATOMIC_ACQUIRE);
	return 0;
}

int xbuf_latmus_stop(struct xbuf_latmus *lm, struct xbuf_latmus_info *last)
{
	int ret;

	if (!lm)
		return -EINVAL;
	if (lm->kfd >= 0) {
		/* After STOP the companion writes nothing more: the counters are final. */
		if (ioctl(lm->kfd, XBUF_LATMUS_IOC_STOP) < 0)
			return -errno;
		xbuf_latmus_info(lm, last ? last : &(struct xbuf_latmus_info){ 0 });
		if (last)
			last->running = 0;
		close(lm->kfd);
		latmus_free(lm);
		return 0;
	}
	__atomic_store_n(&lm->stop, 1, __ATOMIC_RELEASE);
	ret = pthread_join(lm->thread, NULL);
	if (ret)
		return -ret;	/* the session stays valid: nothing was torn down */
	/*
	 * The sampler is gone: no evl_write_xbuf() can race the put. The
	 * run is over: end the stream, so the reader drains and sees EPIPE
	 * (the put alone ends nothing, as in EVL).
	 */
	evl_shutdown_xbuf(lm->xbuf);
	evl_put_xbuf(lm->efile);
	if (last)
		xbuf_latmus_info(lm, last);
	latmus_free(lm);
	return 0;
}
