#!/usr/bin/env bash
# Install what a fresh machine lacks: the C toolchain bits, Zig (pinned, from
# PyPI), the npm packages (Bun, vitest, tsup...), then build libxbuf and the
# C programs. Idempotent: a second run installs nothing.
set -eu
cd "$(dirname "$0")/.."
ZIG_VERSION=0.15.2

if ! command -v gcc >/dev/null || ! command -v bc >/dev/null || ! command -v python3 >/dev/null; then
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends gcc libc6-dev bc python3 python3-pip >/dev/null
fi
pip show ziglang 2>/dev/null | grep -qx "Version: $ZIG_VERSION" ||
	pip install -q "ziglang==$ZIG_VERSION" || pip install -q --break-system-packages "ziglang==$ZIG_VERSION"
if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund --loglevel=error
fi
python3 -m ziglang build
