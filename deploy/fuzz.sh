#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) into build-fuzz/ with clang (ASan+UBSan), then runs
# each for a bounded time on a copy of its seed corpus (tests/fuzz/corpus/<target>/). Fails on
# any crash, leak, timeout or sanitizer report; prints the executions per target.
#
# usage: deploy/fuzz.sh [TARGET...]        (default: every target)
#        deploy/fuzz.sh --seeds            rewrite tests/fuzz/corpus/ from tests/fuzz/make_corpus.cc
# environment:
#   FUZZ_SECONDS   run time of each target (default 30)
#   JOBS           parallel compile jobs (default: the cores)
#   BUILD_DIR      default REPO/build-fuzz (.ci/run: build-asan, made by deploy/sanitizers.sh)
# A crash leaves its input in BUILD_DIR/artifacts/ (reproduce: BUILD_DIR/tests/fuzz/fuzz_T FILE).
# New inputs found stay in BUILD_DIR/corpus/<target>/ (not in the repo).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build-fuzz}
secs=${FUZZ_SECONDS:-30}
jobs=${JOBS:-$(nproc)}
all=(frame data_block stream_header config peer_request peer_dispatch)
launcher=${CMAKE_CXX_COMPILER_LAUNCHER:-$(command -v ccache || true)}

log() { printf '[fuzz %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

command -v clang++ >/dev/null || {
  log "clang++ not found (deploy/install-deps.sh installs clang and libclang-rt-14-dev)"
  exit 2
}
# A build dir configured already is used as it is (deploy/sanitizers.sh's build-asan/ holds the
# fuzz targets too: .ci/run builds them once).
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++ ${launcher:+-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher"} \
    -DZREP_FUZZ=ON >/dev/null
fi
grep -q '^ZREP_FUZZ:BOOL=ON' "$build/CMakeCache.txt" || {
  log "$build is not a fuzz build (configure it with clang++ and -DZREP_FUZZ=ON)"
  exit 2
}

if [ "${1:-}" = --seeds ]; then
  cmake --build "$build" -j "$jobs" --target fuzz_make_corpus
  "$build/tests/fuzz/fuzz_make_corpus" "$here/tests/fuzz/corpus"
  cp "$here/deploy/zrep-agent.toml.example" "$here/tests/fuzz/corpus/config/example"
  log "seeds written to tests/fuzz/corpus/"
  exit 0
fi

targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=("${all[@]}")
t0=$(date +%s)
cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz_}"
log "build: $(($(date +%s) - t0)) s"

mkdir -p "$build/artifacts"
declare -a summary=()
failed=0
for t in "${targets[@]}"; do
  seeds=$here/tests/fuzz/corpus/$t
  work=$build/corpus/$t
  mkdir -p "$work"
  out=$build/fuzz-$t.log
  log "$t: ${secs} s"
  rc=0
  # -timeout: one input taking over 10 s is a finding (a hang); -rss_limit_mb: so is 2 GiB.
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" "$work" "$seeds" \
    >"$out" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$out" | tail -1 | cut -d' ' -f2)
  if [ "$rc" != 0 ]; then
    failed=1
    summary+=("$(printf '%-14s FAILED (exit %s) after %s executions; see %s' "$t" "$rc" "${execs:-?}" "$out")")
    grep -E 'ERROR:|SUMMARY:|invariant failed|Test unit written' "$out" | head -10 >&2 || true
  else
    summary+=("$(printf '%-14s %12s executions in %s s, coverage %s, corpus %s' "$t" "${execs:-?}" \
      "$secs" "${cov:-?}" "$(find "$work" -type f | wc -l)")")
  fi
done
log "results:"
printf '  %s\n' "${summary[@]}" >&2
exit "$failed"
