#!/bin/busybox sh
# SPDX-License-Identifier: MIT
#
# /init of the test guest: loads the modules, runs every /tests/t_* program
# (exit 0 pass, 1 fail, 77 skip), scans the kernel log after each, unloads
# the modules (which proves every element and file reference was released)
# and powers off. The host (run.sh) reads the KTEST lines on the serial port.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp && mount -t tmpfs tmpfs /tmp

pass=0
fail=0
skip=0
BAD='BUG:|WARNING:|Oops|Call Trace|KASAN|UBSAN|general protection|Kernel panic|refcount_t|list_del corruption|INFO: task .* blocked'

result() {	# name status
	echo "KTEST $1 $2"
	case $2 in
	PASS) pass=$((pass + 1)) ;;
	SKIP) skip=$((skip + 1)) ;;
	*) fail=$((fail + 1)) ;;
	esac
}

kernel_clean() {	# name: fails the step if the kernel complained
	if dmesg -c | grep -E "$BAD" >/tmp/bad; then
		echo "KTEST $1: kernel log:"
		cat /tmp/bad
		return 1
	fi
	return 0
}

dmesg -c >/dev/null
ok=PASS
for m in xbuf xbuf_latmus xbuf_selftest; do
	insmod /lib/modules/$m.ko || ok=FAIL
done
[ -c /dev/xbuf/clone ] && [ -c /dev/xbuf/latmus ] && [ -c /dev/xbuf/selftest ] || ok=FAIL
kernel_clean insmod || ok=FAIL
result insmod $ok

for t in /tests/t_*; do
	name=${t##*/}
	echo "KTEST-RUN $name"
	timeout 300 $t
	rc=$?
	case $rc in
	0) st=PASS ;;
	77) st=SKIP ;;
	*) st="FAIL(rc=$rc)" ;;
	esac
	kernel_clean $name || st="FAIL(kernel)"
	result $name "$st"
done

ok=PASS
ls /dev/xbuf/ | grep -v -E '^(clone|latmus|selftest)$' && { echo "leftover nodes"; ok=FAIL; }
for m in xbuf_selftest xbuf_latmus xbuf; do
	rmmod $m || ok=FAIL
done
[ -e /dev/xbuf/clone ] && ok=FAIL
kernel_clean rmmod || ok=FAIL
result rmmod $ok

echo "KTEST-SUMMARY: $pass passed, $fail failed, $skip skipped"
sync
poweroff -f
