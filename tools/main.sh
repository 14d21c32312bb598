#!/usr/bin/env bash
# The main job, from a fresh machine: install, build, run.
set -eu
cd "$(dirname "$0")/.."
bash tools/install.sh
export PATH="$PWD/node_modules/.bin:$PATH"
exec bun src/cli/main.ts latmus -T "${1:-10}"
