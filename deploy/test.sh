#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine, as root:
#   installs dependencies, builds, starts zfs-fuse if needed, runs unit then integration tests.
# Integration tests make their own uniquely named pools and agents and destroy them afterwards;
# they run while another zfs-fuse user is up.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build}

"$here/deploy/install-deps.sh"
"$here/deploy/build.sh"
"$here/deploy/zfs-testbed.sh" start

cd "$build"
echo "== unit tests"
ctest -L unit --output-on-failure -j "$(nproc)" --timeout 120
echo "== integration tests (real zfs-fuse, two agents on loopback)"
ctest -L integration --output-on-failure --timeout 600
