#!/usr/bin/env bash
# Check the Promela models with spin: xbuf.pml (one ring) and fence.pml
# (the asymmetric handshakes of csrc/fence.c, with a store buffer). Every
# configuration must verify with 0 errors and a complete search, and
# every mutation must be caught (an error: the check can fail; those
# searches end at their first error, so pan is built without optimizing:
# the build is most of their time).
#   check.sh [--full]   --full: two writes per producer thread (WPT=2)
set -u
cd "$(dirname "$0")"
full=0; [ "${1:-}" = --full ] && full=1
work=$(mktemp -d /tmp/xbuf-spin.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp xbuf.pml fence.pml "$work/"
model=xbuf.pml
pass=0 fail=0
run() { # expect(ok|error) defines...
	local expect=$1 out
	shift
	(cd "$work" && rm -f pan* ./*.trail && spin -a "$@" "$model" >/dev/null &&
		gcc $([ "$expect" = error ] && echo -O0 || echo -O2) -DSAFETY -DCOLLAPSE -DMEMLIM=${XBUF_SPIN_MEMLIM:-$([ $full = 1 ] && echo 6144 || echo 1024)} -w -o pan pan.c) || { echo "FAIL spin $*: build"; fail=$((fail + 1)); return; }
	out=$(cd "$work" && ./pan -m200000 2>&1)
	local errs states
	errs=$(echo "$out" | sed -n 's/.*errors: \([0-9]*\).*/\1/p')
	states=$(echo "$out" | sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p')
	if [ "$expect" = ok ] && [ "$errs" = 0 ] && ! echo "$out" | grep -q "Search not completed"; then
		echo "PASS spin $model $* ($states states, complete, 0 errors)"; pass=$((pass + 1))
	elif [ "$expect" = error ] && [ -n "$errs" ] && [ "$errs" != 0 ]; then
		echo "PASS spin $model $* (mutation caught: $(echo "$out" | grep -m1 '^pan:1:'))"; pass=$((pass + 1))
	else
		echo "FAIL spin $model $* (expected $expect):"; echo "$out" | grep -E "pan:|errors|Search|states, stored" | sed 's/^/    /'
		fail=$((fail + 1))
	fi
}
command -v spin >/dev/null || { echo "no spin (apt-get install spin)"; echo "model: 0 passed, 1 failed"; exit 1; }
sizes=(); [ $full = 1 ] && sizes=(-DWPT=2)
for cfg in "" -DKILL -DCANCEL -DSTAY -DSHUTDOWN; do run ok $cfg "${sizes[@]}"; done
for mut in -DMUT_K1 -DMUT_W1 -DMUT_SHORT; do run error -DSTAY $mut; done
# The driver's end of the stream (evl_shutdown_xbuf()): EPIPE before the drain;
# claim_end() wiping the count of a call of ours still asleep (the bug it found: fixed, t_claim_reset).
for mut in -DMUT_EOS -DMUT_CLAIM_RESET; do run error -DSHUTDOWN $mut; done
# K1's asymmetric form and the biased end lock; FULL: a seq_cst waker (with
# MUT_NOFENCE: against a sleeper that does not fence). Without the membarrier()
# of the sleeper or of the revoker: a lost wake-up, two threads inside.
model=fence.pml
for cfg in "" -DFULL "-DFULL -DMUT_NOFENCE" -DLOCK; do run ok $cfg; done
for mut in -DMUT_NOFENCE "-DLOCK -DMUT_NOFENCE"; do run error $mut; done
echo "model: $pass passed, $fail failed"
[ $fail -eq 0 ]
