/*
 * xbuf.pml - a Promela model of one ring of a cross-buffer (user-space
 * backend), checked by spin (test/reliability/model/check.sh).
 *
 * What is modelled, with the names csrc/ring.c and csrc/user.c use:
 *   - prod_pos / cons_pos: xbuf_shm_endpoint.pos of the producer and the
 *     consumer end (free-running; fill = prod_pos - cons_pos <= CAP);
 *   - prod_seq / cons_seq, prod_waiters / cons_waiters, prod_wanted: the
 *     endpoints' seq, waiters and wanted words;
 *   - plock / clock: each end's process-local mutex (struct xb_end.lock);
 *   - xb_begin()'s loop: wait_token, the peer's seq loaded before the
 *     look at the ring (W1), settle_now() (writable_now / readable_now with
 *     xbuf_abi_writer_stuck(): the short-read rule), waiter_enter() /
 *     waiter_leave() (publish_wanted), user_sleep() (futex_waitv on the
 *     peer's seq and the process-local generation xb_local_gen), then
 *     xb_end_commit() (P1/C2 store of pos, then K1: the peer's waiters,
 *     seq++ and a wake);
 *   - peer departure (user_release(): owner = XBUF_OWNER_GONE, seq++, wake)
 *     and peer death (a SIGKILL at any step of the producer: the watcher of
 *     csrc/peer.c then bumps the consumer process's xb_local_gen), which
 *     peer_gone() reports: the consumer drains, then EPIPE; a producer
 *     without room gets EPIPE;
 *   - cancel: xbuf_close() of the consumer's handle (h->closed, then
 *     xb_local_wake()): its sleepers end with EBADF (user_sleep()).
 *   - SHUTDOWN: the producer is the driver process, with one writer thread
 *     (another's write already published: PRE) and a thread that ends the
 *     stream at any time, the writer's call in flight or not
 *     (evl_shutdown_xbuf(): end_lock(), user_shutdown(): claim_end() if
 *     unclaimed, claimed = false, let_go(): owner = XBUF_OWNER_GONE, seq++
 *     and a wake; both rings), then writes once more. A driver call that
 *     begins after the end (here: once the application saw it) claims the
 *     end again, user_claim(): claim_end() (the old owner's words reset,
 *     owner = pid, seq++ and a wake) and the other end revived (GONE -> 0):
 *     a new stream. The application reads what was published before the
 *     end, then EPIPE (settle_now(): ready_now() first, then peer_gone()),
 *     and reads on once the new stream began; an application writer on the
 *     outbound ring (full, no driver reader: it waits for room) fails with
 *     EPIPE at its first look after the end (settle_now(): the end before
 *     the room), and the end's wake ends its sleep.
 *
 * Memory is sequentially consistent here: the model checks the protocol's
 * logic (W1/K1 is Dekker's pattern and needs the seq_cst the C code uses),
 * not the compiler's or the CPU's ordering.
 *
 * Checked (spin -a, safety mode, invalid end states on):
 *   - no read of unpublished bytes: a consumer reads index i only if
 *     i < prod_pos, and finds the byte the producer wrote there;
 *   - no overwrite of unread bytes: a producer writes index i only if
 *     i - cons_pos < CAP;
 *   - exactly the published prefix before EPIPE; with SHUTDOWN, no EPIPE
 *     before every byte published before the end was read, every byte of
 *     both streams read, and the application writer ended by EPIPE;
 *   - no deadlock and no lost wake-up: every run ends with every thread
 *     at its end (a sleeper left asleep while it could go on, or two
 *     sides waiting for each other, is an invalid end state).
 *
 * Configurations (-D): none (the producer lets go when its writers are
 * done), KILL (it may also die at any step), CANCEL (the consumer's handle
 * may be closed), STAY (the producer stays: a read can only end by the
 * writers' wakes, so a lost wake-up is a sleeper left asleep for ever
 * rather than one the departure's wake hides).
 *
 * Mutations (-D on the spin command line, with STAY; check.sh expects each to fail):
 *   MUT_K1    the waker loads the peer's waiters before it stores pos
 *             (breaks W1/K1: a lost wake-up)
 *   MUT_W1    the sleeper loads the peer's seq after its look at the ring
 *             (breaks W1: a lost wake-up)
 *   MUT_SHORT no short read (EVL's deadlock rule): a deadlock
 * and with SHUTDOWN:
 *   MUT_EOS   settle_now() asks peer_gone() before ready_now(): EPIPE
 *             while bytes published before the end are unread
 *   MUT_CLAIM_RESET  claim_end() resets waiters/wanted although a call of
 *             the same process sleeps (csrc/user.c as it is: a lost wake-up)
 */

#ifndef CAP
#define CAP 3		/* the ring's capacity, in bytes: two writes do not fit */
#endif
#ifndef NW
#ifdef SHUTDOWN
#define NW 1		/* one writer, after a write of another that ended (PRE), and the ending thread */
#else
#define NW 2		/* producer threads (of one process) */
#endif
#endif
#define WCOUNT 2	/* bytes per write: 2 writes of WCOUNT each per thread */
#define RCOUNT 3	/* bytes a read asks for: more than one write, so the short-read rule matters */
#ifndef WPT
#define WPT 1		/* writes per producer thread */
#endif
#ifdef SHUTDOWN
#define NT (NW + 1)	/* driver threads: the writers and the one that ends the stream, then writes once */
#else
#define NT NW
#endif
#ifdef SHUTDOWN
#define PRE WCOUNT	/* bytes published before the run: a write of a writer thread that is done */
#else
#define PRE 0
#endif
#define TOTAL (PRE + (NW * WPT + NT - NW) * WCOUNT)
#define IDX(i) ((i) % CAP)

byte prod_pos, cons_pos;
byte prod_seq, cons_seq;
byte prod_waiters, cons_waiters;
byte prod_wanted;
byte data[CAP];

/* The producer process: its end's lock, and its sleepers' wanted counts (publish_wanted()). */
byte plock;			/* 0 free, else the holder's _pid + 1 */
byte sleeping_count[NT + 1];	/* per writer: its count while registered, 0 else */
bool prod_gone;			/* owner == XBUF_OWNER_GONE: user_release() */
bool prod_dead;			/* SIGKILL: the owner's lock went with it */
bool cons_gone;			/* the consumer let go (not modelled as a choice here) */
#ifdef SHUTDOWN
bool pclaimed;			/* struct xb_end.claimed of the producer process's end */
byte ended_at;			/* prod_pos when the stream ended (published before the end) */
/* The outbound ring: the application writes, the driver never reads it. */
byte out_pos = 1;		/* the app end's pos (capacity 1: full) */
byte out_seq;			/* seq of the driver's consumer end, which the app writer sleeps on */
bool out_gone;			/* that end's owner == XBUF_OWNER_GONE */
bool app_done;			/* the application writer ended (EPIPE) */
bool ended;			/* evl_shutdown_xbuf() happened */
#endif

/* The consumer process: its end's lock, its handle's state, its local generation. */
byte clock;
bool closed;			/* xbuf_close() of the consumer's handle */
byte cgen;			/* xb_local_gen of the consumer process */
byte pgen;			/* xb_local_gen of the producer process */

/* futex sleepers: asleep[p] != 0 while process p sleeps in futex_waitv */
bool asleep[8];
hidden byte hi, hj, hk;		/* scratch of the d_steps: not part of the state */
byte written;			/* bytes the writers finished publishing */
byte wdone;			/* writer threads finished */
byte got_total;			/* bytes the consumer took */
bool reader_done;

/* FUTEX_WAKE on a seq word: every sleeper whose waitv names it (all threads of the peer side). */
inline wake_consumer_side() {
	d_step {
		hi = 0;
		do
		:: hi < 8 -> if :: waits_on_prod[hi] -> asleep[hi] = 0 :: else fi; hi++
		:: else -> break
		od
	}
}
inline wake_producer_side() {
	d_step {
		hi = 0;
		do
		:: hi < 8 -> if :: waits_on_cons[hi] -> asleep[hi] = 0 :: else fi; hi++
		:: else -> break
		od
	}
}
bool waits_on_prod[8];		/* a consumer thread, asleep on prod_seq */
bool waits_on_cons[8];		/* a producer thread, asleep on cons_seq */
#ifdef SHUTDOWN
bool waits_on_out[8];		/* the app writer, asleep on out_seq */
inline wake_out() {
	d_step {
		hi = 0;
		do
		:: hi < 8 -> if :: waits_on_out[hi] -> asleep[hi] = 0 :: else fi; hi++
		:: else -> break
		od
	}
}

/*
 * claim_end(): the OFD lock, then the words of the end's old owner reset,
 * owner = our pid (a new stream), seq++ and a wake (K1). The reset is for
 * an old owner's sleepers, which are gone (it died, or let go after they
 * left); after our own evl_shutdown_xbuf(), a call of ours may still sleep
 * (registered in e->sleepers, counted in waiters): its count must stay, or
 * the consumer's K1 sees no waiter and never wakes it. csrc/user.c resets
 * unconditionally today (MUT_CLAIM_RESET: spin finds that lost wake-up);
 * the model has the fix (reset only without sleepers of ours).
 */
inline claim_end() {
#ifdef MUT_CLAIM_RESET
	atomic { prod_waiters = 0; prod_wanted = 0 };
#else
	d_step {
		hk = 0;
		hj = 0;
		do
		:: hj <= NT -> if :: sleeping_count[hj] -> hk = 1 :: else fi; hj++
		:: else -> break
		od;
		if :: !hk -> prod_waiters = 0; prod_wanted = 0 :: else fi	/* e->sleepers == NULL */
	};
#endif
	prod_gone = 0;
	prod_seq++;
	wake_consumer_side();
	pclaimed = 1
}

/* user_claim() of a driver end: claim_end(), then the other end, ended and held by nobody, revived (GONE -> 0). */
inline user_claim() {
	if
	:: !pclaimed ->
		claim_end();
		out_gone = 0
	:: else
	fi
}
#endif

/* publish_wanted(): the smallest count among the registered writers (unchanged if none). */
inline publish_wanted() {
	d_step {
		hk = 255;
		hj = 0;
		do
		:: hj <= NT -> if :: sleeping_count[hj] && sleeping_count[hj] < hk -> hk = sleeping_count[hj] :: else fi; hj++
		:: else -> break
		od;
		if :: hk != 255 -> prod_wanted = hk :: else fi
	}
}

/* One evl_write_xbuf(WCOUNT) of a producer thread: xb_begin(), copy, xb_end_commit(). */
inline producer_write(me) {
	waiting = false;
	/* end_lock() */
#ifdef SHUTDOWN
	/*
	 * The model's schedule: a call that would begin after the end waits
	 * until the application saw the end (its writer's EPIPE); a new stream
	 * begun before that would rightly leave that writer waiting for room
	 * for ever (nobody reads the outbound ring here), which spin would
	 * report as a deadlock.
	 */
	atomic { plock == 0 && (!ended || app_done) -> plock = me + 1 };
	user_claim();			/* ops->claim(): the first call after the end claims it again */
#else
	atomic { plock == 0 -> plock = me + 1 };
#endif
	do
	:: true ->
		token = pgen;			/* ops->wait_token(), before the look at the ring */
#ifndef MUT_W1
		val = cons_seq;			/* the peer's seq, before the position: W1 */
#endif
		/* settle_now() -> writable_now(): xbuf_abi_room() */
		if
		:: CAP - (prod_pos - cons_pos) >= WCOUNT -> n = WCOUNT
		:: else -> n = 0
		fi;
#ifdef MUT_W1
		val = cons_seq;
#endif
		if
		:: n -> break
		:: else
		fi;
		if
		:: cons_gone -> ret = 32; break	/* peer_gone(): -EPIPE */
		:: else
		fi;
		if
		:: !waiting ->
			/* waiter_enter(): wanted before waiters (W1), then seq++ and a wake */
			sleeping_count[me] = WCOUNT;
			publish_wanted();
			prod_waiters++;
			prod_seq++;
			if :: cons_waiters -> wake_consumer_side() :: else fi;
			waiting = true
		:: else ->
			plock = 0;		/* end_unlock() */
			/* user_sleep(): peer_gone() first, then futex_waitv(cons_seq == val, pgen == token) */
			atomic {
				if
				:: cons_gone -> skip
				:: cons_seq != val || pgen != token -> skip
				:: else -> waits_on_cons[_pid] = 1; asleep[_pid] = 1
				fi
			};
			atomic { asleep[_pid] == 0 -> waits_on_cons[_pid] = 0 };
			atomic { plock == 0 -> plock = me + 1 }
		fi
	od;
	if
	:: waiting ->
		/* waiter_leave() */
		sleeping_count[me] = 0;
		prod_waiters--;
		publish_wanted()
	:: else
	fi;
	if
	:: n ->
		/* the copy: no byte that may be unread is overwritten (P2) */
		assert(prod_pos + 1 - cons_pos <= CAP);
		data[IDX(prod_pos)] = prod_pos;
		data[IDX(prod_pos + 1)] = prod_pos + 1;
		/* xb_end_commit(): P1 store of pos, then K1 */
#ifdef MUT_K1
		k = cons_waiters;
		prod_pos = prod_pos + n;
#else
		prod_pos = prod_pos + n;
		k = cons_waiters;
#endif
		if
		:: k -> prod_seq++; wake_consumer_side()
		:: else
		fi;
		written = written + n
	:: else
	fi;
	plock = 0
}

proctype writer(byte me)
{
	byte token, val, n, ret, k, nw;
	bool waiting;

	{
		do
		:: nw < WPT -> producer_write(me); nw++; token = 0; val = 0; n = 0; ret = 0; k = 0
		:: else -> break
		od
	} unless { prod_dead };		/* SIGKILL at any step */
	atomic { if :: plock == me + 1 -> plock = 0 :: else fi };	/* a dead holder's mutex dies with its process */
	wdone++
}

/* The producer process: its threads, then its last handle goes (user_release()). */
proctype producer_process()
{
	run writer(1);
#if NW > 1
	run writer(2);
#endif
#ifdef SHUTDOWN
	run driver_shutdown(NW + 1);
#endif
	/* every writer done, or the process died */
	(wdone == NT);
#if defined(STAY) || defined(SHUTDOWN)
	/* the producer stays: nothing but the writers' own wakes can end a read */
#else
	if
	:: !prod_dead ->
		/* user_release(): owner = XBUF_OWNER_GONE, seq++, wake */
		prod_gone = 1;
		prod_seq++;
		wake_consumer_side()
	:: else
	fi
#endif
}

#ifdef SHUTDOWN
/* A thread of the driver process: evl_shutdown_xbuf() at any time, then, once the app saw the end, a write. */
proctype driver_shutdown(byte me)
{
	byte token, val, n, ret, k;
	bool waiting;

	/* evl_shutdown_xbuf(), the inbound ring: end_lock(), user_shutdown() */
	atomic { plock == 0 -> plock = me + 1 };
	if :: !pclaimed -> claim_end() :: else fi;	/* claim_end(), not user_claim() */
	pclaimed = 0;
	/*
	 * let_go(e, me, XBUF_OWNER_GONE): owner, then seq++ and the wake, in
	 * one step here (every commit so far is published: we hold the lock)
	 */
	d_step {
		ended_at = prod_pos;
		ended = 1;
		prod_gone = 1;
		prod_seq++;
		hi = 0;
		do
		:: hi < 8 -> if :: waits_on_prod[hi] -> asleep[hi] = 0 :: else fi; hi++
		:: else -> break
		od
	};
	plock = 0;
	/* the outbound ring: its end never claimed (claim_end(): seq++, a wake), then let_go() */
	d_step {
		out_gone = 1;
		out_seq = out_seq + 2;
		hi = 0;
		do
		:: hi < 8 -> if :: waits_on_out[hi] -> asleep[hi] = 0 :: else fi; hi++
		:: else -> break
		od
	};
	/* later: a new stream */
	(app_done);
	producer_write(me);
	wdone++
}

/*
 * The application writes the outbound ring (capacity 1, no driver reader,
 * one byte in it already) until EPIPE: its write waits for room until the
 * end, which fails it at once.
 */
proctype app_writer()
{
	byte val, n, ret;
	bool waiting;

	do
	:: true ->
		waiting = false;
		n = 0;
		do
		:: true ->
			val = out_seq;		/* W1: the peer's seq before the look */
			/* settle_now(): the driver ended the stream: EPIPE at once, room or not */
			if
			:: out_gone -> ret = 32; break
			:: else
			fi;
			/* writable_now(): room for the byte */
			if
			:: out_pos < 1 -> n = 1; break	/* (never: nobody reads) */
			:: else
			fi;
			if
			:: !waiting -> waiting = true	/* waiter_enter() (nobody reads its waiters here) */
			:: else ->
				/* user_sleep(): peer_gone() first, then futex_waitv(out_seq == val) */
				atomic {
					if
					:: out_gone -> skip
					:: out_seq != val -> skip
					:: else -> waits_on_out[_pid] = 1; asleep[_pid] = 1
					fi
				};
				atomic { asleep[_pid] == 0 -> waits_on_out[_pid] = 0 }
			fi
		od;
		val = 0; waiting = false;
		if
		:: n -> out_pos++		/* xb_end_commit() (no peer waits) */
		:: else -> break		/* EPIPE */
		fi
	od;
	app_done = 1
}
#endif

/* A SIGKILL of the producer at any time, and the watcher of csrc/peer.c that tells it. */
proctype killer()
{
	if
	:: prod_dead = 1;
		/* peer.c: the pidfd polls readable; xb_local_wake() of the consumer process */
		d_step {
			cgen++;
			hi = 0;
			do
			:: hi < 8 -> if :: waits_on_prod[hi] -> asleep[hi] = 0 :: else fi; hi++
			:: else -> break
			od
		}
	:: skip
	fi
}

/* xbuf_close() of the consumer's handle while it may sleep: h->closed, then xb_local_wake(). */
proctype canceller()
{
	if
	:: closed = 1;
		d_step {
			cgen++;
			hi = 0;
			do
			:: hi < 8 -> if :: waits_on_prod[hi] -> asleep[hi] = 0 :: else fi; hi++
			:: else -> break
			od
		}
	:: skip
	fi
}

/* The consumer: blocking xbuf_read(RCOUNT) until EPIPE (or EBADF after a cancel). */
proctype reader()
{
	byte token, val, n, fill, ret, k, want;
	bool waiting;

	do
	:: true ->
		waiting = false;
		ret = 0;
		want = RCOUNT;
#if defined(STAY) || defined(SHUTDOWN)
		/* a blocking read asks only for what will come: else it waits for ever, as EVL's does */
		if :: TOTAL - got_total < RCOUNT -> want = TOTAL - got_total :: else fi;
#endif
		atomic { clock == 0 -> clock = 1 };
		do
		:: true ->
			token = cgen;
#ifndef MUT_W1
			val = prod_seq;
#endif
			/* settle_now() -> readable_now(): C1 load of prod_pos */
			fill = prod_pos - cons_pos;
			if
			:: fill >= want -> n = want
			:: fill == 0 -> n = 0
#ifndef MUT_SHORT
			/* xbuf_abi_writer_stuck(): waiters (acquire), then wanted */
			:: else -> if
				   :: prod_waiters && CAP - fill < prod_wanted -> n = fill
				   :: else -> n = 0
				   fi
#else
			:: else -> n = 0
#endif
			fi;
#ifdef MUT_W1
			val = prod_seq;
#endif
#ifdef MUT_EOS
			if
			:: prod_gone -> n = 0; ret = 32; break	/* peer_gone() before ready_now() */
			:: else
			fi;
#endif
			if
			:: n == 0 && (prod_gone || prod_dead) ->
				/* gone: the tail first, then EPIPE */
				n = prod_pos - cons_pos;
				if :: n > want -> n = want :: else fi;
				if :: n == 0 -> ret = 32 :: else fi
			:: else
			fi;
			if
			:: n || ret -> break
			:: else
			fi;
			if
			:: !waiting ->
				cons_waiters++;		/* waiter_enter(): W1 */
				waiting = true
			:: else ->
				clock = 0;
				/* user_sleep(): h->closed, peer_gone(), then futex_waitv(prod_seq == val, cgen == token) */
				if
				:: closed -> ret = 9
				:: else ->
					atomic {
						if
						:: prod_gone || prod_dead -> skip
						:: prod_seq != val || cgen != token -> skip
						:: else -> waits_on_prod[_pid] = 1; asleep[_pid] = 1
						fi
					};
					atomic { asleep[_pid] == 0 -> waits_on_prod[_pid] = 0 }
				fi;
				atomic { clock == 0 -> clock = 1 };
				if :: ret == 9 -> break :: else fi
			fi
		od;
		if :: waiting -> cons_waiters-- :: else fi;	/* waiter_leave() */
		token = 0; val = 0; fill = 0; waiting = false; want = 0;	/* dead from here: out of the state */
		if
		:: n ->
			/* the copy: only published bytes, each the one written there (C1) */
			d_step {
				hi = 0;
				do
				:: hi < n ->
					assert(cons_pos + hi < prod_pos);
					assert(data[IDX(cons_pos + hi)] == cons_pos + hi);
					hi++
				:: else -> break
				od
			};
			/* xb_end_commit(): C2 store of pos, then K1 */
#ifdef MUT_K1
			k = prod_waiters;
			cons_pos = cons_pos + n;
#else
			cons_pos = cons_pos + n;
			k = prod_waiters;
#endif
			if
			:: k -> cons_seq++; wake_producer_side()
			:: else
			fi;
			got_total = got_total + n
		:: else
		fi;
		clock = 0;
#if defined(STAY) || defined(SHUTDOWN)
		if :: got_total == TOTAL -> break :: else fi;
#endif
		if
#ifdef SHUTDOWN
		:: ret == 32 ->
			/* EPIPE only once everything published before the end was read */
			assert(cons_pos >= ended_at);
			/* the application tries again once a driver call began a new stream (or bytes came) */
			(!prod_gone || prod_pos != cons_pos)
#else
		:: ret == 32 ->
			/* EPIPE: exactly what was published, all of it taken */
			assert(got_total == prod_pos);
			assert(prod_dead || got_total == TOTAL);
			break
#endif
		:: ret == 9 -> break	/* EBADF after the cancel */
		:: else
		fi
	od;
	reader_done = 1;
#ifdef SHUTDOWN
	assert(got_total == TOTAL);
#endif
	/* The consumer's handle goes: a producer waiting for room must not wait for ever. */
	d_step {
		cons_gone = 1;
		cons_seq++;
		hi = 0;
		do
		:: hi < 8 -> if :: waits_on_cons[hi] -> asleep[hi] = 0 :: else fi; hi++
		:: else -> break
		od
	}
}

init {
	atomic {
#if PRE > 0
		d_step { data[0] = 0; data[1] = 1; prod_pos = PRE; written = PRE; pclaimed = 1 };
#endif
		run producer_process();
		run reader()
#ifdef KILL
		;run killer()
#endif
#ifdef CANCEL
		;run canceller()
#endif
#ifdef SHUTDOWN
		;run app_writer()
#endif
	}
}
