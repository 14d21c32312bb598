#!/usr/bin/env bash
# Check the built npm platform packages (tools/zig build packages) with
# readelf: each libxbuf.so is for the package's CPU, glibc ones need no
# GLIBC_ symbol version above the floor (2.28, the floor of build.zig's
# targets), musl ones none at all, and each exports the library's calls.
#   check-packages.sh [DIR]   DIR: where the packages are (zig-out/npm)
set -u
cd "$(dirname "$0")/.."
DIR=${1:-zig-out/npm}
FLOOR=2.28
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; }
for pkg in "$DIR"/linux-*; do
	[ -d "$pkg" ] || continue
	name=$(basename "$pkg") so=$pkg/libxbuf.so
	if [ ! -f "$so" ]; then ko "$name: no libxbuf.so"; continue; fi
	case $name in
	linux-x64-*) want="Advanced Micro Devices X86-64" ;;
	linux-arm64-*) want="AArch64" ;;
	*) want="?" ;;
	esac
	machine=$(readelf -h "$so" | sed -n 's/^ *Machine: *//p')
	[ "$machine" = "$want" ] && ok "$name: ELF machine $machine" || ko "$name: ELF machine '$machine', want '$want'"
	versions=$(readelf -V --wide "$so" | grep -Eo 'GLIBC_[0-9]+(\.[0-9]+)+' | sed 's/^GLIBC_//' | sort -uV)
	needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
	case $name in
	*-gnu)
		top=$(echo "$versions" | tail -n 1)
		if [ -n "$top" ] && [ "$(printf '%s\n%s\n' "$top" "$FLOOR" | sort -V | tail -n 1)" = "$FLOOR" ]; then
			ok "$name: glibc floor $FLOOR (highest symbol version GLIBC_$top)"
		else
			ko "$name: needs GLIBC_${top:-?}, above the floor $FLOOR: $(readelf -V --wide "$so" | grep -Eo "GLIBC_$top" | head -n 1)"
		fi
		echo "$needed" | grep -q 'libc\.so\.6' && ok "$name: NEEDED $needed" || ko "$name: NEEDED $needed (no libc.so.6)"
		;;
	*-musl)
		[ -z "$versions" ] && ok "$name: no GLIBC_ symbol version" || ko "$name: GLIBC_ versions in a musl library: $versions"
		echo "$needed" | grep -Eq '(^| )libc\.so( |$)' && ! echo "$needed" | grep -q 'libc\.so\.6' &&
			ok "$name: NEEDED $needed" || ko "$name: NEEDED $needed (want musl's libc.so)"
		;;
	esac
	missing=$(for sym in xbuf_create xbuf_open xbuf_read_begin evl_write_xbuf; do
		readelf --dyn-syms --wide "$so" | grep -Eq " $sym(@|$)" || echo -n "$sym "
	done)
	[ -z "$missing" ] && ok "$name: exports xbuf_create, xbuf_read_begin, evl_write_xbuf..." || ko "$name: does not export $missing"
done
[ $((pass + fail)) -gt 0 ] || ko "no package in $DIR (run tools/zig build packages)"
echo "packages: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
