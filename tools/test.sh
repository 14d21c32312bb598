#!/usr/bin/env bash
# Every test, from a fresh machine: install, build, run test/run.sh.
set -eu
cd "$(dirname "$0")/.."
bash tools/install.sh
exec bash test/run.sh
