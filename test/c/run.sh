#!/usr/bin/env bash
# Run every C test program (zig-out/bin/t_*): exit 0 pass, 1 fail, 77 skip.
# One program per feature, in the liburing style; each gets a time limit.
set -u
cd "$(dirname "$0")/../.."
BIN=${XBUF_TEST_BIN:-zig-out/bin}
pass=0 fail=0 skip=0 failed=()
for t in "$BIN"/t_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	[ -f "test/c/$name.c" ] || continue	# a stale binary of a test that no longer exists
	start=$(date +%s.%N)
	timeout --signal=KILL "${XBUF_TEST_TIMEOUT:-120}" "$t" > "/tmp/xbuf-$name.log" 2>&1
	rc=$?
	secs=$(printf '%.2f' "$(echo "$(date +%s.%N) - $start" | bc)")
	case $rc in
	0) pass=$((pass + 1)); echo "PASS $name (${secs}s)" ;;
	77) skip=$((skip + 1)); echo "SKIP $name: $(tail -n 1 "/tmp/xbuf-$name.log")" ;;
	*) fail=$((fail + 1)); failed+=("$name"); echo "FAIL $name (exit $rc)"; sed 's/^/    /' "/tmp/xbuf-$name.log" | tail -n 20 ;;
	esac
done
echo "c: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
