#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine, as root:
#   installs dependencies, builds, starts zfs-fuse if needed, runs the unit tests and the
#   package tests (tests/package: the .deb CPack makes, and the bash completion);
#   the sanitizer builds (deploy/sanitizers.sh): ASan+UBSan unit tests and the zfs-fuse
#   integration tests with sanitized agents; TSan unit tests (in the background meanwhile);
#   the fuzz targets for a bounded time each (deploy/fuzz.sh, ZREP_FUZZ_SECONDS, default 20);
#   then the OpenZFS lane: the integration tests with the release build against OpenZFS 2.3 in
#   a QEMU guest (tests/openzfs/README.md). The lane's guest image is prepared in the
#   background while the code compiles (first use only; cached after that under the hash of
#   what goes into it).
# The zfs-fuse integration tests run once, with the ASan+UBSan agents (the lane runs the
# release build); ZREP_PLAIN_INTEGRATION=1 runs them with the release build too.
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
# Background jobs (the image preparation, the TSan run) do not outlive a failed run.
kill_tree() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}
on_exit() {
  local rc=$?
  for job in $(jobs -p); do kill_tree "$job"; done
  summary
  exit "$rc"
}
trap on_exit EXIT

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
echo "== package tests (the .deb: its files, Depends, the extracted binary, man page, completion, unit)"
ctest -L package --output-on-failure
phase "package tests" "$t"
if [ "${ZREP_PLAIN_INTEGRATION:-0}" = 1 ]; then
  t=$(date +%s)
  echo "== integration tests, release build (real zfs-fuse, two agents on loopback)"
  ctest -L integration --output-on-failure --timeout 600
  phase "integration tests (zfs-fuse, release build)" "$t"
fi
cd "$here"

# The TSan build and its unit tests run in the background, niced and on one core: the
# integration tests below mostly wait on zfs-fuse and leave the cores idle.
tsan_log=$build/tsan.log
echo "== TSan: build and unit tests in the background (log: $tsan_log)"
nice -n 10 env JOBS=1 "$here/deploy/sanitizers.sh" tsan >"$tsan_log" 2>&1 &
tsan_pid=$!
tsan_start=$(date +%s)

t=$(date +%s)
echo "== ASan+UBSan: unit tests, integration tests (real zfs-fuse, two sanitized agents)"
"$here/deploy/sanitizers.sh" asan
phase "ASan+UBSan build, unit and integration tests" "$t"
t=$(date +%s)
echo "== fuzzing: each target ${ZREP_FUZZ_SECONDS:-20} s (built with the ASan+UBSan build)"
BUILD_DIR=$here/build-asan FUZZ_SECONDS=${ZREP_FUZZ_SECONDS:-20} "$here/deploy/fuzz.sh"
phase "fuzz runs" "$t"
t=$(date +%s)
echo "== TSan: waiting for its build and unit tests"
if ! wait "$tsan_pid"; then
  echo "== TSan FAILED:" >&2
  tail -60 "$tsan_log" >&2
  exit 1
fi
tail -4 "$tsan_log"
phase "TSan: waiting (it ran $(($(date +%s) - tsan_start)) s in the background)" "$t"

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
