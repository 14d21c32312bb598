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
 * timing being measured.
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

#define NSEC_PER_SEC	1000000000LL
#define NSEC_PER_USEC	1000LL

struct xbuf_latmus {
	int kfd;			/* kernel session: /dev/xbuf/latmus; -1: our thread */
	pthread_t thread;
	struct evl_xbuf *xbuf;
	struct evl_file *efile;
	int64_t period_ns;
	uint32_t per_interval;		/* periods covered by one record */
	unsigned int period_us, interval_us;
	int policy, priority, cpu;
	/* Written by the sampler, read by anyone: atomics. */
	int stop;
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

static void count(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/* Send the interval's record; false when the ring is unusable (error set). */
static bool latmus_emit(struct xbuf_latmus *lm, struct xbuf_latmus_acc *a)
{
	struct xbuf_latmus_record rec;
	ssize_t ret;

	xbuf_latmus_acc_record(a, &rec);
	ret = evl_write_xbuf(lm->xbuf, &rec, sizeof(rec), O_NONBLOCK);
	xbuf_latmus_acc_reset(a);
	if (ret == (ssize_t)sizeof(rec)) {
		count(&lm->records, 1);
		return true;
	}
	if (ret == -EAGAIN) {
		/* The reader is behind: losing a record beats stalling the timer. */
		count(&lm->dropped, 1);
		return true;
	}
	/* Records are written whole or not at all: anything else is fatal. */
	__atomic_store_n(&lm->error, ret < 0 ? (int)ret : -EIO, __ATOMIC_RELAXED);
	return false;
}

static void *latmus_sampler(void *arg)
{
	struct xbuf_latmus *lm = arg;
	struct xbuf_latmus_acc acc;
	struct timespec now, next_ts;
	int64_t next;

	/*
	 * Pinned by the thread itself, before its first sample: musl has no
	 * pthread_attr_setaffinity_np(), and this way no sample is taken on
	 * another CPU. cpu_allowed() checked the CPU at start.
	 */
	if (lm->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(lm->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			__atomic_store_n(&lm->error, -errno, __ATOMIC_RELAXED);
			__atomic_store_n(&lm->running, 0, __ATOMIC_RELEASE);
			return NULL;
		}
	}
	xbuf_latmus_acc_reset(&acc);
	clock_gettime(CLOCK_MONOTONIC, &now);
	next = ts_ns(&now) + lm->period_ns;	/* the first interval counts from here */

	while (!__atomic_load_n(&lm->stop, __ATOMIC_ACQUIRE)) {
		int64_t lat, missed;
		int ret;

		next_ts = ns_ts(next);
		ret = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next_ts, NULL);
		if (ret == EINTR)
			continue;	/* a signal handler ran: the deadline still stands */
		if (ret) {
			__atomic_store_n(&lm->error, -ret, __ATOMIC_RELAXED);
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);

		/* Never negative: an absolute sleep does not return early. */
		lat = ts_ns(&now) - next;
		missed = lat / lm->period_ns;
		next += (missed + 1) * lm->period_ns;

		count(&lm->samples, 1);
		count(&lm->overruns, (uint64_t)missed);

		/*
		 * The shared rule: the latency saturates at s32, missed periods
		 * go to the record being filled even past the interval's end,
		 * and the record is due once samples + overruns cover it.
		 */
		if (xbuf_latmus_acc_add(&acc, lat, (uint64_t)missed, lm->per_interval) &&
		    !latmus_emit(lm, &acc))
			break;
	}
	__atomic_store_n(&lm->running, 0, __ATOMIC_RELEASE);
	return NULL;
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
static int latmus_start_kernel(struct xbuf_latmus *lm, int efd)
{
	struct xbuf_latmus_req req = {
		.xbuf_fd = efd,
		.period_us = lm->period_us,
		.interval_us = lm->interval_us,
	};
	int ret;

	lm->kfd = open(XBUF_KDEV_LATMUS, O_RDWR | O_CLOEXEC);
	if (lm->kfd < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	if (ioctl(lm->kfd, XBUF_LATMUS_IOC_START, &req) < 0) {
		ret = -errno;
		close(lm->kfd);
		return ret;
	}
	lm->policy = XBUF_LATMUS_POLICY_KERNEL;
	lm->priority = 0;
	lm->cpu = -1;
	return 0;
}

int xbuf_latmus_start(int efd, unsigned int period_us, unsigned int interval_us,
		      int cpu, int priority, struct xbuf_latmus **out)
{
	struct xbuf_latmus *lm;
	int ret;

	if (!out || !period_us || period_us > XBUF_LATMUS_MAX_PERIOD_US ||
	    interval_us < period_us || priority < 0 || priority > 99)
		return -EINVAL;
	if (cpu != -1 && !cpu_allowed(cpu))
		return -EINVAL;

	lm = calloc(1, sizeof(*lm));
	if (!lm)
		return -ENOMEM;
	lm->period_us = period_us;
	lm->period_ns = (int64_t)period_us * NSEC_PER_USEC;
	lm->per_interval = interval_us / period_us;
	lm->interval_us = lm->per_interval * period_us;
	lm->cpu = cpu;
	lm->priority = priority;
	lm->policy = SCHED_OTHER;
	lm->running = 1;
	lm->kfd = -1;

	if (xbuf_backend(efd) == XBUF_BACKEND_KERNEL) {
		ret = latmus_start_kernel(lm, efd);
		if (ret)
			goto fail_free;
		*out = lm;
		return 0;
	}
	lm->xbuf = evl_get_xbuf(efd, &lm->efile);
	if (!lm->xbuf) {
		ret = -EBADF;
		goto fail_free;
	}
	ret = latmus_spawn(lm);
	if (ret)
		goto fail_put;

	*out = lm;
	return 0;

fail_put:
	evl_put_xbuf(lm->efile);
fail_free:
	free(lm);
	return ret;
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
		free(lm);
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
	free(lm);
	return 0;
}
