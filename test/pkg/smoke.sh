#!/usr/bin/env bash
# The packages' smoke test (issue 13, "Proof, in CI"):
#  1. build every platform package (tools/zig build packages) and check them
#     with readelf (tools/check-packages.sh: glibc floor 2.28);
#  2. deno publish --dry-run (jsr.json: no slow types); npm pack the main
#     package and each platform package;
#  3. in an empty folder, with no zig, no C compiler and no python on PATH,
#     install the tarballs offline (file: specifiers; npm install --offline,
#     then bun install, which installs every file: optional dependency, both
#     libcs) and run the README's three-line example under Bun, and under
#     Deno when src/ffi/deno.ts exists (else: skipped, with the reason);
#  4. the arm64 libraries (glibc, musl) under qemu-user: the C test programs,
#     cross-built by zig, run against the packaged libxbuf.so.
# Installs what it lacks (qemu-user-static; the arm64 glibc and musl runtime
# from Debian, downloaded into a cache folder, not installed). Last line:
# "smoke: N passed, N failed, N skipped".
#   XBUF_SMOKE_CACHE  where the arm64 runtimes are kept (~/.cache/xbuf-smoke)
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
export PATH="$ROOT/node_modules/.bin:$PATH"
W=$(mktemp -d /tmp/xbuf-smoke.XXXXXX)
trap 'rm -rf "$W"' EXIT
CACHE=${XBUF_SMOKE_CACHE:-$HOME/.cache/xbuf-smoke}
VERSION=$(node -p 'require("./package.json").version')
PLATFORMS="linux-x64-gnu linux-arm64-gnu linux-x64-musl linux-arm64-musl"
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -z "${2:-}" ] || sed 's/^/    /' "$2" | tail -n 15; }
sk() { skip=$((skip + 1)); echo "SKIP $1"; }
start=$(date +%s)

# 1. Build: all at once; on a failure, one by one to say which.
built=""
if tools/zig build packages >"$W/build.log" 2>&1; then
	built=$PLATFORMS
	ok "tools/zig build packages: $PLATFORMS"
else
	for p in $PLATFORMS; do
		if tools/zig build packages -Dplatforms="$p" >"$W/build-$p.log" 2>&1; then
			built="$built $p"
			ok "build $p"
		else
			ko "build $p: $(grep -m1 'error:' "$W/build-$p.log")" "$W/build-$p.log"
		fi
	done
fi
rm -rf "$W/npm" && mkdir -p "$W/npm"
for p in $built; do cp -r "zig-out/npm/$p" "$W/npm/"; done	# only this run's packages
if bash tools/check-packages.sh "$W/npm" >"$W/check.log" 2>&1; then
	ok "readelf: $(tail -n 1 "$W/check.log")"
else
	ko "readelf: $(tail -n 1 "$W/check.log")" "$W/check.log"
fi

# JSR: the same sources, no slow types, the public API type-checks.
if ! command -v deno >/dev/null; then
	ko "deno publish --dry-run: no deno (npm install: a devDependency)"
elif deno publish --dry-run --allow-dirty >"$W/jsr.log" 2>&1 && ! grep -qi 'warning' "$W/jsr.log"; then
	ok "deno publish --dry-run (jsr.json): $(sed 's/\x1b\[[0-9;]*m//g' "$W/jsr.log" | tail -n 1)"
else
	ko "deno publish --dry-run (jsr.json)" "$W/jsr.log"
fi

# 2. Pack.
mkdir -p "$W/tgz"
if bunx --bun tsup --silent >"$W/tsup.log" 2>&1 && npm pack --silent --ignore-scripts --pack-destination "$W/tgz" >"$W/pack.log" 2>&1; then
	ok "npm pack xbuf"
else
	ko "npm pack xbuf" "$W/pack.log"
fi
deps="" n=0
for p in $built; do
	if (cd "$W/npm/$p" && npm pack --silent --ignore-scripts --pack-destination "$W/tgz") >"$W/pack-$p.log" 2>&1; then
		n=$((n + 1))
		deps="$deps${deps:+,} \"@xbuf/$p\": \"file:$W/tgz/xbuf-$p-$VERSION.tgz\""
	else
		ko "npm pack $p" "$W/pack-$p.log"
	fi
done
[ "$n" -gt 0 ] && ok "npm pack: $n platform packages"

# 3. Install and run, with nothing to build from source on PATH.
mkdir -p "$W/bin"
for tool in bun deno node npm; do
	path=$(command -v "$tool") && ln -s "$(readlink -f "$path")" "$W/bin/$tool"
done
# npm is a node script: it needs node beside it, which it has.
for tool in sh bash env ls cat grep sed mkdir rm cp mv ln dirname basename readlink uname timeout find head tail tr; do
	path=$(command -v "$tool") && ln -sf "$path" "$W/bin/$tool"
done
SANDBOX_PATH=$W/bin
if env PATH="$SANDBOX_PATH" sh -c 'command -v zig || command -v cc || command -v gcc || command -v clang || command -v python3' >/dev/null 2>&1; then
	ko "sandbox PATH still has a compiler or python"
fi
example=$W/example.ts
cat >"$example" <<'EOF'
import { XBuf } from "xbuf";
using xb = XBuf.create({ inbound: 4096, outbound: 4096 });
console.log(xb.tryWrite(new TextEncoder().encode("hello")), JSON.stringify(xb.rings().outbound));
EOF
want='true {"fill":5,"size":4096}'
which=$W/which.mjs
echo 'import { libraryPath } from "xbuf"; console.log(libraryPath());' >"$which"
cli=$W/cli.mjs
echo 'import { main } from "xbuf/cli"; process.exitCode = await main(process.argv.slice(2));' >"$cli"
sandbox() { # dir command...: run in dir with the sandbox PATH, no XBUF_LIBRARY
	local dir=$1
	shift
	(cd "$dir" && env -u XBUF_LIBRARY PATH="$SANDBOX_PATH" HOME="$W/home" "$@")
}
mkdir -p "$W/home"
host=linux-$(node -p process.arch)-gnu
for tool in npm bun; do
	app=$W/app-$tool
	mkdir -p "$app"
	cat >"$app/package.json" <<EOF
{ "name": "smoke-$tool", "private": true, "type": "module",
  "dependencies": { "xbuf": "file:$W/tgz/xbuf-$VERSION.tgz" },
  "optionalDependencies": { $deps } }
EOF
	cp "$example" "$which" "$cli" "$app/"
	case $tool in
	npm) sandbox "$app" npm install --offline --no-audit --no-fund --loglevel=error --cache "$W/npm-cache" >"$W/install-$tool.log" 2>&1 ;;
	bun) sandbox "$app" bun install --no-save >"$W/install-$tool.log" 2>&1 ;;
	esac
	if [ $? -ne 0 ]; then ko "$tool install (offline, file: tarballs)" "$W/install-$tool.log"; continue; fi
	ok "$tool install: $(cd "$app/node_modules" && echo xbuf @xbuf/* | tr '\n' ' ')"
	if [ -n "$(find "$app/node_modules" -name '*.c' -o -name build.zig | head -n 1)" ]; then ko "$tool install: C sources in node_modules"; fi
	out=$(sandbox "$app" timeout 60 bun example.ts 2>&1)
	[ "$out" = "$want" ] && ok "$tool install, bun example.ts: $out" || { echo "$out" >"$W/run.log"; ko "$tool install, bun example.ts: want '$want'" "$W/run.log"; }
	lib=$(sandbox "$app" timeout 60 bun which.mjs 2>&1)
	[ "$lib" = "$app/node_modules/@xbuf/$host/libxbuf.so" ] && ok "$tool install, bun loads $host: ${lib#"$W"/}" || ko "$tool install, bun loads '$lib', want @xbuf/$host"
	if [ ! -f src/ffi/deno.ts ]; then
		sk "$tool install, deno run example.ts: no Deno adapter (src/ffi/deno.ts) in this tree"
	elif ! command -v deno >/dev/null; then
		ko "$tool install, deno run example.ts: no deno (npm install: a devDependency)"
	else
		out=$(sandbox "$app" timeout 60 deno run -A example.ts 2>&1)
		[ "$out" = "$want" ] && ok "$tool install, deno example.ts: $out" || { echo "$out" >"$W/run.log"; ko "$tool install, deno run example.ts: want '$want'" "$W/run.log"; }
		lib=$(sandbox "$app" timeout 60 deno run -A which.mjs 2>&1)
		[ "$lib" = "$app/node_modules/@xbuf/$host/libxbuf.so" ] && ok "$tool install, deno loads $host" || ko "$tool install, deno loads '$lib', want @xbuf/$host"
		# The CLI from the package, under Deno: its deno condition is the built JS.
		# (stdout only: other processes' elements in /dev/shm may draw warnings on stderr)
		out=$(sandbox "$app" timeout 60 deno run -A cli.mjs ls 2>"$W/cli.err")
		# The header first; other processes' public elements may follow (a shared /dev/shm).
		echo "$out" | head -1 | grep -qE "^NAME +BACKEND +INBOUND +OUTBOUND$" && ok "$tool install, deno: xbuf/cli ls" || { { echo "$out"; cat "$W/cli.err"; } >"$W/run.log"; ko "$tool install, deno: xbuf/cli ls" "$W/run.log"; }
	fi
done
# No package for this machine: the error names the paths and XBUF_LIBRARY.
app=$W/app-bare
mkdir -p "$app"
echo "{ \"name\": \"smoke-bare\", \"private\": true, \"type\": \"module\", \"dependencies\": { \"xbuf\": \"file:$W/tgz/xbuf-$VERSION.tgz\" } }" >"$app/package.json"
cp "$example" "$app/"
sandbox "$app" npm install --offline --omit=optional --no-audit --no-fund --loglevel=error --cache "$W/npm-cache" >"$W/install-bare.log" 2>&1
out=$(sandbox "$app" timeout 60 bun example.ts 2>&1)
if echo "$out" | grep -q "XBUF_LIBRARY=" && echo "$out" | grep -q "node_modules/@xbuf/$host/libxbuf.so"; then
	ok "without the platform package: the error names @xbuf/$host's path and XBUF_LIBRARY"
else
	echo "$out" >"$W/run.log"
	ko "without the platform package: unclear error" "$W/run.log"
fi

# 4. arm64 under qemu-user: the C tests against the packaged library.
if ! command -v qemu-aarch64-static >/dev/null; then
	{ apt-get update -qq && apt-get install -y -qq --no-install-recommends qemu-user-static; } >"$W/apt.log" 2>&1 || ko "apt-get install qemu-user-static" "$W/apt.log"
fi
sysroot() { # debian-package: an arm64 runtime, downloaded (not installed) and unpacked into $CACHE
	local pkg=$1 dir=$CACHE/$1-arm64 apt
	[ -f "$dir/.done" ] && { echo "$dir"; return 0; }
	apt=$CACHE/apt
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$dir"
	echo 'deb [arch=arm64] http://deb.debian.org/debian bookworm main' >"$apt/sources.list"
	local opts=(-o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" -o APT::Architecture=arm64
		-o APT::Architectures::=arm64 -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null)
	{ [ -f "$apt/.updated" ] || { apt-get -qq "${opts[@]}" update && touch "$apt/.updated"; }; } >&2 || return 1
	(cd "$apt" && apt-get -qq "${opts[@]}" download "$pkg:arm64") >&2 2>/dev/null || return 1
	dpkg -x "$apt/${pkg}"_*_arm64.deb "$dir" || return 1
	# Absolute links (musl's /lib/ld-musl-aarch64.so.1 -> /usr/lib/...) would leave the sysroot.
	find "$dir" -type l | while read -r l; do
		t=$(readlink "$l")
		case $t in /*) ln -sf "$dir$t" "$l" ;; esac
	done
	touch "$dir/.done"
	echo "$dir"
}
# Not t_blocking nor t_handles: qemu-user 7.2 (Debian 12) has no futex_waitv
# (syscall 449, "Unknown syscall": ENOSYS), which every wait needs (t_handles
# waits when its ring fills); t_crossproc, t_stress: their peers are exec'd,
# which qemu-user without binfmt_misc cannot follow.
TESTS="t_smoke t_rw t_create"
for p in linux-arm64-gnu linux-arm64-musl; do
	case $p in
	*-gnu) target=aarch64-linux-gnu.2.28 deb=libc6 ;;
	*-musl) target=aarch64-linux-musl deb=musl ;;
	esac
	if [ ! -f "$W/npm/$p/libxbuf.so" ]; then ko "qemu $p: no package built"; continue; fi
	root=$(sysroot "$deb" 2>"$W/sysroot-$p.log") || { ko "qemu $p: the arm64 $deb runtime" "$W/sysroot-$p.log"; continue; }
	prefix=$W/tests-$p
	if ! tools/zig build -Dtarget="$target" --prefix "$prefix" >"$W/tests-$p.log" 2>&1; then
		ko "qemu $p: cross-build the C tests ($target)" "$W/tests-$p.log"
		continue
	fi
	rm -f "$prefix"/lib/libxbuf.so*	# the tests must load the packaged library
	for t in $TESTS; do
		timeout 120 env LD_LIBRARY_PATH="$W/npm/$p" qemu-aarch64-static -L "$root" "$prefix/bin/$t" >"$W/$p-$t.log" 2>&1
		case $? in
		0) ok "qemu $p $t" ;;
		77) sk "qemu $p $t: $(tail -n 1 "$W/$p-$t.log")" ;;
		*) ko "qemu $p $t" "$W/$p-$t.log" ;;
		esac
	done
done

echo "smoke: ($(($(date +%s) - start)) s)"
echo "smoke: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
