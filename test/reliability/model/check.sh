#!/usr/bin/env bash
# Check the Promela model of one ring (xbuf.pml) with spin: every
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
cp xbuf.pml "$work/"
pass=0 fail=0
run() { # expect(ok|error) defines...
	local expect=$1 out
	shift
	(cd "$work" && rm -f pan* ./*.trail && spin -a "$@" xbuf.pml >/dev/null &&
		gcc $([ "$expect" = error ] && echo -O0 || echo -O2) -DSAFETY -DCOLLAPSE -DMEMLIM=${XBUF_SPIN_MEMLIM:-$([ $full = 1 ] && echo 6144 || echo 1024)} -w -o pan pan.c) || { echo "FAIL spin $*: build"; fail=$((fail + 1)); return; }
	out=$(cd "$work" && ./pan -m200000 2>&1)
	local errs states
	errs=$(echo "$out" | sed -n 's/.*errors: \([0-9]*\).*/\1/p')
	states=$(echo "$out" | sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p')
	if [ "$expect" = ok ] && [ "$errs" = 0 ] && ! echo "$out" | grep -q "Search not completed"; then
		echo "PASS spin $* ($states states, complete, 0 errors)"; pass=$((pass + 1))
	elif [ "$expect" = error ] && [ -n "$errs" ] && [ "$errs" != 0 ]; then
		echo "PASS spin $* (mutation caught: $(echo "$out" | grep -m1 '^pan:1:'))"; pass=$((pass + 1))
	else
		echo "FAIL spin $* (expected $expect):"; echo "$out" | grep -E "pan:|errors|Search|states, stored" | sed 's/^/    /'
		fail=$((fail + 1))
	fi
}
command -v spin >/dev/null || { echo "no spin (apt-get install spin)"; echo "model: 0 passed, 1 failed"; exit 1; }
sizes=(); [ $full = 1 ] && sizes=(-DWPT=2)
for cfg in "" -DKILL -DCANCEL -DSTAY -DSHUTDOWN; do run ok $cfg "${sizes[@]}"; done
for mut in -DMUT_K1 -DMUT_W1 -DMUT_SHORT; do run error -DSTAY $mut; done
# The driver's end of the stream (evl_shutdown_xbuf()): EPIPE before the drain;
# claim_end() wiping the count of a call of ours still asleep (csrc/user.c today).
for mut in -DMUT_EOS -DMUT_CLAIM_RESET; do run error -DSHUTDOWN $mut; done
echo "model: $pass passed, $fail failed"
[ $fail -eq 0 ]
