#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test/kernel/run.sh - the one entry point of the kernel backend's tests.
#
#  1. installs what it needs from Debian (idempotent);
#  2. fetches the Debian kernel image matching the installed headers
#     (apt-get download + dpkg-deb -x into a cache dir: never installed);
#  3. builds kmod/ with W=1 (and sparse, C=2) and fails on any warning,
#     then installs it the way a user does, with DKMS (kmod/install.sh:
#     dkms add/build/install for the guest's kernel, in a private DKMS
#     tree under the work dir, udev rule and modprobe options under a
#     DESTDIR there); the guest loads the DKMS-built xbuf.ko and
#     xbuf_latmus.ko, and the test-only xbuf_selftest.ko of the W=1 build;
#  4. builds the guest tests (static C: the raw-uapi t_*.c, and t_lib_*.c
#     linked with libxbuf's csrc/*.c, which run the library's kernel
#     backend), libxbuf.so for Bun, and an initramfs with busybox and the
#     9p modules of the same kernel;
#  5. boots the kernel in QEMU (TCG) with the host's root shared read-only
#     over 9p; the guest runs the C tests, then test/ts/kernel.test.ts and
#     test/ts/api.test.ts with
#     the host's Bun in a chroot of that share (XBUF_BACKEND=kernel), and
#     powers off;
#  6. fails on any test failure, kernel splat, or timeout.
# Last line: "N passed, N failed".
#
# Env: XBUF_KTEST_DIR (work/cache dir, default /tmp/xbuf-ktest),
#      XBUF_KTEST_TIMEOUT (seconds for the guest, default 1200, plus what
#      longer soaks below add),
#      XBUF_KTEST_SMP (guest CPUs, default 2),
#      XBUF_KTEST_BUN (0: skip the Bun test in the guest, default 1),
#      XBUF_KTEST_ONLY (guest C tests to build and run, by name, e.g.
#      "t_eos t_eidrm"; default: all of test/kernel/tests/t_*.c),
#      XBUF_KSOAK_SECS (t_lib_soak's duration, default 60, at most 600),
#      XBUF_BUN_KSOAK_SECS (the Bun kernel soak's, default 60),
#      XBUF_BUN_KSOAK_LOOP (how many Bun kernel soaks, default 1),
#      XBUF_BUN_KSOAK_ONLY (1: the guest runs only the Bun kernel soak);
#      the last four go to the guest on the kernel command line.
#      The 10-minute kernel soaks (test/reliability/run.sh --full):
#      XBUF_KSOAK_SECS=600 XBUF_BUN_KSOAK_SECS=600 XBUF_KTEST_ONLY=t_lib_soak
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${XBUF_KTEST_DIR:-/tmp/xbuf-ktest}
# Soaks longer than the default 60 s (or more of them) lengthen the guest's run by as much.
TIMEOUT=${XBUF_KTEST_TIMEOUT:-$((1200 + ${XBUF_KSOAK_SECS:-60} - 60 + (${XBUF_BUN_KSOAK_SECS:-60} + 120) * ${XBUF_BUN_KSOAK_LOOP:-1} - 180))}
SMP=${XBUF_KTEST_SMP:-2}
BUN_TEST=${XBUF_KTEST_BUN:-1}
ONLY=${XBUF_KTEST_ONLY:-}
BUN=$ROOT/node_modules/bun/bin/bun.exe
PASS=0
FAIL=0

log() { echo "run.sh: $*"; }
pass() { PASS=$((PASS + 1)); echo "KTEST-HOST $1 PASS"; }
fail() { FAIL=$((FAIL + 1)); echo "KTEST-HOST $1 FAIL${2:+: $2}"; }
finish() {
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ]
	exit $?
}
die() { fail "$1" "$2"; finish; }

mkdir -p "$WORK"

# 1. Packages.
PKGS="qemu-system-x86 linux-headers-amd64 busybox-static cpio kmod sparse gcc make libc6-dev xz-utils gzip binutils dkms"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	log "installing:$missing"
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing) \
		>"$WORK/apt.log" 2>&1 || { tail -20 "$WORK/apt.log"; die packages "apt-get install failed"; }
fi

# 2. The kernel image matching the headers, exactly.
HDR_PKG=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 | sed -n 's/.*\(linux-headers-[^ ,]*-amd64\).*/\1/p')
KVER=${HDR_PKG#linux-headers-}
HDR_VER=$(dpkg-query -W -f='${Version}' "$HDR_PKG")
KDIR=/usr/src/linux-headers-$KVER
[ -d "$KDIR" ] || die headers "no $KDIR"
IMG_DIR=$WORK/image-$KVER-$HDR_VER
if [ ! -f "$IMG_DIR/boot/vmlinuz-$KVER" ]; then
	rm -rf "$WORK/deb" "$IMG_DIR" && mkdir -p "$WORK/deb"
	(cd "$WORK/deb" && apt-get download "linux-image-$KVER=$HDR_VER") >"$WORK/download.log" 2>&1 ||
		(apt-get update -qq && cd "$WORK/deb" && apt-get download "linux-image-$KVER=$HDR_VER") >>"$WORK/download.log" 2>&1 ||
		{ cat "$WORK/download.log"; die image "cannot download linux-image-$KVER=$HDR_VER"; }
	DEB=$(ls "$WORK"/deb/linux-image-"$KVER"_*.deb)
	[ "$(dpkg-deb -f "$DEB" Version)" = "$HDR_VER" ] || die image "image/headers version mismatch"
	dpkg-deb -x "$DEB" "$IMG_DIR.tmp" && mv "$IMG_DIR.tmp" "$IMG_DIR"
	rm -rf "$WORK/deb"
fi
VMLINUZ=$IMG_DIR/boot/vmlinuz-$KVER
log "kernel $KVER ($HDR_VER)"

# Uncompressed vmlinux boots through PVH, about twice as fast as bzImage
# under TCG (extract-vmlinux's method: find the compressed payload).
KERNEL=$VMLINUZ
VMLINUX=$IMG_DIR/vmlinux
if [ ! -s "$VMLINUX" ]; then
	for off in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$VMLINUZ" | cut -d: -f1); do
		tail -c +$((off + 1)) "$VMLINUZ" | xz -dc >"$VMLINUX.tmp" 2>/dev/null
		if [ "$(head -c 4 "$VMLINUX.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
			mv "$VMLINUX.tmp" "$VMLINUX"
			break
		fi
	done
	rm -f "$VMLINUX.tmp"
fi
if [ -s "$VMLINUX" ] && readelf -n "$VMLINUX" 2>/dev/null | grep -q 'Xen'; then
	KERNEL=$VMLINUX
fi
log "booting $(basename "$KERNEL")"

# 3. The modules, out of a copy of the tree (keeps kmod/ clean), W=1 + sparse.
SRC=$WORK/src
rm -rf "$SRC" && mkdir -p "$SRC"
cp -a "$ROOT/kmod" "$SRC/kmod" && cp -a "$ROOT/include" "$SRC/include"
(cd "$SRC/kmod" && make -s clean KDIR="$KDIR" >/dev/null 2>&1)
make -C "$SRC/kmod" KDIR="$KDIR" XBUF_SELFTEST=1 W=1 -j2 >"$WORK/build.log" 2>&1
rc=$?
if [ $rc -ne 0 ] || grep -E 'warning:|error:' "$WORK/build.log" | grep -E "$SRC/(kmod|csrc)" >/dev/null; then
	grep -E 'warning:|error:' "$WORK/build.log" | head -40
	die build-W1 "module build failed or warned"
fi
pass build-W1
if command -v sparse >/dev/null; then
	(cd "$SRC/kmod" && make -s clean KDIR="$KDIR" >/dev/null 2>&1)
	make -C "$SRC/kmod" KDIR="$KDIR" XBUF_SELFTEST=1 W=1 C=2 CHECK=sparse -j2 >"$WORK/sparse.log" 2>&1
	rc=$?
	if [ $rc -ne 0 ] || grep -E "$SRC/(kmod|csrc)[^:]*:[0-9]+:[0-9]+: (warning|error)" "$WORK/sparse.log" >/dev/null; then
		grep -E "(warning|error)" "$WORK/sparse.log" | head -40
		fail sparse "sparse reported problems in our files"
	else
		pass sparse
	fi
fi
for m in xbuf xbuf_latmus xbuf_selftest; do
	[ -f "$SRC/kmod/$m.ko" ] || die build-W1 "$m.ko missing"
	modinfo -F vermagic "$SRC/kmod/$m.ko" | grep -q "^$KVER " || die vermagic "$m.ko is not for $KVER"
done

# 3b. DKMS. The headers are the guest kernel's, not the host's running
# one: -k $KVER (install.sh --kernel). Outside $WORK, dkms only makes its
# signing key (/var/lib/dkms/mok.*) and runs depmod for $KVER (the index
# files of /lib/modules/$KVER, a kernel this host does not run).
DK=$WORK/dkms
rm -rf "$DK" && mkdir -p "$DK/tree" "$DK/src" "$DK/inst/$KVER" "$DK/root" "$DK/ko"
DKMS_ARGS="--dkmstree $DK/tree --sourcetree $DK/src --installtree $DK/inst" DESTDIR=$DK/root \
	sh "$ROOT/kmod/install.sh" --kernel "$KVER" --no-load >"$WORK/dkms.log" 2>&1 ||
	{ tail -30 "$WORK/dkms.log"; die dkms "kmod/install.sh (dkms add/build/install) failed"; }
dkms_ok=1
for m in xbuf xbuf_latmus; do
	f=$(ls "$DK/inst/$KVER/updates/dkms/$m.ko"* 2>/dev/null | head -1)
	[ -n "$f" ] || { dkms_ok=0; echo "dkms: no $m.ko installed"; continue; }
	case $f in
	*.xz) xz -dc "$f" ;;
	*.zst) zstd -dc "$f" ;;
	*) cat "$f" ;;
	esac >"$DK/ko/$m.ko"
	modinfo -F vermagic "$DK/ko/$m.ko" | grep -q "^$KVER " || { dkms_ok=0; echo "dkms: $m.ko is not for $KVER"; }
	[ "$(modinfo -F srcversion "$DK/ko/$m.ko")" = "$(modinfo -F srcversion "$SRC/kmod/$m.ko")" ] ||
		{ dkms_ok=0; echo "dkms: $m.ko differs from the tree's sources"; }
done
ls "$DK/inst/$KVER/updates/dkms/" | grep -q selftest && { dkms_ok=0; echo "dkms: installed the test-only module"; }
for f in etc/udev/rules.d/70-xbuf.rules etc/modprobe.d/xbuf.conf etc/modules-load.d/xbuf.conf; do
	[ -f "$DK/root/$f" ] || { dkms_ok=0; echo "dkms: install.sh did not install /$f"; }
done
[ $dkms_ok = 1 ] && pass dkms || fail dkms "see $WORK/dkms.log"

# 4. Guest tests and initramfs.
INITRD=$WORK/initramfs
rm -rf "$INITRD" && mkdir -p "$INITRD"/{bin,dev,proc,sys,tmp,tests,lib/modules}
cp /bin/busybox "$INITRD/bin/busybox"
cp "$SRC"/kmod/*.ko "$INITRD/lib/modules/"
if [ $dkms_ok = 1 ]; then
	cp "$DK/ko/xbuf.ko" "$DK/ko/xbuf_latmus.ko" "$INITRD/lib/modules/" && touch "$INITRD/lib/modules/dkms.ok"
fi
install -m 755 "$ROOT/test/kernel/guest-init.sh" "$INITRD/init"
# The guest's diagnostics tool (guest-init's dump of a hung run).
gcc -static -O2 -I"$ROOT/include" "$ROOT/test/kernel/tools/kdump.c" -o "$INITRD/kdump" 2>"$WORK/cc-kdump.log" ||
	{ cat "$WORK/cc-kdump.log"; die cc-kdump "build failed"; }

# libxbuf from the tree as it is now: a static archive for the t_lib_*
# tests, a shared library for Bun (built here, not taken from zig-out, so
# the guest always runs the sources under test).
LIBOBJ=$WORK/libobj
rm -rf "$LIBOBJ" && mkdir -p "$LIBOBJ"
LIBFLAGS="$(tr "\n" " " < "$ROOT/csrc/cflags") -O2 -g -pthread -I$ROOT/include"	# the library's one flag list
for c in "$ROOT"/csrc/*.c; do
	gcc $LIBFLAGS -c "$c" -o "$LIBOBJ/$(basename "$c" .c).o" 2>>"$WORK/cc-libxbuf.log" ||
		{ cat "$WORK/cc-libxbuf.log"; die cc-libxbuf "library build failed"; }
done
rm -f "$WORK/libxbuf.a"	# ar adds to an archive: a stale one would keep objects that no longer exist
ar rcs "$WORK/libxbuf.a" "$LIBOBJ"/*.o
gcc $LIBFLAGS -shared -fPIC "$ROOT"/csrc/*.c -Wl,--version-script="$ROOT/csrc/libxbuf.map" \
	-o "$INITRD/libxbuf.so" 2>>"$WORK/cc-libxbuf.log" ||
	{ cat "$WORK/cc-libxbuf.log"; die cc-libxbuf "shared library build failed"; }
pass build-libxbuf

for t in "$ROOT"/test/kernel/tests/t_*.c; do
	n=$(basename "$t" .c)
	if [ -n "$ONLY" ]; then
		case " $ONLY " in *" $n "*) ;; *) continue ;; esac
	fi
	lib=""
	case $n in t_lib_*) lib="$WORK/libxbuf.a" ;; esac
	gcc -static $(tr "\n" " " < "$ROOT/csrc/cflags") -O2 -g -pthread -I"$ROOT/include" -I"$ROOT/test" \
		"$t" $lib -o "$INITRD/tests/$n" 2>"$WORK/cc-$n.log" ||
		{ cat "$WORK/cc-$n.log"; die "cc-$n" "test build failed"; }
done

# The Bun test: the guest mounts the host's / (9p, read-only) and runs
# the host's Bun on it. The 9p stack is modular in Debian's kernel: take
# the modules of the booted kernel, in dependency order.
VIRTFS=()
if [ "$BUN_TEST" = 1 ]; then
	[ -x "$BUN" ] || die bun "no $BUN (npm install first, or XBUF_KTEST_BUN=0)"
	MODDIR=$IMG_DIR/lib/modules/$KVER/kernel
	mkdir -p "$INITRD/lib/modules/9p"
	i=0
	for m in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev \
		 drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci net/9p/9pnet \
		 net/9p/9pnet_virtio fs/netfs/netfs fs/fscache/fscache fs/9p/9p; do
		f=$(ls "$MODDIR/$m.ko"* 2>/dev/null | head -1)
		[ -n "$f" ] || die bun "no $m module in the kernel image"
		case $f in
		*.xz) xz -dc "$f" ;;
		*.zst) zstd -dc "$f" ;;
		*) cat "$f" ;;
		esac >"$INITRD/lib/modules/9p/$(printf '%02d' $i)-$(basename "$m").ko"
		i=$((i + 1))
	done
	printf 'XBUF_ROOT=%s\n' "$ROOT" >"$INITRD/bun.env"
	VIRTFS=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
		-virtfs "local,path=$ROOT,mount_tag=repo,security_model=none,readonly=on,multidevs=remap")
fi
(cd "$INITRD" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$WORK/initramfs.cpio.gz"

# Settings for the guest's /init: the kernel hands unknown name=value
# parameters of its command line to init's environment.
GUEST_ENV=""
for v in XBUF_KSOAK_SECS XBUF_BUN_KSOAK_SECS XBUF_BUN_KSOAK_LOOP XBUF_BUN_KSOAK_ONLY; do
	val=${!v:-}
	case $val in
	"") ;;
	*[!0-9]*) die guest-env "$v must be a number, not '$val'" ;;
	*) GUEST_ENV="$GUEST_ENV $v=$val" ;;
	esac
done
[ -n "$GUEST_ENV" ] && log "guest settings:$GUEST_ENV"

# 5. Boot. -cpu max: Bun's build needs AVX2 and friends, which the default
# qemu64 model lacks (SIGILL) and TCG emulates since QEMU 7.2.
SERIAL=$WORK/serial.log
log "QEMU TCG, $SMP CPUs, timeout ${TIMEOUT}s; serial log: $SERIAL"
timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -smp "$SMP" -m 1536 \
	-nographic -no-reboot -kernel "$KERNEL" -initrd "$WORK/initramfs.cpio.gz" "${VIRTFS[@]}" \
	-append "console=ttyS0 panic=-1 loglevel=4 quiet oops=panic softlockup_panic=1$GUEST_ENV" \
	</dev/null >"$SERIAL" 2>&1
qrc=$?
# Everything the guest printed from the first test on (test output, CHECK failures).
tr -d '\r' <"$SERIAL" | sed -n '/KTEST/,$p' | sed 's/^.*\(KTEST\)/\1/'

# 6. Verdict.
[ $qrc -eq 124 ] && fail qemu "timeout after ${TIMEOUT}s"
if grep -aE 'BUG:|WARNING:|Oops|Call Trace|KASAN|UBSAN|general protection|Kernel panic' "$SERIAL" >/dev/null; then
	grep -aE -A20 'BUG:|WARNING:|Oops|Call Trace|KASAN|UBSAN|general protection|Kernel panic' "$SERIAL" | head -60
	fail kernel-log "kernel splat on the serial console"
fi
while read -r _ name status; do
	case $status in
	PASS) pass "guest:$name" ;;
	SKIP) echo "KTEST-HOST guest:$name SKIP" ;;
	*) fail "guest:$name" "$status" ;;
	esac
done < <(tr -d '\r' <"$SERIAL" | grep -aoE 'KTEST [^ :]+ (PASS|SKIP|FAIL[^ ]*)$')
tr -d '\r' <"$SERIAL" | grep -aq '^KTEST-SUMMARY:' || fail guest "no summary line: the guest did not finish"
finish
