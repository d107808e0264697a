#!/usr/bin/env bash
# Sanitizer builds and their test runs:
#   build-asan/  AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer (clang, with
#                libFuzzer's coverage instrumentation: the same build holds the fuzz targets,
#                which deploy/fuzz.sh runs with BUILD_DIR=build-asan): the unit tests, then the
#                zfs-fuse integration tests, whose agents are the sanitized binary
#                (ZREP_AGENT_BINARY points into build-asan/);
#   build-tsan/  ThreadSanitizer (gcc): the unit tests.
# Only the targets the tests need are built (unit_tests, logic_tests, integration_tests, the
# agents and the fuzz targets).
# Any sanitizer report fails the run: the sanitizers abort the process at the first error, and
# reports of agents the integration tests start (which the tests may not notice) are written to
# build-*/sanitizer-logs/ and fail the run too.
#
# usage: deploy/sanitizers.sh [asan|tsan|all]     (default all)
# environment:
#   JOBS                 parallel compile jobs (default: the cores)
#   SAN_INTEGRATION=0    skip the integration tests of the ASan build
#   SAN_FILTER           ctest -R regexp for the ASan integration tests (default: all of them)
#   CMAKE_CXX_COMPILER_LAUNCHER  e.g. ccache (used when ccache is installed)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
what=${1:-all}
jobs=${JOBS:-$(nproc)}
launcher=${CMAKE_CXX_COMPILER_LAUNCHER:-$(command -v ccache || true)}

case $what in asan | tsan | all) ;; *)
  echo "usage: $0 [asan|tsan|all]" >&2
  exit 2
  ;;
esac

log() { printf '[sanitizers %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
now() { date +%s; }
declare -a TIMES=()

# -O1 -g1: line tables (reports name file and line), and it compiles much faster than -O2 -g.
configure() { # dir compiler flags [cmake options...]
  local dir=$1 cxx=$2 flags=$3
  shift 3
  # A build dir made with another compiler (an older version of this script) starts over.
  if [ -f "$dir/CMakeCache.txt" ] && ! grep -q "^CMAKE_CXX_COMPILER:[A-Z]*=.*$cxx\$" "$dir/CMakeCache.txt"; then
    log "$dir was configured with another compiler: starting it over"
    rm -rf "$dir"
  fi
  cmake -S "$here" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER="$cxx" \
    ${launcher:+-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher"} \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
    -DCMAKE_EXE_LINKER_FLAGS="$flags" "$@" >/dev/null
}

# Sanitizer reports the tests did not see (agents run in the background) fail the run.
check_logs() { # dir
  local logs=$1/sanitizer-logs
  if compgen -G "$logs/*" >/dev/null; then
    log "FAILED: sanitizer reports in $logs:"
    for f in "$logs"/*; do
      echo "----- $f" >&2
      head -60 "$f" >&2
    done
    return 1
  fi
}

# Runs a command in dir; fails when it fails or left sanitizer reports (printed either way).
run_checked() { # dir command...
  local dir=$1 rc=0
  shift
  (cd "$dir" && "$@") || rc=$?
  check_logs "$dir" || rc=1
  [ "$rc" = 0 ] || { log "FAILED ($*)"; exit 1; }
}

fresh_logs() { # dir
  rm -rf "$1/sanitizer-logs"
  mkdir -p "$1/sanitizer-logs"
}

run_asan() {
  local dir=$here/build-asan t
  # ZREP_FUZZ=ON adds -fsanitize=fuzzer-no-link,address,undefined (CMakeLists.txt); frame
  # pointers for the unwinder's stack traces.
  command -v clang++ >/dev/null || {
    log "clang++ not found (deploy/install-deps.sh installs clang and libclang-rt-14-dev)"
    exit 2
  }
  t=$(now)
  log "ASan+UBSan: configure and build into $dir (clang; the fuzz targets too)"
  configure "$dir" clang++ "-fno-omit-frame-pointer" -DZREP_FUZZ=ON
  local fuzz_targets
  fuzz_targets=$(sed -n 's/^set(ZREP_FUZZ_TARGETS \(.*\))$/\1/p' "$here/tests/fuzz/CMakeLists.txt")
  # shellcheck disable=SC2086
  cmake --build "$dir" -j "$jobs" --target unit_tests logic_tests integration_tests zrep-agent zrep-agent-test \
    $(printf 'fuzz_%s ' $fuzz_targets)
  TIMES+=("$(printf '%-36s %5ss' "asan build" $(($(now) - t)))")

  fresh_logs "$dir"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=1:log_path=$dir/sanitizer-logs/asan:log_exe_name=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$dir/sanitizer-logs/ubsan:log_exe_name=1"
  t=$(now)
  log "ASan+UBSan: unit tests"
  run_checked "$dir" ctest -L unit -j "$jobs" --output-on-failure --timeout 300
  TIMES+=("$(printf '%-36s %5ss' "asan unit tests" $(($(now) - t)))")

  if [ "${SAN_INTEGRATION:-1}" = 1 ]; then
    "$here/deploy/zfs-testbed.sh" start
    t=$(now)
    log "ASan+UBSan: integration tests (zfs-fuse; the agents are $dir/zrep-agent-test)"
    run_checked "$dir" ctest -L integration ${SAN_FILTER:+-R "$SAN_FILTER"} --output-on-failure --timeout 900
    TIMES+=("$(printf '%-36s %5ss' "asan integration tests" $(($(now) - t)))")
  fi
  unset ASAN_OPTIONS UBSAN_OPTIONS
}

run_tsan() {
  local dir=$here/build-tsan t
  # -Wno-tsan: gcc warns (an error with -Werror) that TSan does not model the standalone fences in
  # asio's headers; TSan sees the synchronisation through the mutexes and atomics around them.
  local flags="-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan"
  t=$(now)
  log "TSan: configure and build into $dir"
  configure "$dir" g++ "$flags"
  cmake --build "$dir" -j "$jobs" --target unit_tests logic_tests
  TIMES+=("$(printf '%-36s %5ss' "tsan build" $(($(now) - t)))")

  fresh_logs "$dir"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$dir/sanitizer-logs/tsan:log_exe_name=1"
  t=$(now)
  log "TSan: unit tests"
  run_checked "$dir" ctest -L unit -j "$jobs" --output-on-failure --timeout 300
  TIMES+=("$(printf '%-36s %5ss' "tsan unit tests" $(($(now) - t)))")
  unset TSAN_OPTIONS
}

case $what in
  asan) run_asan ;;
  tsan) run_tsan ;;
  all)
    run_asan
    run_tsan
    ;;
esac
log "clean; times:"
printf '  %s\n' "${TIMES[@]}" >&2
