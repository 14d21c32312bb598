#!/usr/bin/env bash
# The project's test command (README): builds, checks that the link graph of
# libxbuf's objects has no cycle (test/c/deps.sh), then runs the C tests, the C
# tests under ASan+UBSan and TSan, the type check and the tsup bundle, the
# TypeScript tests under Bun and the same files under Deno (vitest in each),
# (test/ts/bridge.test.ts starts its own NATS server: tools/nats-server on
# 127.0.0.1, a free port, a temporary store), the packages' smoke test (test/pkg/smoke.sh: packed, installed offline,
# run under both runtimes; arm64 under qemu-user), and the kernel tests in a
# QEMU guest. Prints one closing line "N passed, N failed".
#   XBUF_SKIP_KERNEL=1  skip the QEMU guest (it needs root for apt-get)
#   XBUF_SKIP_SANITIZE=1 skip the sanitizer builds
#   XBUF_SKIP_RELIABILITY=1 skip the reliability suites' short forms (about 5 minutes)
set -u
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
passed=0 failed=0
log=$(mktemp -d)

count() { # suite-name log-file exit-code
	local p f
	p=$(grep -aEo '[0-9]+ passed' "$2" | tail -n 1 | grep -Eo '[0-9]+' || echo 0)
	f=$(grep -aEo '[0-9]+ failed' "$2" | tail -n 1 | grep -Eo '[0-9]+' || echo 0)
	if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	if [ "$3" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then p=1; fi	# a check without counts
	passed=$((passed + p)) failed=$((failed + f))
	echo "== $1: $p passed, $f failed (exit $3)"
}

suite() { # name command...
	local name=$1 rc
	shift
	echo "== $name: $*"
	"$@" 2>&1 | tee "$log/$name.log"
	rc=${PIPESTATUS[0]}
	count "$name" "$log/$name.log" "$rc"
}

# Every platform package too: test/ts/package.test.ts packs each one it finds, so none may be stale.
{ tools/zig build && tools/zig build packages; } || { echo "0 passed, 1 failed"; exit 1; }
suite deps bash test/c/deps.sh
suite c bash test/c/run.sh
[ -n "${XBUF_SKIP_SANITIZE:-}" ] || suite sanitize bash test/c/sanitize.sh
# The bundle first: tsc resolves the xbuf/cli and xbuf/latmus self-imports to dist/*.d.ts.
suite bundle bunx --bun tsup --silent
suite typecheck tsc --noEmit -p .
suite bun bunx --bun vitest run --reporter=verbose
suite deno deno run -A node_modules/vitest/vitest.mjs run --reporter=verbose
suite smoke bash test/pkg/smoke.sh
# The reliability suites, short forms (test/reliability/run.sh; --full on demand: RELIABILITY.md).
[ -n "${XBUF_SKIP_RELIABILITY:-}" ] || suite reliability bash test/reliability/run.sh
[ -n "${XBUF_SKIP_KERNEL:-}" ] || suite kernel bash test/kernel/run.sh
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
