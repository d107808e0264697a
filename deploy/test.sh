#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine, as root:
#   installs dependencies, builds, starts zfs-fuse if needed, runs unit then integration tests,
#   then the OpenZFS lane: the integration tests again against OpenZFS 2.3 in a QEMU guest
#   (tests/openzfs/README.md; builds the guest image on first use, ~20 min in all).
# Integration tests make their own uniquely named pools and agents and destroy them afterwards;
# they run while another zfs-fuse user is up.
#
# ZREP_SKIP_OPENZFS_LANE=1 skips the lane (say, on a machine without network access to Debian's
# mirrors for the guest image); it is said loudly, never silently.
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

if [ "${ZREP_SKIP_OPENZFS_LANE:-0}" = 1 ]; then
  echo "== OpenZFS lane SKIPPED (ZREP_SKIP_OPENZFS_LANE=1): the OpenZFS-only features are untested"
  exit 0
fi
echo "== OpenZFS lane (integration tests against OpenZFS 2.3 in a QEMU guest)"
BUILD_DIR=$build "$here/tests/openzfs/run-lane.sh"
