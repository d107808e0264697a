#!/usr/bin/env bash
# The zrep-agent demo, from a fresh Debian 12 machine, as root:
#   installs dependencies, builds, starts zfs-fuse, makes two file-backed pools, a CA and two
#   host certificates, starts two agents ("alpha" and "beta") on loopback -- only alpha
#   listens, beta opens no port and keeps a link to alpha, as behind a firewall -- replicates a
#   filesystem of real files from alpha to beta (init), changes files, syncs, shows status and
#   list on both hosts, fails over to beta and back (a sync each way in between), and proves
#   the destination's files equal the source's.
#
#   deploy/demo.sh            run the demo, then stop the agents and destroy the pools
#   deploy/demo.sh --keep     leave agents and pools running to explore
#   deploy/demo.sh --stop     stop what --keep left running
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
keep=0 stop_only=0
case "${1:-}" in
  --keep) keep=1 ;;
  --stop) stop_only=1 ;;
  "") ;;
  *) echo "usage: $0 [--keep|--stop]" >&2; exit 2 ;;
esac

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "installing dependencies and building"
"$here/deploy/install-deps.sh"
"$here/deploy/build.sh" >/dev/null
bin="$here/build/zrep-agent"
"$here/deploy/zfs-testbed.sh" start

work=/var/tmp/zrep-demo
src_pool=zdemo_alpha
dst_pool=zdemo_beta
alpha_pid= beta_pid=

cleanup() {
  [ -n "$alpha_pid" ] && kill "$alpha_pid" 2>/dev/null || true
  [ -n "$beta_pid" ] && kill "$beta_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  "$here/deploy/zfs-testbed.sh" rmpool "$src_pool" "$work" 2>/dev/null || true
  "$here/deploy/zfs-testbed.sh" rmpool "$dst_pool" "$work" 2>/dev/null || true
  rm -rf "$work"
}
# A previous demo run left behind (--keep): start from scratch.
if [ -f "$work/alpha.pid" ]; then kill "$(cat "$work/alpha.pid")" 2>/dev/null || true; fi
if [ -f "$work/beta.pid" ]; then kill "$(cat "$work/beta.pid")" 2>/dev/null || true; fi
sleep 0.5
cleanup
if [ "$stop_only" = 1 ]; then echo "demo stopped"; exit 0; fi
if [ "$keep" = 0 ]; then trap cleanup EXIT; fi
mkdir -p "$work"

say "two pools on sparse files: $src_pool (host alpha) and $dst_pool (host beta)"
"$here/deploy/zfs-testbed.sh" mkpool "$src_pool" "$work" 2G
"$here/deploy/zfs-testbed.sh" mkpool "$dst_pool" "$work" 2G
zfs create "$dst_pool/backup"
zpool list "$src_pool" "$dst_pool"

say "a CA and one certificate per host (zrep-agent pki)"
"$bin" pki init "$work/pki"
"$bin" pki issue "$work/pki" alpha
"$bin" pki issue "$work/pki" beta
ls -l "$work/pki"

pa=17450
cat > "$work/alpha.toml" <<EOT
host = "alpha"
listen = "127.0.0.1:$pa"
control_socket = "$work/alpha.sock"
[tls]
ca = "$work/pki/ca.crt"
cert = "$work/pki/alpha.crt"
key = "$work/pki/alpha.key"
[[peer]]
# no address: beta sits behind a firewall; alpha reaches it over the link beta keeps open
name = "beta"
datasets = ["$src_pool"]
EOT
cat > "$work/beta.toml" <<EOT
host = "beta"
# no listen: beta opens no port at all, it only dials alpha
control_socket = "$work/beta.sock"
[tls]
ca = "$work/pki/ca.crt"
cert = "$work/pki/beta.crt"
key = "$work/pki/beta.key"
[[peer]]
name = "alpha"
address = "127.0.0.1:$pa"
datasets = ["$dst_pool/backup"]
EOT
say "config of alpha ($work/alpha.toml) and beta ($work/beta.toml): only alpha listens"
cat "$work/alpha.toml"
echo "----"
cat "$work/beta.toml"

say "starting the agents (logs: $work/alpha.log, $work/beta.log)"
"$bin" serve --config "$work/alpha.toml" 2>"$work/alpha.log" & alpha_pid=$!
"$bin" serve --config "$work/beta.toml" 2>"$work/beta.log" & beta_pid=$!
echo "$alpha_pid" >"$work/alpha.pid"; echo "$beta_pid" >"$work/beta.pid"
for _ in $(seq 1 100); do
  [ -S "$work/alpha.sock" ] && [ -S "$work/beta.sock" ] && break
  sleep 0.1
done
# beta dials alpha and keeps a link open (heartbeats); alpha reaches beta only over it.
for _ in $(seq 1 100); do
  grep -q "link to alpha up" "$work/beta.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "link to alpha up" "$work/beta.log" ||
  { echo "demo: beta did not link up to alpha in 10 s; see $work/beta.log" >&2; exit 1; }
echo "beta is linked to alpha: $(grep -m1 'link to alpha up' "$work/beta.log")"
A() { "$bin" --config "$work/alpha.toml" "$@"; }
B() { "$bin" --config "$work/beta.toml" "$@"; }

say "a filesystem of real files on alpha: $src_pool/data"
zfs create "$src_pool/data"
cp -r /usr/include/linux "/$src_pool/data/include-linux"
cp -r /usr/share/doc/bash "/$src_pool/data/doc-bash" 2>/dev/null || true
head -c 20M /dev/urandom >"/$src_pool/data/random.bin"
du -sh "/$src_pool/data"

say "alpha: zrep-agent init $src_pool/data beta $dst_pool/backup/data"
A init "$src_pool/data" beta "$dst_pool/backup/data"

say "changing files on alpha, then: zrep-agent sync $src_pool/data"
echo "changed at $(date)" >"/$src_pool/data/include-linux/CHANGED.txt"
rm -rf "/$src_pool/data/doc-bash"
head -c 5M /dev/urandom >>"/$src_pool/data/random.bin"
A sync "$src_pool/data"

say "alpha: zrep-agent status / check / list / list -s"
A status
A check
A list
A list -s "$src_pool/data"
say "beta: zrep-agent status / list -L (the replicas beta holds)"
B status
B list -L
say "beta: zrep-agent --json list -L"
B --json list -L

say "planned failover, run on beta (the standby): zrep-agent failover $dst_pool/backup/data"
B failover "$dst_pool/backup/data"
echo "written on beta, the master now" >"/$dst_pool/backup/data/after-failover.txt"
say "beta is the master: zrep-agent sync $dst_pool/backup/data sends to alpha"
B sync "$dst_pool/backup/data"
echo "alpha has: $(cat "/$src_pool/data/after-failover.txt")"
say "and back, run on alpha: zrep-agent failover $src_pool/data"
A failover "$src_pool/data"
A status
B status

say "snapshots and GUIDs on both hosts"
zfs get -H -p -o name,value guid -r -d 1 "$src_pool/data" | grep @
zfs get -H -p -o name,value guid -r -d 1 "$dst_pool/backup/data" | grep @

say "proving the destination equals the source (SHA-256 of every file)"
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
sums "/$src_pool/data" >"$work/alpha.sums"
sums "/$dst_pool/backup/data" >"$work/beta.sums"
if cmp -s "$work/alpha.sums" "$work/beta.sums"; then
  echo "OK: $(wc -l <"$work/alpha.sums") files identical on alpha and beta"
else
  echo "MISMATCH between source and destination:" >&2
  diff "$work/alpha.sums" "$work/beta.sums" | head -20 >&2
  exit 1
fi

if [ "$keep" = 1 ]; then
  say "left running (--keep)"
  echo "alpha: $bin --config $work/alpha.toml status"
  echo "beta:  $bin --config $work/beta.toml status"
  echo "stop:  $here/deploy/demo.sh --stop   (or run the demo again)"
else
  say "stopping the agents and destroying the demo pools"
fi
