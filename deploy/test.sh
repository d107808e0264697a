#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine, as root:
#   installs dependencies, builds, starts zfs-fuse if needed, runs unit then integration tests,
#   then the OpenZFS lane: the integration tests again against OpenZFS 2.3 in a QEMU guest
#   (tests/openzfs/README.md). The lane's guest image is prepared in the background while the
#   code compiles (first use only; cached after that under the hash of what goes into it).
# Integration tests make their own uniquely named pools and agents and destroy them afterwards;
# they run while another zfs-fuse user is up.
#
# The whole run keeps to a time limit (ZREP_SUITE_LIMIT seconds, default 3480 = 58 min): the
# lane scales its budget to the speed it measures in its guest, but never past what is left.
#
# ZREP_SKIP_OPENZFS_LANE=1 skips the lane (say, on a machine without network access to Debian's
# mirrors for the guest image); it is said loudly, never silently.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build}
start=$(date +%s)
export ZREP_SUITE_DEADLINE=${ZREP_SUITE_DEADLINE:-$((start + ${ZREP_SUITE_LIMIT:-3480}))}
PHASES=()
phase() { PHASES+=("$(printf '  %-52s %5d s' "$1" "$(($(date +%s) - $2))")"); }
summary() {
  echo "== time per phase"
  printf '%s\n' "${PHASES[@]}"
  printf '  %-52s %5d s\n' "in all" "$(($(date +%s) - start))"
}
trap summary EXIT

t=$(date +%s)
"$here/deploy/install-deps.sh"
phase "install dependencies" "$t"

lane=1
[ "${ZREP_SKIP_OPENZFS_LANE:-0}" = 1 ] && lane=0
prep_pid=
if [ "$lane" = 1 ]; then
  # Downloads and the DKMS build of the guest image overlap with the compile below.
  prep_log=${OZFS_DIR:-/var/tmp/ozfs}/prepare.log
  mkdir -p "$(dirname "$prep_log")"
  echo "== OpenZFS lane: preparing its guest image in the background (log: $prep_log)"
  "$here/tests/openzfs/run-lane.sh" -P >"$prep_log" 2>&1 &
  prep_pid=$!
fi

t=$(date +%s)
"$here/deploy/build.sh"
"$here/deploy/zfs-testbed.sh" start
phase "build" "$t"

cd "$build"
t=$(date +%s)
echo "== unit tests"
ctest -L unit --output-on-failure -j "$(nproc)" --timeout 120
phase "unit tests" "$t"
t=$(date +%s)
echo "== integration tests (real zfs-fuse, two agents on loopback)"
ctest -L integration --output-on-failure --timeout 600
phase "integration tests (zfs-fuse)" "$t"

if [ "$lane" = 0 ]; then
  echo "== OpenZFS lane SKIPPED (ZREP_SKIP_OPENZFS_LANE=1): the OpenZFS-only features are untested"
  exit 0
fi
t=$(date +%s)
if ! wait "$prep_pid"; then
  echo "== the guest image's background preparation failed (the lane tries again):" >&2
  tail -15 "$prep_log" >&2 || true
fi
phase "OpenZFS lane: waiting for the image preparation" "$t"
t=$(date +%s)
echo "== OpenZFS lane (integration tests against OpenZFS 2.3 in a QEMU guest)"
BUILD_DIR=$build "$here/tests/openzfs/run-lane.sh"
phase "OpenZFS lane" "$t"
