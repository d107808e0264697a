#!/usr/bin/env bash
# The zrep-agent benchmark (not a test: it prints figures and fails only when something breaks).
#
# Compares, on the same snapshot and in the same run, a local `zfs send SRC@snap | zfs recv` (the
# baseline: what ZFS alone costs) with a full `zrep-agent init` through two agents on loopback
# (zfs send -> chunks -> lz4 -> TLS 1.3 -> lz4 decode -> zfs recv, SHA-256 and GUID checks), then
# times no-change and 1 MB syncs. Targets: agent/baseline <= 1.15, no-change sync <= 50 ms.
#
#   sudo tests/bench/bench.sh                 1 GB dataset, one comparison
#   sudo SIZE_MB=256 REPEAT=3 tests/bench/bench.sh
#
# Environment:
#   BUILD_DIR    build with zrep-agent (default: <repo>/build-bench; built with deploy/build.sh
#                when the binary is missing)
#   SIZE_MB      size of the dataset (default 1024): copies of /usr/include, /usr/share/doc and
#                /usr/lib/x86_64-linux-gnu/*.so* in numbered subdirectories until reached
#   REPEAT       full comparisons to run (default 1); the order alternates (baseline first on odd
#                runs, agent first on even runs); the summary gives medians
#   SYNCS        no-change syncs to time (default 10)
#   SMALL_SYNCS  1 MB-change syncs to time (default 3)
#   SETTLE       seconds to wait after `sync` before each timed run (default 2)
#   QUIET_WAIT   then at most this many seconds (default 60; 0: do not wait) for an idle second
#                (< 15% of a core busy) before starting the clock
#   WORK         scratch directory (default /var/tmp/zrep-bench.PID): pool images, PKI, logs
#   KEEP_LOGS=1  keep WORK's logs (agents' logs) after the run
#
# Needs root, zfs-fuse (or another ZFS), and ~2 x max(4G, 2.5 x SIZE_MB + 1G) of sparse file
# space under /var/tmp (only what is written is allocated). Every pool, agent and file it makes is
# removed on exit. Each timed run starts from the same cache state: one `zfs send > /dev/null`
# of the snapshot, `sync`, SETTLE seconds. Each figure carries the 1-minute load average when it
# started: on a busy machine (builds), rerun.
#
# CPU columns (seconds of CPU during the timed run, from /proc): zfs-fuse daemon, agents (both
# daemons, their threads), zfs CLI children (for the agents: the `zfs send/recv` they spawn; for
# the baseline: the two zfs processes of the pipe), the whole machine's busy share (2 cores =
# 200%), and "other processes": busy CPU not ours — above ~0.3 s the run was disturbed (builds,
# VMs), discard it. zfs-fuse is one daemon for the whole machine: other pools' work shows there.
# Wire bytes are what crossed loopback during the agent run (lz4 blocks + framing + TLS + TCP),
# next to what `lz4 -1 -B5` makes of the stream (the agent's codec settings).
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$here/build-bench}
SIZE_MB=${SIZE_MB:-1024}
REPEAT=${REPEAT:-1}
SYNCS=${SYNCS:-10}
SMALL_SYNCS=${SMALL_SYNCS:-3}
SETTLE=${SETTLE:-2}
QUIET_WAIT=${QUIET_WAIT:-60}
WORK=${WORK:-/var/tmp/zrep-bench.$$}
KEEP_LOGS=${KEEP_LOGS:-0}
bin=$BUILD_DIR/zrep-agent

say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (zfs and zpool need it)"
for v in SIZE_MB REPEAT SYNCS SMALL_SYNCS SETTLE QUIET_WAIT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
[ "$SIZE_MB" -ge 16 ] || die "SIZE_MB must be at least 16"
[ "$REPEAT" -ge 1 ] || die "REPEAT must be at least 1"
[ "$SYNCS" -ge 1 ] || die "SYNCS must be at least 1"

if [ ! -x "$bin" ]; then
  say "no $bin: building with deploy/build.sh (BUILD_DIR=$BUILD_DIR)"
  BUILD_DIR=$BUILD_DIR "$here/deploy/build.sh" >&2
fi
[ -x "$bin" ] || die "$bin is missing after the build"
"$here/deploy/zfs-testbed.sh" start

tag="zb$$"
src_pool=${tag}_src
dst_pool=${tag}_dst
SRC=$src_pool/data
DST=$dst_pool/backup/data
BASE=$dst_pool/baseline
alpha_pid= beta_pid=
pool_mb=$(( SIZE_MB * 5 / 2 + 1024 ))
[ "$pool_mb" -ge 4096 ] || pool_mb=4096

cleanup() {
  local rc=$?
  set +e
  for p in $alpha_pid $beta_pid; do kill "$p" 2>/dev/null; done
  for p in $alpha_pid $beta_pid; do wait "$p" 2>/dev/null; done
  "$here/deploy/zfs-testbed.sh" rmpool "$src_pool" "$WORK" 2>/dev/null
  "$here/deploy/zfs-testbed.sh" rmpool "$dst_pool" "$WORK" 2>/dev/null
  if [ "$KEEP_LOGS" = 1 ]; then
    rm -rf "$WORK/pki" "$WORK"/*.img
    echo "bench: logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$WORK"

# ---- measuring helpers -------------------------------------------------------------------------
now_ns() { date +%s%N; }
load1() { cut -d' ' -f1 /proc/loadavg; }
zfs_fuse_pid() {
  local p
  p=$(cat /run/zfs-fuse/zfs-fuse.pid 2>/dev/null || true)
  if [ -n "$p" ] && [ -d "/proc/$p" ]; then echo "$p"; else pidof zfs-fuse | awk '{print $1}'; fi
}
# CPU clock ticks of a process: "self children" (children = waited-for ones).
cpu_ticks() {
  local line rest
  if [ -z "${1:-}" ] || ! read -r line <"/proc/$1/stat" 2>/dev/null; then echo "0 0"; return; fi
  rest=${line##*) }
  # shellcheck disable=SC2086
  set -- $rest  # $1 = state (field 3): utime=$12 stime=$13 cutime=$14 cstime=$15
  echo "$(( ${12} + ${13} )) $(( ${14} + ${15} ))"
}
# Machine-wide "busy total" ticks.
sys_ticks() {
  local _ u n s i w q sq st
  read -r _ u n s i w q sq st _ </proc/stat
  echo "$(( u + n + s + q + sq + st )) $(( u + n + s + i + w + q + sq + st ))"
}
io_field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/io" 2>/dev/null || echo 0; }
# Bytes sent on the loopback interface (the agents talk over it; so may anything else here).
lo_tx() { awk '$1 == "lo:" {print $10}' /proc/net/dev; }
hz=$(getconf CLK_TCK)
ticks_s() { awk -v t="$1" -v hz="$hz" 'BEGIN {printf "%.2f", t / hz}'; }
fmt_s() { awk -v ns="$1" 'BEGIN {printf "%.2f", ns / 1e9}'; }
mibps() { awk -v b="$1" -v ns="$2" 'BEGIN {printf "%.0f", (b / 1048576) / (ns / 1e9)}'; }
median() { sort -n | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else printf "%.0f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
json_num() { sed -n "s/.*\"$1\": *\"\{0,1\}\([0-9.]*\)\"\{0,1\},\{0,1\}$/\1/p" | head -1; }

zfs_pid=$(zfs_fuse_pid)
# Snapshots the counters before a timed run; after() prints the CPU summary of the run.
before() {
  read -r c_zfs _ < <(cpu_ticks "$zfs_pid")
  read -r c_a ca_kids < <(cpu_ticks "$alpha_pid")
  read -r c_b cb_kids < <(cpu_ticks "$beta_pid")
  read -r _ c_sh_kids < <(cpu_ticks $$)
  read -r c_busy c_total < <(sys_ticks)
}
# Prints: zfs_fuse_s agents_s kids_s busy_pct others_s (CPU of everything else on the machine)
after() {
  local z a ak b bk sk busy total
  read -r z _ < <(cpu_ticks "$zfs_pid")
  read -r a ak < <(cpu_ticks "$alpha_pid")
  read -r b bk < <(cpu_ticks "$beta_pid")
  read -r _ sk < <(cpu_ticks $$)
  read -r busy total < <(sys_ticks)
  local kids=$(( (ak - ca_kids) + (bk - cb_kids) + (sk - c_sh_kids) ))
  local ours=$(( (z - c_zfs) + (a - c_a) + (b - c_b) + kids ))
  # Machine ticks are per CPU: busy ticks summed over CPUs, like process ticks.
  local others=$(( (busy - c_busy) - ours ))
  [ "$others" -ge 0 ] || others=0
  printf '%s %s %s %s %s\n' "$(ticks_s $(( z - c_zfs )))" "$(ticks_s $(( (a - c_a) + (b - c_b) )))" \
    "$(ticks_s "$kids")" \
    "$(awk -v b=$(( busy - c_busy )) -v t=$(( total - c_total )) -v n="$(nproc)" \
       'BEGIN {printf "%.0f", t ? 100 * n * b / t : 0}')" "$(ticks_s "$others")"
}
# Waits (at most QUIET_WAIT seconds) for a second in which the machine is idle (< 15% of one
# core busy), so a timed run does not start in the middle of someone's build.
busy_pct_1s() {
  local b0 t0 b1 t1
  read -r b0 t0 < <(sys_ticks); sleep 1; read -r b1 t1 < <(sys_ticks)
  echo $(( t1 > t0 ? 100 * $(nproc) * (b1 - b0) / (t1 - t0) : 0 ))
}
wait_quiet() {
  local waited=0 pct
  [ "$QUIET_WAIT" -gt 0 ] || return 0
  while pct=$(busy_pct_1s); [ "$pct" -ge 15 ]; do
    waited=$(( waited + 1 ))
    if [ "$waited" -ge "$QUIET_WAIT" ]; then
      echo "bench: machine still busy (${pct}% of a core) after ${QUIET_WAIT} s; measuring anyway" >&2
      return 0
    fi
  done
}
settle() {
  sync
  sleep "$SETTLE"
  wait_quiet
}
warm() { zfs send "$SRC@bench" >/dev/null; }
destroy_retry() {  # zfs-fuse: "dataset is busy" right after a receive, for a moment
  local i
  for i in $(seq 1 30); do
    zfs destroy -r "$1" 2>/dev/null && return 0
    zfs list -H -o name "$1" >/dev/null 2>&1 || return 0
    sleep 0.3
  done
  zfs destroy -r "$1"
}
free_port() {
  local p=$1
  while ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; do p=$(( p + 1 )); done
  echo "$p"
}

# ---- pools and data ----------------------------------------------------------------------------
say "pools $src_pool and $dst_pool (${pool_mb} MB sparse files in $WORK)"
"$here/deploy/zfs-testbed.sh" mkpool "$src_pool" "$WORK" "${pool_mb}M"
"$here/deploy/zfs-testbed.sh" mkpool "$dst_pool" "$WORK" "${pool_mb}M"
zfs create "$dst_pool/backup"
zfs create "$SRC"

say "filling $SRC with ~${SIZE_MB} MB of real files"
lib_dir=/usr/lib/x86_64-linux-gnu
size_include=$(du -sb --apparent-size /usr/include 2>/dev/null | cut -f1)
size_doc=$(du -sb --apparent-size /usr/share/doc 2>/dev/null | cut -f1)
size_lib=$(find "$lib_dir" -maxdepth 1 -type f -name '*.so*' -printf '%s\n' 2>/dev/null |
           awk '{s += $1} END {print s + 0}')
[ $(( size_include + size_doc + size_lib )) -gt 0 ] || die "nothing to copy (no /usr/include?)"
target=$(( SIZE_MB * 1048576 ))
filled=0 round=0
t0=$(now_ns)
# Whole trees for include and doc; the libraries one by one, so the total lands near the target.
mapfile -t libs < <(find "$lib_dir" -maxdepth 1 -type f -name '*.so*' -printf '%s %p\n' 2>/dev/null | sort -k2)
while [ "$filled" -lt "$target" ]; do
  round=$(( round + 1 ))
  d=$(printf '/%s/%03d' "$SRC" "$round")
  mkdir -p "$d"
  if [ "$size_include" -gt 0 ] && [ $(( filled + size_include / 2 )) -lt "$target" ]; then
    cp -a /usr/include "$d/include"
    filled=$(( filled + size_include ))
  fi
  if [ "$size_doc" -gt 0 ] && [ $(( filled + size_doc / 2 )) -lt "$target" ]; then
    cp -a /usr/share/doc "$d/doc"
    filled=$(( filled + size_doc ))
  fi
  batch=()
  for entry in "${libs[@]}"; do
    [ "$filled" -lt "$target" ] || break
    batch+=("${entry#* }")
    filled=$(( filled + ${entry%% *} ))
  done
  if [ "${#batch[@]}" -gt 0 ]; then
    mkdir -p "$d/lib"
    printf '%s\0' "${batch[@]}" | xargs -0 cp -p -t "$d/lib"
  fi
  [ "$round" -lt 1000 ] || die "cannot fill $SIZE_MB MB from /usr"
done
files=$(find "/$SRC" -type f | wc -l)
echo "copied $(( filled / 1048576 )) MiB, $files files in $round round(s) in $(fmt_s $(( $(now_ns) - t0 ))) s" >&2
zfs snapshot "$SRC@bench"
stream_bytes=$(zfs send "$SRC@bench" | wc -c)
stream_mib=$(( stream_bytes / 1048576 ))
echo "stream of $SRC@bench: $stream_bytes bytes ($stream_mib MiB)" >&2
# What lz4 makes of this stream with the agent's settings (LZ4_compress_default on independent
# 256 KiB blocks = `lz4 -1 -B5`), and the CPU it costs: the expected wire size before framing/TLS.
lz4_bytes=0 lz4_cpu=
if command -v lz4 >/dev/null; then
  read -r _ k0 < <(cpu_ticks $$)
  lz4_bytes=$(zfs send "$SRC@bench" | lz4 -1 -B5 -c | wc -c)
  read -r _ k1 < <(cpu_ticks $$)
  lz4_cpu=$(ticks_s $(( k1 - k0 )))
  echo "lz4 -1 -B5 of the stream: $lz4_bytes bytes; zfs send | lz4 | wc took $lz4_cpu s of CPU (zfs cli + lz4 + wc)" >&2
fi

# ---- agents ------------------------------------------------------------------------------------
say "PKI and two agents (alpha: source, beta: destination)"
"$bin" pki init "$WORK/pki" >/dev/null
"$bin" pki issue "$WORK/pki" alpha >/dev/null
"$bin" pki issue "$WORK/pki" beta >/dev/null
pa=$(free_port $(( 21000 + $$ % 20000 )))
pb=$(free_port $(( pa + 1 )))
for h in alpha beta; do
  if [ $h = alpha ]; then me=$pa other=beta op=$pb ds=$src_pool; else me=$pb other=alpha op=$pa ds=$dst_pool/backup; fi
  cat >"$WORK/$h.toml" <<EOT
host = "$h"
listen = "127.0.0.1:$me"
control_socket = "$WORK/$h.sock"
log_level = "info"
[tls]
ca = "$WORK/pki/ca.crt"
cert = "$WORK/pki/$h.crt"
key = "$WORK/pki/$h.key"
[[peer]]
name = "$other"
address = "127.0.0.1:$op"
datasets = ["$ds"]
EOT
done
"$bin" serve --config "$WORK/alpha.toml" 2>"$WORK/alpha.log" & alpha_pid=$!
"$bin" serve --config "$WORK/beta.toml" 2>"$WORK/beta.log" & beta_pid=$!
for _ in $(seq 1 100); do
  [ -S "$WORK/alpha.sock" ] && [ -S "$WORK/beta.sock" ] && break
  sleep 0.1
done
[ -S "$WORK/alpha.sock" ] && [ -S "$WORK/beta.sock" ] || {
  tail -5 "$WORK/alpha.log" "$WORK/beta.log" >&2; die "the agents did not start"; }
A() { "$bin" --config "$WORK/alpha.toml" "$@"; }
echo "alpha pid $alpha_pid on 127.0.0.1:$pa, beta pid $beta_pid on 127.0.0.1:$pb, zfs-fuse pid ${zfs_pid:-?}" >&2

# ---- the full-send comparison ------------------------------------------------------------------
results=$WORK/results.tsv
: >"$results"
initialized=0

run_baseline() {  # $1 = run number
  warm
  settle
  local load t0 t1 cpu
  load=$(load1)
  before
  t0=$(now_ns)
  zfs send "$SRC@bench" | zfs recv "$BASE"
  t1=$(now_ns)
  cpu=$(after)
  printf 'base\t%s\t%s\t%s\t%s\n' "$1" $(( t1 - t0 )) "$load" "$cpu" >>"$results"
  printf 'run %s  zfs send|recv  %6s s  %4s MiB/s  load %-5s  cpu: zfs-fuse %s s, agents -, zfs cli %s s, machine %s%%, other processes %s s\n' \
    "$1" "$(fmt_s $(( t1 - t0 )))" "$(mibps "$stream_bytes" $(( t1 - t0 )))" "$load" \
    "$(cut -d' ' -f1 <<<"$cpu")" "$(cut -d' ' -f3 <<<"$cpu")" "$(cut -d' ' -f4 <<<"$cpu")" "$(cut -d' ' -f5 <<<"$cpu")" >&2
  destroy_retry "$BASE"
}

run_agent() {  # $1 = run number
  if zfs list -H -o name "$DST" >/dev/null 2>&1; then destroy_retry "$DST"; fi
  warm
  settle
  local load t0 t1 cpu out force=() lo0 b_w
  [ "$initialized" = 1 ] && force=(--force)
  load=$(load1)
  lo0=$(lo_tx)
  b_w=$(io_field "$beta_pid" wchar)
  before
  t0=$(now_ns)
  out=$(A --json init "${force[@]}" "$SRC" beta "$DST") || { echo "$out" >&2; die "agent init failed"; }
  t1=$(now_ns)
  cpu=$(after)
  initialized=1
  local bytes secs wire recv_w
  bytes=$(json_num bytes <<<"$out")
  secs=$(json_num seconds <<<"$out")
  # The wire: everything sent over loopback during the run (TLS records with lz4 blocks, plus
  # TCP/IP headers and whatever else used lo meanwhile). The destination agent's writes: the raw
  # stream into zfs recv's pipe, plus its log lines.
  wire=$(( $(lo_tx) - lo0 ))
  recv_w=$(( $(io_field "$beta_pid" wchar) - b_w ))
  printf 'agent\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" $(( t1 - t0 )) "$load" "$cpu" "${bytes:-0}" "$wire" "${secs:-0}" >>"$results"
  printf 'run %s  agent init     %6s s  %4s MiB/s  load %-5s  cpu: zfs-fuse %s s, agents %s s, zfs cli %s s, machine %s%%, other processes %s s\n' \
    "$1" "$(fmt_s $(( t1 - t0 )))" "$(mibps "$stream_bytes" $(( t1 - t0 )))" "$load" \
    "$(cut -d' ' -f1 <<<"$cpu")" "$(cut -d' ' -f2 <<<"$cpu")" "$(cut -d' ' -f3 <<<"$cpu")" \
    "$(cut -d' ' -f4 <<<"$cpu")" "$(cut -d' ' -f5 <<<"$cpu")" >&2
  printf '        daemon-reported %s s; raw %s bytes; %s bytes over loopback, %s bytes written by beta (zfs recv pipe + log)\n' \
    "${secs:-?}" "${bytes:-?}" "$wire" "$recv_w" >&2
}

say "full send of $SRC@bench ($stream_mib MiB), $REPEAT run(s), order alternating"
for r in $(seq 1 "$REPEAT"); do
  if [ $(( r % 2 )) = 1 ]; then run_baseline "$r"; run_agent "$r"; else run_agent "$r"; run_baseline "$r"; fi
done

# ---- syncs -------------------------------------------------------------------------------------
sync_ms=$WORK/sync_ms sync_daemon_ms=$WORK/sync_daemon_ms small_ms=$WORK/small_ms
: >"$sync_ms"; : >"$sync_daemon_ms"; : >"$small_ms"
settle
say "$SYNCS no-change syncs (load $(load1))"
sync_load=$(load1)
for i in $(seq 1 "$SYNCS"); do
  t0=$(now_ns)
  out=$(A --json sync "$SRC") || { echo "$out" >&2; die "sync failed"; }
  t1=$(now_ns)
  echo $(( (t1 - t0) / 1000000 )) >>"$sync_ms"
  json_num seconds <<<"$out" | awk '{printf "%.0f\n", $1 * 1000}' >>"$sync_daemon_ms"
done
echo "wall ms:   $(tr '\n' ' ' <"$sync_ms")" >&2
echo "daemon ms: $(tr '\n' ' ' <"$sync_daemon_ms")" >&2

say "$SMALL_SYNCS syncs after writing 1 MB (load $(load1))"
small_load=$(load1)
small_bytes=0
for i in $(seq 1 "$SMALL_SYNCS"); do
  head -c 1048576 /dev/urandom >"/$SRC/change.$i"
  t0=$(now_ns)
  out=$(A --json sync "$SRC") || { echo "$out" >&2; die "sync failed"; }
  t1=$(now_ns)
  echo $(( (t1 - t0) / 1000000 )) >>"$small_ms"
  small_bytes=$(json_num bytes <<<"$out")
done
echo "wall ms: $(tr '\n' ' ' <"$small_ms") (last stream $small_bytes bytes)" >&2

# ---- summary -----------------------------------------------------------------------------------
base_ns=$(awk -F'\t' '$1 == "base" {print $3}' "$results" | median)
agent_ns=$(awk -F'\t' '$1 == "agent" {print $3}' "$results" | median)
base_loads=$(awk -F'\t' '$1 == "base" {print $4}' "$results" | paste -sd/)
agent_loads=$(awk -F'\t' '$1 == "agent" {print $4}' "$results" | paste -sd/)
others() { awk -F'\t' -v k="$1" '$1 == k {split($5, c, " "); print c[5]}' "$results" | paste -sd/; }
raw=$(awk -F'\t' '$1 == "agent" {b = $6} END {print b + 0}' "$results")
wire=$(awk -F'\t' '$1 == "agent" {w = $7} END {print w + 0}' "$results")
[ "$raw" -gt 0 ] || raw=$stream_bytes
ratio=$(awk -v a="$agent_ns" -v b="$base_ns" 'BEGIN {printf "%.2f", a / b}')
verdict=$(awk -v r="$ratio" 'BEGIN {print (r <= 1.15) ? "ok" : "ABOVE TARGET 1.15"}')
read -r s_min s_max < <(sort -n "$sync_ms" | awk 'NR == 1 {m = $1} {x = $1} END {print m, x}')
s_med=$(median <"$sync_ms")
d_med=$(median <"$sync_daemon_ms")
sverdict=$(awk -v m="$s_med" 'BEGIN {print (m <= 50) ? "ok" : "ABOVE TARGET 50 ms"}')
label=$([ "$REPEAT" -gt 1 ] && echo "median of $REPEAT" || echo "1 run")

echo
echo "zrep-agent bench  $(date -Is)  $(nproc) cores  build $BUILD_DIR"
echo "dataset ${SIZE_MB} MB: $files files, stream $stream_mib MiB"
echo
printf 'full send %s MB: zfs send|recv %s s (%s MiB/s)   agent %s s (%s MiB/s)   ratio %s  [%s; %s]\n' \
  "$SIZE_MB" "$(fmt_s "$base_ns")" "$(mibps "$stream_bytes" "$base_ns")" \
  "$(fmt_s "$agent_ns")" "$(mibps "$stream_bytes" "$agent_ns")" "$ratio" "$verdict" "$label"
printf '                   load at start: baseline %s, agent %s; CPU s of other processes during: baseline %s, agent %s\n' \
  "$base_loads" "$agent_loads" "$(others base)" "$(others agent)"
cpu_med() { awk -F'\t' -v k="$1" -v i="$2" '$1 == k {split($5, c, " "); print c[i]}' "$results" | sort -n |
            awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
printf 'CPU (median s):    baseline: zfs-fuse %s   agent: zfs-fuse %s + agents %s + their zfs children %s\n' \
  "$(cpu_med base 1)" "$(cpu_med agent 1)" "$(cpu_med agent 2)" "$(cpu_med agent 3)"
printf 'stream bytes:      raw %s MiB, on loopback %s MiB (%s of raw; TLS+TCP overhead, any other lo traffic), lz4 -1 -B5 estimate %s MiB (%s)\n' \
  "$(( raw / 1048576 ))" "$(( wire / 1048576 ))" "$(awk -v w="$wire" -v r="$raw" 'BEGIN {printf "%.2f", w / r}')" \
  "$(( lz4_bytes / 1048576 ))" "$(awk -v w="$lz4_bytes" -v r="$stream_bytes" 'BEGIN {printf "%.2f", w / r}')"
printf 'no-change sync:    min %s ms  median %s ms  max %s ms   (daemon side median %s ms; %s runs, load %s) [%s]\n' \
  "$s_min" "$s_med" "$s_max" "$d_med" "$SYNCS" "$sync_load" "$sverdict"
printf '1 MB change sync:  %s ms   (median %s ms of %s; load %s)\n' \
  "$(paste -sd' ' "$small_ms" | sed 's/ / ms, /g')" "$(median <"$small_ms")" "$SMALL_SYNCS" "$small_load"
if [ "$REPEAT" -gt 1 ]; then
  echo
  echo "per run (seconds; load at start):"
  for r in $(seq 1 "$REPEAT"); do
    awk -F'\t' -v r="$r" '$2 == r && $1 == "base" {b = $3; bl = $4} $2 == r && $1 == "agent" {a = $3; al = $4}
      $2 == r && $1 == "base" {split($5, c, " "); bo = c[5]} $2 == r && $1 == "agent" {split($5, c, " "); ao = c[5]}
      END {printf "  run %d  baseline %.2f (load %s, others %s cpu-s)  agent %.2f (load %s, others %s cpu-s)  ratio %.2f\n", r, b / 1e9, bl, bo, a / 1e9, al, ao, a / b}' "$results"
  done
fi
