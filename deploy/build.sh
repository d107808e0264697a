#!/usr/bin/env bash
# Configures and builds zrep-agent and its tests into build/ (or $BUILD_DIR).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build}
jobs=${JOBS:-$(nproc)}
# ccache, when installed, makes a rebuild of unchanged files nearly free (another build dir,
# another checkout: CCACHE_BASEDIR makes their paths alike).
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(dirname "$here")} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
  export CCACHE_DIR=${CCACHE_DIR:-/var/tmp/ccache}
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
    ${launcher[@]+"${launcher[@]}"} >/dev/null
fi
cmake --build "$build" -j "$jobs"
