#!/usr/bin/env bash
# Build the library, the tests and the peer tool with the host gcc under
# ASan+UBSan, then under TSan, and run every C test with each.
set -eu -o pipefail
cd "$(dirname "$0")/../.."
CC=${CC:-gcc}
CFLAGS="$(tr "\n" " " < csrc/cflags) -O1 -g -Iinclude -Itest -Itest/c -pthread"	# the library's one flag list
status=0 passed=0 failed=0
for san in "address,undefined" "thread"; do
	out=zig-out/san-${san%%,*}
	mkdir -p "$out/bin" "$out/lib"
	flags="$CFLAGS -fsanitize=$san -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
	$CC $flags -shared -fPIC -o "$out/lib/libxbuf.so" csrc/*.c -Wl,--version-script=csrc/libxbuf.map
	for src in test/c/t_*.c tools/c/*.c; do
		$CC $flags -o "$out/bin/$(basename "$src" .c)" "$src" -L"$out/lib" -lxbuf -Wl,-rpath,"\$ORIGIN/../lib"
	done
	echo "== $san"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		XBUF_TEST_BIN="$out/bin" XBUF_TEST_TIMEOUT=300 bash test/c/run.sh | tee "$out/run.log" || status=1
	summary=$(tail -n 1 "$out/run.log")
	passed=$((passed + $(echo "$summary" | grep -Eo '[0-9]+ passed' | grep -Eo '[0-9]+' || echo 0)))
	failed=$((failed + $(echo "$summary" | grep -Eo '[0-9]+ failed' | grep -Eo '[0-9]+' || echo 0)))
done
echo "sanitize: $passed passed, $failed failed"
exit $status
