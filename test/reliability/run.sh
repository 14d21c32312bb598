#!/usr/bin/env bash
# The reliability suites (RELIABILITY.md): short forms by default (CI, under
# ~5 minutes on 2 cores), the full forms with --full (on demand). Each suite
# prints its own "N passed, M failed"; the last line sums them.
#   XBUF_REL_SKIP=fuzz,soak   skip suites by name
#   XBUF_REL_ONLY=fuzz        run only these suites
#   XBUF_REL_OUT=dir          build and log there (default zig-out/rel)
#   XBUF_FUZZ_JOBS=2          --full: the 10^7 fuzz runs in that many processes, each its share
# --full also runs the kernel backend's soaks for 600 s each in the QEMU guest
# (kernel-soak: test/kernel/run.sh with XBUF_KSOAK_SECS=600 XBUF_BUN_KSOAK_SECS=600,
# only t_lib_soak of the C tests: two 600 s soaks, over 20 minutes; XBUF_KTEST_DIR is passed on;
# XBUF_REL_SKIP=kernel-soak skips it). CI's guest run keeps its 60 s soaks.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
full=0; [ "${1:-}" = --full ] && full=1
OUT=${XBUF_REL_OUT:-$ROOT/zig-out/rel}	# its own per run: two runs at once must not rebuild each other's binaries
mkdir -p "$OUT"
passed=0 failed=0
CFLAGS="$(tr "\n" " " < csrc/cflags) -g -Iinclude -Itest -pthread"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
skip() {
	case ",${XBUF_REL_SKIP:-}," in *",$1,"*) return 0 ;; esac
	[ -z "${XBUF_REL_ONLY:-}" ] && return 1
	case ",$XBUF_REL_ONLY," in *",$1,"*) return 1 ;; esac
	return 0
}

count() { # name log rc
	local p f
	p=$(grep -Eo '[0-9]+ passed' "$2" | tail -n 1 | grep -Eo '[0-9]+' || echo 0)
	f=$(grep -Eo '[0-9]+ failed' "$2" | tail -n 1 | grep -Eo '[0-9]+' || echo 0)
	if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p)) failed=$((failed + f))
	echo "== $1: $p passed, $f failed (exit $3, $(($(date +%s) - t0)) s)"
}
suite() { # name timeout command...
	local name=$1 limit=$2 rc
	shift 2
	skip "$name" && { echo "== $name: skipped"; return; }
	echo "== $name: $*"
	t0=$(date +%s)
	if [ "$(type -t "$1")" = function ]; then
		export -f "$1"; export OUT
		timeout --signal=KILL "$limit" bash -c '"$@"' _ "$@" > "$OUT/$name.log" 2>&1
	else
		timeout --signal=KILL "$limit" "$@" > "$OUT/$name.log" 2>&1
	fi
	rc=$?
	tail -n 15 "$OUT/$name.log"
	count "$name" "$OUT/$name.log" "$rc"
}

# What the suites need: clang with libFuzzer (Debian's clang, libclang-rt-dev), spin, gcc.
need=""
command -v clang >/dev/null || need="$need clang"
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || need="$need libclang-rt-dev"
command -v spin >/dev/null || need="$need spin"
if [ -n "$need" ]; then
	echo "installing:$need"
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need) >"$OUT/apt.log" 2>&1 ||
		{ tail -5 "$OUT/apt.log"; echo "0 passed, 1 failed"; exit 1; }
fi
[ -f zig-out/lib/libxbuf.so ] && [ -x zig-out/bin/xbuf_peer ] || tools/zig build || { echo "0 passed, 1 failed"; exit 1; }

# Builds: the fuzz target and its mutant (clang, ASan+UBSan+libFuzzer, the library's sources),
# the C programs with the library built in under ASan+UBSan, and the soak under TSan too.
build() {
	clang -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -O1 -g -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Iinclude -Itest -pthread csrc/*.c test/reliability/fuzz/fuzz_xbuf.c -o "$OUT/fuzz_xbuf" &&
	clang -DFUZZ_MUTANT -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined -Iinclude -Itest -pthread \
		csrc/*.c test/reliability/fuzz/fuzz_xbuf.c -o "$OUT/fuzz_mutant" &&
	for p in crash hostile soak; do
		gcc $CFLAGS -O1 $SAN -o "$OUT/$p-asan" test/reliability/c/$p.c csrc/*.c || return 1
	done &&
	gcc $CFLAGS -O2 -o "$OUT/soak" test/reliability/c/soak.c csrc/*.c &&
	gcc $CFLAGS -O1 -fsanitize=thread -o "$OUT/soak-tsan" test/reliability/c/soak.c csrc/*.c
}
t0=$(date +%s)
if build > "$OUT/build.log" 2>&1; then echo "== build: ok"; else cat "$OUT/build.log"; echo "0 passed, 1 failed"; exit 1; fi

export XBUF_SPIN_US=${XBUF_SPIN_US:-50} ASAN_OPTIONS=detect_leaks=1 TSAN_OPTIONS=halt_on_error=1
STRICT=0; grep -q EIDRM include/xbuf.h && STRICT=1	# issue 9 landed: every application departure is told
fuzz() { # seconds|runs
	local corpus=test/reliability/fuzz/corpus work
	work=$(mktemp -d /tmp/xbuf-fuzz.XXXXXX)
	cp "$corpus"/* "$work"/ 2>/dev/null
	# The oracle's own check: a model off by one at a full ring must be caught in 30 s.
	if XBUF_SPIN_US=0 "$OUT/fuzz_mutant" -max_total_time=30 -max_len=512 -artifact_prefix="$OUT/mutant-" "$work" > "$OUT/fuzz-mutant.log" 2>&1; then
		echo "fuzz: the mutant model went unnoticed"; echo "fuzz: 0 passed, 1 failed"; return 1
	fi
	echo "fuzz: the mutant model was caught ($(grep -m1 'fuzz_xbuf:' "$OUT/fuzz-mutant.log"))"
	rm -rf "$work" && work=$(mktemp -d /tmp/xbuf-fuzz.XXXXXX) && cp "$corpus"/* "$work"/ 2>/dev/null
	local jobs=${XBUF_FUZZ_JOBS:-1}
	if [ "$jobs" -gt 1 ]; then	# J processes, each its share of the runs, one corpus; logs fuzz-N.log
		rm -f "$OUT"/fuzz-[0-9]*.log
		(cd "$OUT" && XBUF_SPIN_US=0 "$OUT/fuzz_xbuf" -max_len=512 -print_final_stats=1 -artifact_prefix="$OUT/fuzz-" \
			-jobs="$jobs" -workers="$jobs" "$@" "$work") > "$OUT/fuzz-run.log" 2>&1
	else
		XBUF_SPIN_US=0 "$OUT/fuzz_xbuf" -max_len=512 -print_final_stats=1 -artifact_prefix="$OUT/fuzz-" "$@" "$work" > "$OUT/fuzz-run.log" 2>&1
	fi
	local rc=$?
	[ "$jobs" -gt 1 ] && cat "$OUT"/fuzz-[0-9]*.log >> "$OUT/fuzz-run.log"
	grep -aE 'fuzz_xbuf: op|ERROR|SUMMARY|Test unit written|stat::|^Done' "$OUT/fuzz-run.log" | head -n 20
	[ "$jobs" -gt 1 ] && echo "fuzz: $(cat "$OUT"/fuzz-[0-9]*.log | grep -a 'stat::number_of_executed_units' |
		awk '{ n += $2 } END { print n }') executions in $jobs processes"	# the parent's log repeats its jobs' tails
	rm -rf "$work"
	[ "$rc" -eq 0 ] && echo "fuzz: 1 passed, 0 failed" || echo "fuzz: 0 passed, 1 failed"
	return "$rc"
}

if [ $full = 1 ]; then
	suite model 1800 bash test/reliability/model/check.sh --full
	suite fuzz 7200 fuzz -runs=$(( ${XBUF_FUZZ_RUNS:-10000000} / ${XBUF_FUZZ_JOBS:-1} ))
	suite crash-producer 1800 "$OUT/crash-asan" producer 1000
	suite crash-app 1800 env XBUF_CRASH_STRICT=$STRICT "$OUT/crash-asan" app 1000
	suite crash-names 1800 "$OUT/crash-asan" names 1000
	suite bun-crash 1800 node_modules/.bin/bun test/reliability/bun_crash.ts 200
	suite hostile 1800 "$OUT/hostile-asan" 50000
	suite soak 1200 "$OUT/soak" 600 4
	suite bun-soak 1200 node_modules/.bin/bun test/reliability/bun_soak.ts "$OUT/soak" 600 4
	suite soak-tsan 600 "$OUT/soak-tsan" 60 2
	suite bun-soak-tsan 600 node_modules/.bin/bun test/reliability/bun_soak.ts "$OUT/soak-tsan" 60 2
	suite kernel-soak 3600 env XBUF_KSOAK_SECS=600 XBUF_BUN_KSOAK_SECS=600 XBUF_KTEST_ONLY=t_lib_soak bash test/kernel/run.sh
else
	suite model 300 bash test/reliability/model/check.sh
	suite fuzz 120 fuzz -max_total_time=60
	suite crash-producer 120 "$OUT/crash-asan" producer 200
	suite crash-app 120 env XBUF_CRASH_STRICT=$STRICT "$OUT/crash-asan" app 200
	suite crash-names 120 "$OUT/crash-asan" names 200
	suite bun-crash 120 node_modules/.bin/bun test/reliability/bun_crash.ts 10
	suite hostile 120 "$OUT/hostile-asan" 5000
	suite soak 120 "$OUT/soak" 30 3
	suite bun-soak 120 node_modules/.bin/bun test/reliability/bun_soak.ts "$OUT/soak" 20 2
	suite soak-tsan 120 "$OUT/soak-tsan" 10 2
	# The driver side under TSan, with evl_shutdown_xbuf() at the end while its readers run.
	suite bun-soak-tsan 120 node_modules/.bin/bun test/reliability/bun_soak.ts "$OUT/soak-tsan" 10 2
fi
echo "reliability$([ $full = 1 ] && echo ' (full)'): $(git rev-parse --short HEAD 2>/dev/null), $(date -u +%Y-%m-%d)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
