#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# kmod/install.sh - install the xbuf kernel modules with DKMS, for every
# kernel DKMS builds for (and again on kernel upgrades), plus what lets
# ordinary users use them:
#   - the group "xbuf" (members may open /dev/xbuf/clone and /dev/xbuf/latmus)
#   - /etc/udev/rules.d/70-xbuf.rules (group and modes of those nodes)
#   - /etc/modprobe.d/xbuf.conf ("options xbuf group=<gid>": right without udev)
#   - /etc/modules-load.d/xbuf.conf (load at boot)
# then loads the modules. Run as root from the source tree:
#
#   sudo kmod/install.sh                     install, build for the running kernel, load
#   sudo kmod/install.sh --kernel 6.1.0-26-amd64 --no-load
#   sudo kmod/install.sh --uninstall
#
# Then: sudo usermod -aG xbuf <user> (a new login picks the group up).
# The test-only xbuf_selftest.ko is never built or installed here.
#
# Env: DESTDIR (prefix for the files under /etc, and no group/udevadm:
#      for packaging and CI), DKMS_ARGS (extra dkms options, e.g.
#      --dkmstree/--sourcetree/--installtree for a private tree).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$HERE")
NAME=xbuf
VER=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$HERE/dkms.conf")
KVER=$(uname -r)
LOAD=1
ACTION=install
DESTDIR=${DESTDIR:-}
DKMS_ARGS=${DKMS_ARGS:-}
# Where dkms looks for sources: /usr/src, or the --sourcetree of DKMS_ARGS.
SRCTREE=/usr/src
prev=
for a in $DKMS_ARGS; do
	[ "$prev" = --sourcetree ] && SRCTREE=$a
	prev=$a
done

while [ $# -gt 0 ]; do
	case $1 in
	--kernel) KVER=$2; shift ;;
	--no-load) LOAD=0 ;;
	--uninstall) ACTION=uninstall ;;
	*) echo "usage: $0 [--kernel KVER] [--no-load] [--uninstall]" >&2; exit 2 ;;
	esac
	shift
done

# shellcheck disable=SC2086
dkms_() { dkms $DKMS_ARGS "$@"; }

if [ "$ACTION" = uninstall ]; then
	[ "$LOAD" = 1 ] && { modprobe -r xbuf_latmus xbuf 2>/dev/null || true; }
	dkms_ remove "$NAME/$VER" --all 2>/dev/null || true
	rm -rf "$SRCTREE/$NAME-$VER"
	rm -f "$DESTDIR/etc/udev/rules.d/70-xbuf.rules" "$DESTDIR/etc/modprobe.d/xbuf.conf" \
		"$DESTDIR/etc/modules-load.d/xbuf.conf"
	echo "xbuf: uninstalled (the group xbuf is left in place)"
	exit 0
fi

command -v dkms >/dev/null || { echo "xbuf: dkms is not installed (apt-get install dkms)" >&2; exit 1; }

# The DKMS source tree: dkms.conf at the top, kmod/ and include/ beside it.
dkms_ remove "$NAME/$VER" --all >/dev/null 2>&1 || true
rm -rf "${SRCTREE:?}/$NAME-$VER"
mkdir -p "$SRCTREE/$NAME-$VER"
cp "$HERE/dkms.conf" "$SRCTREE/$NAME-$VER/dkms.conf"
mkdir -p "$SRCTREE/$NAME-$VER/kmod"
(cd "$HERE" && cp -R Kbuild Makefile ./*.c ./*.h include "$SRCTREE/$NAME-$VER/kmod/")
cp -R "$TOP/include" "$SRCTREE/$NAME-$VER/include"
dkms_ add "$NAME/$VER"
dkms_ build "$NAME/$VER" -k "$KVER"
dkms_ install "$NAME/$VER" -k "$KVER" --force

# Group, udev rule, module options.
if [ -z "$DESTDIR" ]; then
	getent group xbuf >/dev/null || groupadd --system xbuf
	GID=$(getent group xbuf | cut -d: -f3)
else
	GID=${XBUF_GID:-990}
fi
install -d "$DESTDIR/etc/udev/rules.d" "$DESTDIR/etc/modprobe.d" "$DESTDIR/etc/modules-load.d"
install -m 0644 "$HERE/70-xbuf.rules" "$DESTDIR/etc/udev/rules.d/70-xbuf.rules"
printf 'options xbuf group=%s\n' "$GID" >"$DESTDIR/etc/modprobe.d/xbuf.conf"
printf 'xbuf\nxbuf_latmus\n' >"$DESTDIR/etc/modules-load.d/xbuf.conf"
if [ -z "$DESTDIR" ] && command -v udevadm >/dev/null; then
	udevadm control --reload-rules 2>/dev/null || true
fi

if [ "$LOAD" = 1 ] && [ "$KVER" = "$(uname -r)" ]; then
	modprobe -r xbuf_latmus xbuf 2>/dev/null || true
	modprobe xbuf && modprobe xbuf_latmus
	if command -v udevadm >/dev/null; then
		udevadm trigger --subsystem-match=xbuf --subsystem-match=misc 2>/dev/null || true
	fi
fi
echo "xbuf $VER: installed for $KVER; add users to group xbuf (gid $GID): usermod -aG xbuf <user>"
