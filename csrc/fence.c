// SPDX-License-Identifier: MIT
/*
 * fence.c - K1's asymmetric form (xbuf/abi.h, docs/ABI.md "The wake-up
 * handshake"): the full barrier a commit needs between storing its
 * position and loading the peer's `waiters` moves to the rare side, the
 * sleeper, as membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED).
 *
 * Why: on x86 a seq_cst store is an xchg, and it waits for the store
 * buffer to drain and for the cache line, which the peer is reading, to
 * come back exclusive: about 25 ns per message of the 35 a library commit
 * cost on the 2-core machines of BENCHMARKS.md, against 9 ns for a bare
 * ring's release store. A sleeper already pays a futex wait of tens of
 * microseconds; membarrier() adds one IPI round (~0.4 us idle, ~9 us
 * against a busy registered peer on those machines) once per sleep.
 *
 * Who may commit light: a process registered for GLOBAL_EXPEDITED (it is
 * then among those the sleeper's membarrier() interrupts), against an end
 * whose `fence` word says its sleepers fence. Its claimer stores that word
 * (user.c), so a kernel element's driver page (the kernel's sleepers
 * fence with smp_mb() alone) keeps 0 and every commit there stays full.
 * XBUF_FENCE=full in the environment turns the light form off in this
 * process (it neither commits light nor announces a fence), and the
 * biased end locks below with it.
 *
 * The same trick inside a process (MEMBARRIER_CMD_PRIVATE_EXPEDITED) is
 * what lets an end's lock be biased to one thread (ring.c, end_lock()):
 * the thread that revokes the bias fences for the biased one.
 */
#define _GNU_SOURCE
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "internal.h"

enum { FENCE_UNKNOWN, FENCE_NONE, FENCE_ASYM };

static int state = FENCE_UNKNOWN;	/* this process: FENCE_ASYM once registered */
static int private_state = FENCE_UNKNOWN;	/* the same, for MEMBARRIER_CMD_PRIVATE_EXPEDITED */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

static int membarrier(int cmd)
{
	return (int)syscall(__NR_membarrier, cmd, 0, 0);
}

/* Is command cmd there, and does registering with reg take? */
static int probe(int cmd, int reg)
{
	const char *env = getenv("XBUF_FENCE");
	int cmds;

	if (env && !strcmp(env, "full"))
		return FENCE_NONE;
	cmds = membarrier(MEMBARRIER_CMD_QUERY);
	if (cmds < 0 || !(cmds & cmd) || !(cmds & reg))
		return FENCE_NONE;
	/* Idempotent; after it, the command's barrier reaches our threads. */
	return membarrier(reg) ? FENCE_NONE : FENCE_ASYM;
}

static bool decide(int *word, int cmd, int reg)
{
	int s = __atomic_load_n(word, __ATOMIC_ACQUIRE);

	if (s != FENCE_UNKNOWN)
		return s == FENCE_ASYM;
	pthread_mutex_lock(&init_lock);
	s = *word;
	if (s == FENCE_UNKNOWN) {
		s = probe(cmd, reg);
		__atomic_store_n(word, s, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&init_lock);
	return s == FENCE_ASYM;
}

/*
 * Can this process take part in the asymmetric form: its sleepers fence
 * after W1, its commits go light? Decided once (a claim asks first).
 */
bool xb_fence_ready(void)
{
	return decide(&state, MEMBARRIER_CMD_GLOBAL_EXPEDITED, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
}

/* May this process's end locks be biased (ring.c)? Decided once. */
bool xb_fence_private_ready(void)
{
	return decide(&private_state, MEMBARRIER_CMD_PRIVATE_EXPEDITED,
		      MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED);
}

/* A bias's revoker: a full barrier in every running thread of this process. */
void xb_fence_private(void)
{
	if (!membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		return;
	/* A fork child: registration belongs to the address space. Register, then again. */
	if (!membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) && !membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		return;
	membarrier(MEMBARRIER_CMD_GLOBAL);	/* refused all the same: the slow, sure one */
}

/* A commit's question: registered? (Never decides: a claim came first.) */
bool xb_fence_light(void)
{
	return __atomic_load_n(&state, __ATOMIC_RELAXED) == FENCE_ASYM;
}

/*
 * The sleeper's half, after its W1 increment: a full barrier in every
 * registered process's running threads (and ours). Should the kernel
 * refuse it after the probe said yes, MEMBARRIER_CMD_GLOBAL gives the same
 * guarantee to every process, in milliseconds: never a lost wake-up.
 */
void xb_fence_heavy(void)
{
	/* The system call orders our own accesses too: it starts and ends with smp_mb(). */
	if (membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED))
		membarrier(MEMBARRIER_CMD_GLOBAL);
}

/* After fork(): registration belongs to an address space; the child asks again. */
static void atfork_child(void)
{
	pthread_mutex_init(&init_lock, NULL);
	state = FENCE_UNKNOWN;
	private_state = FENCE_UNKNOWN;
}

__attribute__((constructor)) static void fence_init(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}
