#!/bin/bash
# run-lane.sh -- the OpenZFS test lane: runs the integration tests (build/tests/integration_tests)
# against real OpenZFS 2.x (kernel module) in a QEMU guest, instead of zfs-fuse.
#
# usage (as root):  tests/openzfs/run-lane.sh [options]
#   -f FILTER   gtest filter (env LANE_FILTER), e.g. -f 'Replication.*-*Lost*'; default: every
#               test but those tests/openzfs/lane-skip.txt leaves to the zfs-fuse suite
#   -a          every test (filter '*')
#   -t SECS     timeout of each test at the reference speed (default 300, env LANE_TEST_TIMEOUT;
#               scaled by the measured speed, at most 3x)
#   -B SECS     cap of the lane's test time, whatever the measured speed (env LANE_CAP_SECS;
#               default: what is left of the whole run's limit, ZREP_SUITE_DEADLINE, set by
#               deploy/test.sh to 58 min after its start; without it 2400 s)
#   -j N        tests side by side in the guest (default 2, env LANE_JOBS; its 2 vCPUs are
#               mostly idle with one: a test is a chain of short zfs and agent processes)
#   -R          record: rewrite tests/openzfs/lane-times.tsv from this run's per-test times
#   -P          prepare only: build the guest image's system (no extra packages, no build dir
#               needed) and exit; deploy/test.sh runs this in the background while it compiles
#   -b          run deploy/build.sh first even if the build dir has binaries (incremental)
#   -k          keep the staged copy of the binaries and sources in the run dir
#   -h          this help
# environment:
#   BUILD_DIR     build dir with zrep-agent and tests/integration_tests (default REPO/build;
#                 built with deploy/build.sh when missing)
#   OZFS_VM_DIR   the OpenZFS VM rig (make-openzfs-vm.sh, run-in-vm.sh); default
#                 tests/openzfs/vm (a copy of the team's shared/openzfs-vm)
#   OZFS_DIR      the rig's work dir: image, runs (default /var/tmp/ozfs)
#   OZFS_ACCEL    kvm or tcg (default: kvm when /dev/kvm opens and the CPU shows vmx/svm, else tcg)
#   LANE_DIR      where run dirs (logs, results) are kept (default $OZFS_DIR/lane; last 5 kept)
#   OZFS_MEM / OZFS_CPUS   guest RAM in MiB (default 3072) and vCPUs (default 2)
#   LANE_EXTRA_PKGS        Debian packages for the guest besides the binaries' libraries
#   LANE_FIRST    extended regexp of tests run before all others (default: the OpenZFS-only
#                 suites, which nothing else runs); the rest run cheapest first (lane-times.tsv)
#   LANE_MARGIN   the budget is the estimate (lane-times.tsv x the guest's speed) times this,
#                 plus 300 s, up to the cap (default 2)
#
# What it does: (1) builds or reuses the guest image: it is cached under the hash of what goes
# into it (the rig's scripts, the suites, EXTRA_PKGS = the Debian packages of the shared
# libraries the binaries link, found with ldd + dpkg -S) and rebuilt only when that changes;
# (2) stages a snapshot of the binaries and the source files into a run dir shared with the
# guest; (3) in the guest (tests/openzfs/guest-run.sh) loads zfs, times a short ZFS workload
# (the speed probe) and scales the budget by it, copies the binaries to the very absolute paths
# compiled into the test binary (ZREP_AGENT_BINARY, ZREP_SOURCE_DIR), and runs every test in
# its own process with a timeout, like ctest; (4) prints a gtest-style summary, the budget it
# chose and the slowest tests. deploy/zfs-testbed.sh start is a no-op there ('zpool list'
# answers); the tests make their pools on sparse files under /var/tmp of the guest.
#
# exit: 0 all tests passed; 1 a test failed, timed out or was not run; 124 the guest hit the
# lane's time budget; 125 the guest did not report (boot failure: see the run dir); 2 usage or
# setup error.
set -euo pipefail

T0=$(date +%s)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO/build}
OZFS_VM_DIR=${OZFS_VM_DIR:-$HERE/vm}
export OZFS_DIR=${OZFS_DIR:-/var/tmp/ozfs}
LANE_DIR=${LANE_DIR:-$OZFS_DIR/lane}
# The default selection: everything but what lane-skip.txt lists (one pattern per line, '#'
# starts a comment).
skip=$(sed 's/#.*//' "$HERE/lane-skip.txt" | awk 'NF {print $1}' | paste -sd: -)
FILTER=${LANE_FILTER:-*${skip:+-$skip}}
TEST_TIMEOUT=${LANE_TEST_TIMEOUT:-300}
CAP_SECS=${LANE_CAP_SECS:-}
MEM=${OZFS_MEM:-3072}
CPUS=${OZFS_CPUS:-2}
FIRST=${LANE_FIRST-^(Holds|Resumable|Bookmarks|RawSend|CompressedSend|Volumes|Properties)[./]}
MARGIN=${LANE_MARGIN:-2}
TIMES=$HERE/lane-times.tsv
FORCE_BUILD=0 KEEP_STAGE=0 RECORD=0 PREPARE=0
JOBS=${LANE_JOBS:-2}

usage() { awk 'NR>1 && /^#/ {sub(/^# ?/, ""); print; next} NR>1 {exit}' "$0" >&2; exit 2; }
while getopts "f:at:B:j:RPbkh" opt; do
    case $opt in
        f) FILTER=$OPTARG ;;
        a) FILTER='*' ;;
        t) TEST_TIMEOUT=$OPTARG ;;
        B) CAP_SECS=$OPTARG ;;
        R) RECORD=1 ;;
        j) JOBS=$OPTARG ;;
        P) PREPARE=1 ;;
        b) FORCE_BUILD=1 ;;
        k) KEEP_STAGE=1 ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage

log()  { printf '[openzfs-lane %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die()  { log "ERROR: $*"; exit 2; }
now()  { date +%s; }
PHASES=()
phase_done() { PHASES+=("$(printf '%-34s %5ss' "$1" "$2")"); }

[ "$(id -u)" = 0 ] || die "must run as root (the image build and qemu need it)"
[ -x "$OZFS_VM_DIR/make-openzfs-vm.sh" ] && [ -x "$OZFS_VM_DIR/run-in-vm.sh" ] ||
    die "OpenZFS VM rig not found at $OZFS_VM_DIR (set OZFS_VM_DIR)"
OZFS_VM_DIR=$(cd "$OZFS_VM_DIR" && pwd)
BUILD_DIR=$(realpath -m "$BUILD_DIR")

# The image is cached under the hash of what goes into it. BASE: the rig's build script and the
# knobs that change the system (a change there rebuilds from nothing, --clean; the downloaded
# .debs stay cached); FULL (below): BASE and the extra packages (a change there only adds them).
knobs="ZFS_SUITE=${ZFS_SUITE:-} KERNEL_SUITE=${KERNEL_SUITE:-} SLIM=${SLIM:-} IMAGE_FREE_MB=${IMAGE_FREE_MB:-}"
BASE_HASH=$( { cat "$OZFS_VM_DIR/make-openzfs-vm.sh"; echo "$knobs"; } | sha256sum | cut -c1-16)
IMG_OUT=$OZFS_DIR/out
# make-openzfs-vm.sh --clean when the image there was built from another rig or knobs.
clean_flag() {
    local have; have=$(cat "$IMG_OUT/base.hash" 2>/dev/null || true)
    if [ -n "$have" ] && [ "$have" != "$BASE_HASH" ]; then
        echo "the rig changed (base hash $have -> $BASE_HASH): rebuilding the image from nothing" >&2
        echo --clean
    fi
}
if [ "$PREPARE" = 1 ]; then
    # The system part of the image (debootstrap, kernel, OpenZFS by DKMS): what takes minutes,
    # mostly downloads. The lane adds the binaries' libraries later (a minute at most).
    mkdir -p "$OZFS_DIR"
    (
        flock 9
        if [ "$(cat "$IMG_OUT/base.hash" 2>/dev/null)" = "$BASE_HASH" ] && [ -s "$IMG_OUT/root.img" ]; then
            log "prepare: the image's system is up to date (base hash $BASE_HASH)"; exit 0
        fi
        c=$(clean_flag)
        rm -f "$IMG_OUT/base.hash" "$IMG_OUT/full.hash"
        EXTRA_PKGS= ZSTD_LEVEL=0 "$OZFS_VM_DIR/make-openzfs-vm.sh" $c || exit 1
        echo "$BASE_HASH" >"$IMG_OUT/base.hash"
    ) 9>"$OZFS_DIR/.lane-image.lock"
    exit $?
fi

# ---------------------------------------------------------------- 1. build
t=$(now)
if [ "$FORCE_BUILD" = 1 ] || [ ! -x "$BUILD_DIR/zrep-agent" ] || [ ! -x "$BUILD_DIR/tests/integration_tests" ]; then
    log "building into $BUILD_DIR (deploy/build.sh)"
    BUILD_DIR=$BUILD_DIR "$REPO/deploy/build.sh" || die "build failed"
    phase_done "build (deploy/build.sh)" $(( $(now) - t ))
else
    # A stale build tests old code: say so (a git read, no state change). Only what is compiled
    # counts, and deploy/zfs-testbed.sh, which the tests run.
    newer=$(cd "$REPO" && { git ls-files -co --exclude-standard 2>/dev/null || true; } |
            grep -E '\.(cc|h|proto)$|CMakeLists\.txt$|\.cmake$|^deploy/zfs-testbed\.sh$' | grep -v '^tests/openzfs/' |
            while IFS= read -r f; do [ "$f" -nt "$BUILD_DIR/tests/integration_tests" ] && echo "$f"; done | head -5 || true)
    [ -z "$newer" ] || log "WARNING: source files are newer than $BUILD_DIR/tests/integration_tests" \
        "(e.g. $(echo $newer)); pass -b to rebuild"
    phase_done "build (reused)" 0
fi
# The integration tests run the test build of the agent (with its fault-injection hooks) where
# the build has one.
AGENT_NAME=zrep-agent
[ -x "$BUILD_DIR/zrep-agent-test" ] && AGENT_NAME=zrep-agent-test
AGENT=$BUILD_DIR/$AGENT_NAME TESTS=$BUILD_DIR/tests/integration_tests

# The absolute paths compiled into the test binary: the guest must have the files there.
SRC_DIR=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
BIN_DIR=$(sed -n 's/^CMAKE_CACHEFILE_DIR:INTERNAL=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
SRC_DIR=${SRC_DIR:-$REPO} BIN_DIR=${BIN_DIR:-$BUILD_DIR}
GUEST_AGENT=$BIN_DIR/$AGENT_NAME GUEST_TESTS=$BIN_DIR/tests/integration_tests
grep -qaF "$SRC_DIR/deploy/zfs-testbed.sh" "$TESTS" ||
    die "$TESTS does not contain '$SRC_DIR/deploy/zfs-testbed.sh' (ZREP_SOURCE_DIR); reconfigure the build"
grep -qaF "$GUEST_AGENT" "$TESTS" ||
    die "$TESTS does not contain '$GUEST_AGENT' (ZREP_AGENT_BINARY); reconfigure the build"
[ "$SRC_DIR" = "$REPO" ] || log "note: $BUILD_DIR was configured from $SRC_DIR; staging $REPO there"
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
case ${BUILD_TYPE:-none} in
    Release|RelWithDebInfo|MinSizeRel) ;;
    *) log "WARNING: $BUILD_DIR is a '${BUILD_TYPE:-unset}' build: unoptimized code under TCG makes the" \
           "data-heavy tests (Faults.*) several times slower; the time budget may not cover them" ;;
esac

# ---------------------------------------------------------------- 2. guest image
# The Debian packages of every shared library the two binaries load (sorted: the rig rebuilds
# the image whenever the EXTRA_PKGS string changes).
libs=$(ldd "$AGENT" "$TESTS") || die "ldd failed on the binaries"
if grep -q 'not found' <<<"$libs"; then die "the binaries miss libraries on this host:$(grep 'not found' <<<"$libs")"; fi
pkgs=$(awk '$2 == "=>" && $3 ~ /^\// {print $3}' <<<"$libs" | sort -u | while read -r lib; do
           dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null ||
               { log "WARNING: no Debian package owns $lib"; continue; }
       done | cut -d: -f1 | sort -u | tr '\n' ' ')
EXTRA_PKGS=$(echo $pkgs ${LANE_EXTRA_PKGS:-} | tr ' ' '\n' | sed '/^$/d' | sort -u | tr '\n' ' ')
EXTRA_PKGS=${EXTRA_PKGS% }

mkdir -p "$OZFS_DIR" "$LANE_DIR"
RUN=$LANE_DIR/run-$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$RUN"
t=$(now)
FULL_HASH=$( { echo "$BASE_HASH"; echo "$EXTRA_PKGS"; } | sha256sum | cut -c1-16)
img_state="cached"
(
    flock 9   # one image build at a time; the VM runs themselves use throw-away overlays
    have_full=$(cat "$IMG_OUT/full.hash" 2>/dev/null || true)
    if [ "$have_full" = "$FULL_HASH" ] && [ -s "$IMG_OUT/root.img" ] && [ -s "$IMG_OUT/vmlinuz" ]; then
        echo "image up to date (hash $FULL_HASH)"; exit 0
    fi
    c=$(clean_flag)
    rm -f "$IMG_OUT/base.hash" "$IMG_OUT/full.hash"
    EXTRA_PKGS=$EXTRA_PKGS ZSTD_LEVEL=${ZSTD_LEVEL:-0} "$OZFS_VM_DIR/make-openzfs-vm.sh" $c || exit 1
    echo "$BASE_HASH" >"$IMG_OUT/base.hash"; echo "$FULL_HASH" >"$IMG_OUT/full.hash"
) 9>"$OZFS_DIR/.lane-image.lock" >"$RUN/image.log" 2>&1 || {
    tail -20 "$RUN/image.log" >&2; die "make-openzfs-vm.sh failed (full log: $RUN/image.log)"; }
img_s=$(( $(now) - t ))
if grep -q '^image up to date' "$RUN/image.log"; then
    phase_done "guest image (cached, hash $FULL_HASH)" "$img_s"
else
    img_state="built"
    phase_done "guest image (built, hash $FULL_HASH)" "$img_s"
fi
ZFS_LINE=$(grep -m1 '^zfs-dkms:' "$OZFS_DIR/out/manifest.txt" 2>/dev/null | sed 's/^zfs-dkms: *//' || true)
log "guest image ${img_state} in ${img_s}s: ${ZFS_LINE:-?}"

# ---------------------------------------------------------------- 3. stage
# A snapshot of what is tested: a rebuild or an edit on the host during the run changes nothing.
t=$(now)
STAGE=$RUN/share
mkdir -p "$STAGE/src" "$STAGE/bin" "$STAGE/out"
if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$REPO" && git ls-files -z -co --exclude-standard |
        tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -C "$STAGE/src" -xf -
    git -C "$REPO" describe --always --dirty >"$RUN/source-version" 2>/dev/null || true
else
    tar -C "$REPO" --exclude=./.git --exclude='./build*' -cf - . | tar -C "$STAGE/src" -xf -
fi
[ -f "$STAGE/src/deploy/zfs-testbed.sh" ] || die "staging failed: no deploy/zfs-testbed.sh"
cp --reflink=auto "$AGENT" "$STAGE/bin/zrep-agent"
cp --reflink=auto "$TESTS" "$STAGE/bin/integration_tests"
cp "$TIMES" "$STAGE/times.tsv" 2>/dev/null || : >"$STAGE/times.tsv"
{ echo "build:  $BUILD_DIR (${BUILD_TYPE:-?})"
  echo "agent:  $AGENT ($(stat -c %y "$AGENT" | cut -c1-19))"
  echo "tests:  $TESTS ($(stat -c %y "$TESTS" | cut -c1-19))"
  echo "source: $REPO ($(cat "$RUN/source-version" 2>/dev/null || echo '?'))"; } | tee "$RUN/binaries.txt" >&2
phase_done "stage binaries + sources" $(( $(now) - t ))

# ---------------------------------------------------------------- 4. run in the guest
# The cap: what is left of the whole run's limit (deploy/test.sh sets ZREP_SUITE_DEADLINE), less
# a minute for the summary and the guest's shutdown; -B overrides it. The guest scales its own
# budget from its measured speed, up to this cap (guest-run.sh).
if [ -n "$CAP_SECS" ]; then
    left=$CAP_SECS
elif [ -n "${ZREP_SUITE_DEADLINE:-}" ]; then
    left=$(( ZREP_SUITE_DEADLINE - $(now) - 60 ))
else
    left=2400
fi
[ "$left" -ge 180 ] || die "only ${left}s left for the guest (the run's limit is near); raise -B"
CAP=$(( left - 30 ))   # guest uptime by which every test has ended (boot takes ~10 s)
ACCEL=${OZFS_ACCEL:-}
if [ -z "$ACCEL" ]; then
    # A /dev/kvm that opens is not enough (a paravirtual one cannot boot a stock kernel): the
    # CPU must show hardware virtualization too.
    if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then ACCEL=kvm; else ACCEL=tcg; fi
fi
shown=$FILTER; [ "${#shown}" -le 100 ] || shown="the default selection (every test but the $(grep -c '^[A-Za-z]' "$HERE/lane-skip.txt") of lane-skip.txt)"
log "booting the guest (${CPUS} vCPU, ${MEM} MiB, ${ACCEL^^}, ${JOBS} test(s) at a time): $shown, ${TEST_TIMEOUT}s per test" \
    "at the reference speed, cap ${left}s (run dir: $RUN)"
t=$(now)
VMPID= TAILPID=
stop_vm() {
    [ -n "$TAILPID" ] && kill "$TAILPID" 2>/dev/null || true
    [ -n "$VMPID" ] && kill "$VMPID" 2>/dev/null && wait "$VMPID" 2>/dev/null || true
}
trap 'stop_vm; exit 130' INT TERM
mkdir -p "$RUN/vm"; : >"$RUN/vm/output.log"
"$OZFS_VM_DIR/run-in-vm.sh" -s "$STAGE" -o "$RUN/vm" -m "$MEM" -c "$CPUS" -t "$left" -a "$ACCEL" \
    -e "LANE_SRC_DIR=$SRC_DIR" -e "LANE_AGENT_BIN=$GUEST_AGENT" -e "LANE_TEST_BIN=$GUEST_TESTS" \
    -e "LANE_FILTER=$FILTER" -e "LANE_TEST_TIMEOUT=$TEST_TIMEOUT" -e "LANE_CAP=$CAP" \
    -e "LANE_FIRST=$FIRST" -e "LANE_MARGIN=$MARGIN" -e "LANE_JOBS=$JOBS" \
    "$HERE/guest-run.sh" >"$RUN/vm-stdout.log" 2>"$RUN/vm-stderr.log" &
VMPID=$!
# run-in-vm.sh -o empties the run dir first: follow the guest's output as it is written.
sleep 1
tail -n +1 -F --pid="$VMPID" "$RUN/vm/output.log" 2>/dev/null &
TAILPID=$!
vm_rc=0; wait "$VMPID" || vm_rc=$?
VMPID=
wait "$TAILPID" 2>/dev/null || true
TAILPID=
vm_s=$(( $(now) - t ))
trap - INT TERM
[ "$vm_rc" = 0 ] || [ "$vm_rc" = 1 ] || { log "run-in-vm.sh exited $vm_rc:"; cat "$RUN/vm-stderr.log" >&2; }
boot=$(cat "$RUN/vm/t_script_start" 2>/dev/null || echo '?')
phase_done "guest boot (kernel to script)" "${boot%.*}"
mp=$(grep -m1 -o 'modprobe zfs: [0-9.]* s' "$RUN/vm/output.log" 2>/dev/null | grep -o '[0-9.]* s' || echo '? s')
phase_done "modprobe zfs" "${mp% s}"
tests_s=$(awk -F'\t' '{s += $3} END {printf "%d", s}' "$STAGE/out/results.tsv" 2>/dev/null || echo 0)
phase_done "tests (sum of per-test times)" "$tests_s"
phase_done "guest in all (qemu wall clock)" "$vm_s"

# ---------------------------------------------------------------- 5. summary
RES=$STAGE/out/results.tsv
[ -f "$RES" ] || : >"$RES"
count() { awk -F'\t' -v w="$1" '$1 == w' "$RES" | wc -l; }
n_pass=$(count PASS) n_skip=$(count SKIP) n_fail=$(count FAIL) n_to=$(count TIMEOUT) n_nr=$(count NOTRUN)
n_all=$(wc -l <"$RES")
n_bad=$(( n_fail + n_to + n_nr ))
zver=$(grep -m1 '^zfs-' "$STAGE/out/env.txt" 2>/dev/null || echo "${ZFS_LINE:-OpenZFS}")
kver=$(sed -n 's/^kernel: //p' "$STAGE/out/env.txt" 2>/dev/null || echo '?')
total=$(( $(now) - T0 ))
{
    echo
    echo "==================== OpenZFS lane: integration tests on $zver (guest kernel $kver)"
    awk -F'\t' 'BEGIN { m["PASS"] = "PASS   "; m["SKIP"] = "SKIP   "; m["FAIL"] = "FAIL   ";
                         m["TIMEOUT"] = "TIMEOUT"; m["NOTRUN"] = "NOT RUN" }
                 { printf "  %s  %-72s %7s s  (setup %s s, teardown %s s)\n", m[$1], $2, $3, $4, $5 }' "$RES"
    echo
    echo "timings:"
    for p in "${PHASES[@]}"; do echo "  $p"; done
    printf '  %-34s %5ss\n' "lane in all" "$total"
    awk -F'\t' '$1 != "NOTRUN" {n++; t += $3; s += $4; d += $5}
        END {if (n) printf "  where the tests spent it: setup (pools, pki, agents) %d s, teardown %d s, the tests themselves %d s\n", s, d, t - s - d}' "$RES"
    echo
    B=$STAGE/out/budget.tsv
    if [ -f "$B" ]; then
        bget() { awk -F'\t' -v k="$1" '$1 == k {print $2}' "$B"; }
        echo "budget: speed probe $(bget probe) s (reference $(bget reference) s, $ACCEL), estimate $(bget estimate) s," \
             "budget $(bget budget) s (margin $MARGIN, cap $(bget cap) s of guest uptime)"
    fi
    # The commands that took 0.5 s or more ([testbed] command lines), by kind, over all tests.
    cat "$STAGE"/out/*.log 2>/dev/null | awk '/^\[testbed\] command / {
            s = $3; w = $5; if (w ~ /^zrep-agent/ || w == "bash") w = w " " $6
            if ($6 == "--json") w = $5 " " $7
            n[w]++; t[w] += s }
        END { for (w in t) printf "%8.1f s %5d x  %s\n", t[w], n[w], w }' | sort -rn | head -12 |
        sed '1i commands that took 0.5 s or more, summed over all tests:' | sed '2,$s/^/  /'
    echo "slowest ten:"
    awk -F'\t' '$1 != "NOTRUN"' "$RES" | sort -t$'\t' -k3,3nr | head -10 |
        awk -F'\t' '{printf "  %7s s  %s\n", $3, $2}'
    echo
    echo "[==========] $n_all tests ran on OpenZFS ($zver). ($total s lane total)"
    echo "[  PASSED  ] $n_pass tests."
    [ "$n_skip" = 0 ] || echo "[  SKIPPED ] $n_skip tests."
    if [ "$n_bad" -gt 0 ]; then
        echo "[  FAILED  ] $n_bad tests, listed below:"
        awk -F'\t' '$1 == "FAIL" {print "[  FAILED  ] " $2}
                    $1 == "TIMEOUT" {print "[  FAILED  ] " $2 " (timeout)"}
                    $1 == "NOTRUN" {print "[  FAILED  ] " $2 " (not run: time budget)"}' "$RES"
        echo
        echo " $n_bad FAILED TEST$([ "$n_bad" = 1 ] || echo S)"
    fi
    echo "(build $BUILD_DIR; per-test logs $STAGE/out/<Suite.Test>.log; guest output $RUN/vm/output.log;"
    echo " guest dmesg $STAGE/out/dmesg.log)"
} | tee "$RUN/summary.txt"

if [ "$RECORD" = 1 ] && [ -s "$STAGE/out/probe" ]; then
    # Each test's cost in probe units (seconds / the probe's seconds), so that the estimate of
    # a later run on another machine is its own probe times these.
    probe_s=$(cat "$STAGE/out/probe")
    { echo "# The OpenZFS lane's per-test cost, in units of its speed probe (guest-run.sh):"
      echo "# seconds of the test / seconds of the probe, measured together. Written by run-lane.sh -R."
      echo "# reference probe: $probe_s s ($ACCEL, $(nproc) host cores, $(date -u +%Y-%m-%d), $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?'))"
      awk -F'\t' -v p="$probe_s" '($1 == "PASS" || $1 == "SKIP") {printf "%s\t%.2f\n", $2, $3 / p}' "$RES" | sort
    } >"$TIMES.new" && mv "$TIMES.new" "$TIMES"
    log "recorded per-test times in $TIMES"
fi
[ "$KEEP_STAGE" = 1 ] || rm -rf "$STAGE/bin" "$STAGE/src"
# keep the 5 newest run dirs
ls -1d "$LANE_DIR"/run-* 2>/dev/null | sort | head -n -5 | while read -r d; do rm -rf "$d"; done

if [ "$vm_rc" = 124 ] || [ "$vm_rc" = 125 ]; then exit "$vm_rc"; fi
if [ "$n_all" = 0 ]; then log "no test results (guest exit $vm_rc)"; exit 1; fi
[ "$n_bad" = 0 ] && [ "$vm_rc" = 0 ] && exit 0
exit 1
