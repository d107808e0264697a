#!/bin/bash
# guest-run.sh -- the part of the OpenZFS lane that runs INSIDE the QEMU guest (as PID 1's
# child, root, cwd /mnt/host = the lane's staging dir). Started by run-lane.sh through
# run-in-vm.sh; not meant to be run by hand.
#
# Staging dir layout (made by run-lane.sh on the host):
#   src/                 the repo's source files (deploy/zfs-testbed.sh, ...)
#   bin/zrep-agent       the agent binary
#   bin/integration_tests
#   out/                 written here: results.tsv, one log per test, dmesg.log, env.txt
# Environment (run-in-vm.sh -e):
#   LANE_SRC_DIR    ZREP_SOURCE_DIR compiled into the test binary (the host repo path)
#   LANE_AGENT_BIN  ZREP_AGENT_BINARY compiled into the test binary
#   LANE_TEST_BIN   where the test binary lived on the host (for the same relative layout)
#   LANE_FILTER     gtest filter (default '*')
#   LANE_TEST_TIMEOUT  seconds per test (default 300)
#   LANE_LAST       extended regexp: matching tests run after all others (default '^Faults')
#   LANE_DEADLINE   guest uptime (s) by which every test must have ended; a test is started
#                   only with 60 s left, and its timeout is cut to end by then
#
# Each test runs in its own process, like ctest runs the gtest-discovered tests on the host.
set -uo pipefail

SHARE=$(pwd)
OUT=$SHARE/out
mkdir -p "$OUT"
FILTER=${LANE_FILTER:-*}
PER_TEST=${LANE_TEST_TIMEOUT:-300}
DEADLINE=${LANE_DEADLINE:-100000}

up()  { cut -d' ' -f1 /proc/uptime; }
upi() { cut -d' ' -f1 /proc/uptime | cut -d. -f1; }
say() { printf '[guest %7ss] %s\n' "$(up)" "$*"; }

say "kernel $(uname -r), $(nproc) vCPU, $(awk '/MemTotal/ {printf "%d MiB", $2/1024}' /proc/meminfo) RAM"

# ---------------------------------------------------------------- 1. ZFS module
t0=$(up)
if ! modprobe zfs; then
    say "FATAL: modprobe zfs failed"; dmesg | tail -30
    exit 125
fi
say "modprobe zfs: $(awk -v a="$t0" -v b="$(up)" 'BEGIN{printf "%.1f", b-a}') s; $(zfs version 2>&1 | tr '\n' ' ')"
# OpenZFS shows "no pools available" with exit 0; zfs-testbed.sh start relies on that.
zpool list -H >/dev/null 2>&1 || { say "FATAL: 'zpool list' does not answer"; zpool list; exit 125; }

# ---------------------------------------------------------------- 2. binaries at the host's paths
# The test binary has the host's absolute paths compiled in (ZREP_AGENT_BINARY, ZREP_SOURCE_DIR).
# Copy everything onto the guest's own disk at those paths (the root disk is a throw-away
# overlay), so the tests never execute from 9p.
for v in LANE_SRC_DIR LANE_AGENT_BIN LANE_TEST_BIN; do
    [ -n "${!v:-}" ] || { say "FATAL: $v not set"; exit 125; }
done
if [ -e "$LANE_SRC_DIR/deploy/zfs-testbed.sh" ]; then
    say "FATAL: $LANE_SRC_DIR already exists in the guest image"; exit 125
fi
mkdir -p "$LANE_SRC_DIR" "$(dirname "$LANE_AGENT_BIN")" "$(dirname "$LANE_TEST_BIN")"
cp -a src/. "$LANE_SRC_DIR/"
cp bin/zrep-agent "$LANE_AGENT_BIN"
cp bin/integration_tests "$LANE_TEST_BIN"
chmod 755 "$LANE_AGENT_BIN" "$LANE_TEST_BIN"
missing=$(ldd "$LANE_AGENT_BIN" "$LANE_TEST_BIN" 2>&1 | grep 'not found' | sort -u)
if [ -n "$missing" ]; then
    say "FATAL: shared libraries missing in the guest image (add their packages to EXTRA_PKGS):"
    echo "$missing"; exit 125
fi
say "staged $LANE_SRC_DIR, $LANE_AGENT_BIN, $LANE_TEST_BIN"
{ echo "kernel: $(uname -r)"; zfs version; echo "agent: $("$LANE_AGENT_BIN" --version 2>&1 | head -1)"; } >"$OUT/env.txt" 2>&1

# ---------------------------------------------------------------- 3. the tests
# Slow tests (LANE_LAST, an extended regexp on Suite.Test; default: the Faults suites, which write
# ~340 MB each) run last, so that a used-up time budget costs the fewest tests.
LAST=${LANE_LAST-^Faults}
mapfile -t LISTED < <("$LANE_TEST_BIN" --gtest_list_tests --gtest_filter="$FILTER" 2>/dev/null |
    awk '/^Running main/ {next} /^[^ ]/ {suite=$1; next} /^  / {print suite $1}')
TESTS=()
for t in "${LISTED[@]}"; do [ -n "$LAST" ] && [[ $t =~ $LAST ]] || TESTS+=("$t"); done
for t in "${LISTED[@]}"; do [ -n "$LAST" ] && [[ $t =~ $LAST ]] && TESTS+=("$t"); done
say "${#TESTS[@]} test(s) match filter '$FILTER'; ${PER_TEST}s timeout each${LAST:+; run last: /$LAST/}"
: >"$OUT/results.tsv"
cd /root
i=0
for t in "${TESTS[@]}"; do
    i=$((i + 1))
    log="$OUT/${t//\//_}.log"  # parameterized tests have / in their names
    now=$(upi)
    # Start a test only with a minute left before the deadline; it may run up to the deadline.
    if [ $((DEADLINE - now)) -lt 60 ]; then
        printf 'NOTRUN\t%s\t0\n' "$t" >>"$OUT/results.tsv"
        say "[ NOT RUN  ] $t (lane time budget used up)"
        continue
    fi
    limit=$PER_TEST
    [ $((DEADLINE - now)) -lt "$limit" ] && limit=$((DEADLINE - now))
    echo "[ RUN      ] $t ($i/${#TESTS[@]})"
    s=$(date +%s.%N)
    timeout -k 15 "$limit" "$LANE_TEST_BIN" --gtest_filter="$t" --gtest_color=no >"$log" 2>&1
    rc=$?
    secs=$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
    if [ "$rc" = 0 ] && grep -q '^\[  PASSED  \] 1 test' "$log"; then
        printf 'PASS\t%s\t%s\n' "$t" "$secs" >>"$OUT/results.tsv"
        echo "[       OK ] $t (${secs} s)"
    elif [ "$rc" = 0 ] && grep -q '^\[  SKIPPED \] 1 test' "$log"; then
        printf 'SKIP\t%s\t%s\n' "$t" "$secs" >>"$OUT/results.tsv"
        echo "[  SKIPPED ] $t (${secs} s)"; grep -m3 -i 'skip' "$log" | sed 's/^/    /'
    else
        what=FAIL; [ "$rc" = 124 ] || [ "$rc" = 137 ] && what=TIMEOUT
        printf '%s\t%s\t%s\n' "$what" "$t" "$secs" >>"$OUT/results.tsv"
        echo "[  FAILED  ] $t (${secs} s, exit $rc$([ "$what" = TIMEOUT ] && echo ", timed out after ${limit}s"))"
        echo "------------------------------------------------------------ output of $t"
        sed 's/^/    /' "$log"
        echo "------------------------------------------------------------ end of $t"
    fi
    # A test that died may leave pools behind: name them (they cost only sparse files).
    left=$(zpool list -H -o name 2>/dev/null | tr '\n' ' ')
    [ -z "$left" ] || say "pools still imported after $t: $left"
done

dmesg >"$OUT/dmesg.log" 2>&1
# kernel trouble during the tests (ZFS assertions, hung tasks, OOM), if any
grep -E 'Kernel panic|BUG:|WARNING:|blocked for more than|Out of memory|oom-kill|VERIFY|PANIC|zfs:|ZFS:' \
    "$OUT/dmesg.log" | grep -vE 'command line|taints kernel|Loaded module' | tail -20 | sed 's/^/[guest dmesg] /'
say "tests done"
[ -s "$OUT/results.tsv" ] || exit 1
awk -F'\t' '$1 != "PASS" && $1 != "SKIP" {bad = 1} END {exit bad}' "$OUT/results.tsv"
