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
#   LANE_TEST_TIMEOUT  seconds per test at the reference speed (default 300; scaled by the
#                   measured speed, at most 3x)
#   LANE_FIRST      extended regexp: matching tests run before all others (the OpenZFS-only ones)
#   LANE_CAP        guest uptime (s) by which every test must have ended, whatever the speed
#                   (the host derives it from the whole run's 60-minute limit)
#   LANE_MARGIN     the budget is the estimate times this (default 2) plus 300 s, up to the cap
#   LANE_JOBS       tests run side by side (default 1; they use their own pools and ports)
#   times.tsv       (in the share) each test's cost in probe units: seconds / probe seconds
#
# At boot the guest times a short fixed ZFS workload (the probe: pool, 32 MiB written, snapshot,
# send | recv, destroy) and scales everything by it: the estimate of each test is its units
# times the probe's seconds, so a guest twice as slow gets twice the budget (up to the cap).
# Tests run cheapest first after the LANE_FIRST ones, so a budget used up costs the fewest.
#
# Each test runs in its own process, like ctest runs the gtest-discovered tests on the host.
set -uo pipefail

SHARE=$(pwd)
OUT=$SHARE/out
mkdir -p "$OUT"
FILTER=${LANE_FILTER:-*}
PER_TEST=${LANE_TEST_TIMEOUT:-300}
CAP=${LANE_CAP:-100000}
MARGIN=${LANE_MARGIN:-2}

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

# ---------------------------------------------------------------- 3. the speed probe
# A short fixed workload of the kind the tests do (pool, writes, snapshot, send | recv, destroy).
probe() {
    local d=/var/tmp/lane-probe
    rm -rf "$d"; mkdir -p "$d"
    truncate -s 512M "$d/p.img" &&
    zpool create -f -O compression=off -O mountpoint="$d/m" lprobe "$d/p.img" &&
    zfs create lprobe/a &&
    dd if=/dev/zero of="$d/m/a/f" bs=1M count=32 status=none &&
    head -c 16M /dev/zero | sha256sum >/dev/null &&
    zfs snapshot lprobe/a@s &&
    zfs send lprobe/a@s | zfs recv lprobe/b &&
    zpool destroy lprobe
    local rc=$?
    zpool destroy -f lprobe 2>/dev/null; rm -rf "$d"
    return $rc
}
p0=$(date +%s.%N)
probe || { say "FATAL: the speed probe (a pool, a write, a send | recv) failed"; exit 125; }
PROBE=$(awk -v a="$p0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')
REF=$(sed -n 's/^# reference probe: \([0-9.]*\) s.*/\1/p' times.tsv 2>/dev/null | head -1)
say "speed probe: ${PROBE} s (reference ${REF:-?} s: $(awk -v p="$PROBE" -v r="${REF:-0}" \
    'BEGIN{if (r > 0) printf "%.2fx the reference time", p/r; else printf "no reference"}'))"
echo "$PROBE" >"$OUT/probe"

# ---------------------------------------------------------------- 4. order and budget
FIRST=${LANE_FIRST-}
mapfile -t LISTED < <("$LANE_TEST_BIN" --gtest_list_tests --gtest_filter="$FILTER" 2>/dev/null |
    awk '/^Running main/ {next} /^[^ ]/ {suite=$1; next} /^  / {print suite $1}')
# Each test with its units (unknown tests: the median of the known, at least 8), the
# LANE_FIRST ones first, then cheapest first.
mapfile -t ORDERED < <(printf '%s\n' "${LISTED[@]}" | awk -F'\t' -v first="$FIRST" -v tf=times.tsv '
    BEGIN { while ((getline l < tf) > 0) { if (l ~ /^#/) continue; split(l, f, "\t"); if (f[2] != "") u[f[1]] = f[2] + 0 } }
    { t[++n] = $0 }
    END {
        k = 0; for (x in u) v[++k] = u[x]
        # median of the known units (a small insertion sort)
        for (i = 2; i <= k; i++) { y = v[i]; for (j = i - 1; j > 0 && v[j] > y; j--) v[j+1] = v[j]; v[j+1] = y }
        med = k ? v[int((k + 1) / 2)] : 8; if (med < 8) med = 8
        for (i = 1; i <= n; i++) {
            un = (t[i] in u) ? u[t[i]] : med
            grp = (first != "" && t[i] ~ first) ? 0 : 1
            printf "%d\t%012.3f\t%s\t%s\n", grp, un, t[i], un
        }
    }' | sort -t$'\t' -k1,1n -k2,2 | cut -f3,4)
TESTS=() UNITS=()
for line in "${ORDERED[@]}"; do TESTS+=("${line%%$'\t'*}"); UNITS+=("${line#*$'\t'}"); done
EST=$(printf '%s\n' "${UNITS[@]}" | awk -v p="$PROBE" '{s += $1} END {printf "%d", s * p}')
now=$(upi)
BUDGET=$(awk -v e="$EST" -v m="$MARGIN" 'BEGIN{printf "%d", e * m + 300}')
DEADLINE=$((now + BUDGET))
capped=
if [ "$DEADLINE" -gt "$CAP" ]; then DEADLINE=$CAP; BUDGET=$((CAP - now)); capped=" (capped: the whole run's time limit)"; fi
SCALE=$(awk -v p="$PROBE" -v r="${REF:-0}" 'BEGIN{f = (r > 0) ? p / r : 1; if (f < 1) f = 1; if (f > 3) f = 3; printf "%.2f", f}')
PER_TEST=$(awk -v t="$PER_TEST" -v f="$SCALE" 'BEGIN{printf "%d", t * f}')
shown=$FILTER; [ "${#shown}" -le 100 ] || shown="${FILTER:0:60}..."
say "${#TESTS[@]} test(s) match filter '$shown'; estimate ${EST}s at this speed; budget ${BUDGET}s$capped" \
    "(until guest uptime ${DEADLINE}s); ${PER_TEST}s timeout each${FIRST:+; first: /$FIRST/}"
printf 'probe\t%s\nreference\t%s\nestimate\t%s\nbudget\t%s\ncap\t%s\n' "$PROBE" "${REF:-}" "$EST" \
    "$BUDGET" "$CAP" >"$OUT/budget.tsv"

# ---------------------------------------------------------------- 5. the tests
: >"$OUT/results.tsv"
cd /root
# A peer's step in an emulated guest (a key load, a mount) can be quiet for longer than the
# 30 s the test agents wait on zfs-fuse.
export ZREP_TEST_IO_TIMEOUT=${ZREP_TEST_IO_TIMEOUT:-120}
# ... and a TLS handshake with two tests at a time, for longer than an agent's default 5 s.
export ZREP_TEST_HANDSHAKE_TIMEOUT=${ZREP_TEST_HANDSHAKE_TIMEOUT:-30}
JOBS=${LANE_JOBS:-1}
# One test in its own process, with a timeout; its result line goes to results.tsv (one short
# append: atomic, also with tests running side by side).
run_one() {
    local i=$1 t=$2 limit=$3 log="$OUT/${2//\//_}.log"   # parameterized tests have / in their names
    echo "[ RUN      ] $t ($i/${#TESTS[@]})"
    local s; s=$(date +%s.%N)
    timeout -k 15 "$limit" "$LANE_TEST_BIN" --gtest_filter="$t" --gtest_color=no >"$log" 2>&1
    local rc=$?
    local secs; secs=$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
    # where the time went: the testbed's setup and teardown lines (pools, pki, agents)
    local split; split=$(awk '/^\[testbed\] setup / {s += $3} /^\[testbed\] teardown / {d += $3}
                 END {printf "%.1f\t%.1f", s, d}' "$log")
    if [ "$rc" = 0 ] && grep -q '^\[  PASSED  \] 1 test' "$log"; then
        printf 'PASS\t%s\t%s\t%s\n' "$t" "$secs" "$split" >>"$OUT/results.tsv"
        echo "[       OK ] $t (${secs} s)"
    elif [ "$rc" = 0 ] && grep -q '^\[  SKIPPED \] 1 test' "$log"; then
        printf 'SKIP\t%s\t%s\t%s\n' "$t" "$secs" "$split" >>"$OUT/results.tsv"
        echo "[  SKIPPED ] $t (${secs} s)"; grep -m3 -i 'skip' "$log" | sed 's/^/    /'
    else
        local what=FAIL; { [ "$rc" = 124 ] || [ "$rc" = 137 ]; } && what=TIMEOUT
        printf '%s\t%s\t%s\t%s\n' "$what" "$t" "$secs" "$split" >>"$OUT/results.tsv"
        { echo "[  FAILED  ] $t (${secs} s, exit $rc$([ "$what" = TIMEOUT ] && echo ", timed out after ${limit}s"))"
          echo "------------------------------------------------------------ output of $t"
          sed 's/^/    /' "$log"
          echo "------------------------------------------------------------ end of $t"; } | cat
    fi
    if [ "$JOBS" = 1 ]; then
        # A test that died may leave pools behind: name them (they cost only sparse files).
        local left; left=$(zpool list -H -o name 2>/dev/null | tr '\n' ' ')
        [ -z "$left" ] || say "pools still imported after $t: $left"
    fi
}
i=0 running=0
for t in "${TESTS[@]}"; do
    i=$((i + 1))
    while [ "$running" -ge "$JOBS" ]; do wait -n; running=$((running - 1)); done
    now=$(upi)
    # Start a test only with a minute left before the deadline; it may run up to the deadline.
    if [ $((DEADLINE - now)) -lt 60 ]; then
        printf 'NOTRUN\t%s\t0\t0\t0\n' "$t" >>"$OUT/results.tsv"
        say "[ NOT RUN  ] $t (lane time budget used up)"
        continue
    fi
    limit=$PER_TEST
    [ $((DEADLINE - now)) -lt "$limit" ] && limit=$((DEADLINE - now))
    if [ "$JOBS" = 1 ]; then run_one "$i" "$t" "$limit"; else run_one "$i" "$t" "$limit" & running=$((running + 1)); fi
done
wait

dmesg >"$OUT/dmesg.log" 2>&1
# kernel trouble during the tests (ZFS assertions, hung tasks, OOM), if any
grep -E 'Kernel panic|BUG:|WARNING:|blocked for more than|Out of memory|oom-kill|VERIFY|PANIC|zfs:|ZFS:' \
    "$OUT/dmesg.log" | grep -vE 'command line|taints kernel|Loaded module' | tail -20 | sed 's/^/[guest dmesg] /'
say "tests done"
[ -s "$OUT/results.tsv" ] || exit 1
awk -F'\t' '$1 != "PASS" && $1 != "SKIP" {bad = 1} END {exit bad}' "$OUT/results.tsv"
