/*
 * fence.pml - the two asymmetric handshakes of csrc/fence.c, with the one
 * thing xbuf.pml leaves out on purpose: a store buffer. Checked by spin
 * (check.sh). Names are those of csrc/ring.c.
 *
 * The hardware model (x86-64's TSO, which is what lets a store and a later
 * load of another word trade places): each thread that stores without a
 * barrier has a one-entry store buffer. Its store goes into the buffer;
 * the buffer drains into memory at any later moment (the `drain` process),
 * and the thread's own later loads of other words read memory, so they can
 * pass the buffered store (StoreLoad reordering). A locked read-modify-
 * write (W1's waiters++) drains first and is atomic. membarrier() is
 * modelled by what the kernel guarantees: when it returns, every thread of
 * a registered process has executed a full barrier since the call began,
 * so the buffer of the light side is empty (drained inside the call).
 *
 * K1 (default): the waker (a light commit: xb_end_commit() with release
 * store, then the load of the peer's `waiters`) against a sleeper
 * (xb_begin(): waiter_enter()'s W1 increment, then xb_fence_heavy(), then
 * the peer's `seq`, then the look at `pos` (peer_look()), then the futex
 * sleep, which returns at once if `seq` moved; wake_peer()'s seq++ is a
 * locked read-modify-write with release, so it drains the waker's buffer
 * first). Checked: no lost wake-up
 * (a sleeper left asleep while the position it waits for is published is
 * an invalid end state).
 *
 * LOCK: the biased end lock (end_lock_as()): the biased thread stores
 * bias_in = 1 (no barrier), then loads bias_state; a revoker stores
 * BIAS_OFF (under the mutex; the system call that follows drains its own
 * store), calls xb_fence_private(), then waits for bias_in == 0. Checked:
 * never both inside.
 *
 * FULL: the waker's seq_cst store (the full form of K1), no buffer: what
 * a waker does against a sleeper that does not fence.
 * Mutation MUT_NOFENCE (check.sh expects an error): the sleeper, or the
 * revoker, skips its membarrier().
 */

#define BIAS_ON		1
#define BIAS_OFF	2

bit buffered;		/* the light side's store buffer holds a store */
byte buf_val;		/* ... of this value ... */
bit buf_is_pos;		/* ... into pos (K1) or into bias_in (LOCK) */

byte pos;		/* the waker's position (0: the sleeper's byte not there yet) */
byte waiters;		/* the sleeper's end: threads asleep */
byte seq;		/* the waker's end: the futex word the sleeper sleeps on */
bit woke;		/* the sleeper got its byte */

byte bias_in;
byte bias_state = BIAS_ON;
byte inside;		/* threads inside the end */

inline light_store(is_pos, v)
{
	atomic { buffered == 0 -> buf_is_pos = is_pos; buf_val = v; buffered = 1 }
}

inline drain_now()
{
	if
	:: buffered -> if :: buf_is_pos -> pos = buf_val :: else -> bias_in = buf_val fi; buffered = 0
	:: else -> skip
	fi
}

/* membarrier(): a full barrier on the light side's CPU before the call returns. */
inline membarrier()
{
#ifndef MUT_NOFENCE
	atomic { drain_now() }
#else
	skip
#endif
}

/* The store buffer drains on its own, at any moment (a valid end: blocked while empty). */
active proctype drain()
{
	end_drain:
	do
	:: atomic { buffered -> drain_now() }
	od
}

#ifndef LOCK

/* xb_end_commit() of one message, then K1. */
active proctype waker()
{
#ifdef FULL
	pos = 1;			/* seq_cst store: in memory before the next load */
#else
	light_store(1, 1);		/* release store: into the buffer */
#endif
	if
	:: waiters > 0 ->		/* K1 saw the sleeper: wake_peer() */
		atomic { drain_now(); seq++ }	/* seq++ (a locked RMW, release: after pos), FUTEX_WAKE */
	:: else -> skip
	fi
}

/* xb_begin() of a reader that finds nothing and sleeps. */
active proctype sleeper()
{
	byte val;

	waiters++;				/* W1: a locked increment, straight to memory */
#ifndef FULL
	membarrier();				/* xb_fence_heavy() */
#endif
	do
	:: val = seq;				/* on.val: the peer's seq before the look */
		if
		:: pos >= 1 -> break		/* settle_now() sees the byte */
		:: else ->
			/* user_sleep(): futex_waitv returns at once if seq moved, else sleeps until it does */
			(seq != val)
		fi
	od;
	waiters--;
	woke = 1
}

#else /* LOCK */

/* The biased thread: end_lock_as() on the bias, then end_unlock(). */
active proctype biased()
{
	light_store(0, 1);			/* bias_in = 1: a plain store */
	if
	:: bias_state == BIAS_ON ->		/* a compiler barrier, then the load of bias_state */
		inside++;
		assert(inside == 1);
		inside--;
		light_store(0, 0)		/* end_unlock(): bias_in = 0 (release) */
	:: else ->
		light_store(0, 0)		/* revoked meanwhile: out, to the mutex */
	fi
}

/* The revoker: end_lock_mutex() (it holds the mutex already). */
active proctype revoker()
{
	bias_state = BIAS_OFF;			/* then the system call, which drains our own store */
	membarrier();				/* xb_fence_private() */
	(bias_in == 0);				/* wait for the biased thread to leave (memory) */
	inside++;
	assert(inside == 1);
	inside--
}

#endif
