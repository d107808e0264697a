#!/usr/bin/env bash
# The real-ZFS testbed: zfs-fuse with pools on sparse files.
#
#   zfs-testbed.sh start              start zfs-fuse unless a ZFS daemon already answers
#   zfs-testbed.sh mkpool NAME DIR [SIZE]
#                                     make pool NAME on a sparse file DIR/NAME.img (default 2G)
#   zfs-testbed.sh rmpool NAME DIR    destroy pool NAME and remove its file
#
# Tests call `start` and then make uniquely named pools; they destroy what they make.
set -euo pipefail

zfs_answers() { zpool list -H >/dev/null 2>&1; }

# True while PID is a live (not zombie) zfs-fuse process.
zfs_fuse_alive() {
  local pid=$1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = zfs-fuse ] &&
    ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null
}

start() {
  if zfs_answers; then return 0; fi
  [ -e /dev/fuse ] || { echo "zfs-testbed: /dev/fuse is missing (modprobe fuse?)" >&2; exit 1; }
  command -v zfs-fuse >/dev/null || { echo "zfs-testbed: zfs-fuse is not installed (run deploy/install-deps.sh)" >&2; exit 1; }
  mkdir -p /run/zfs-fuse /var/lock/zfs
  local pidfile=/run/zfs-fuse/zfs-fuse.pid pid
  # A daemon that is starting or stopping: give it 10 s to answer or to go.
  for _ in $(seq 1 100); do
    pid=$(cat "$pidfile" 2>/dev/null || true)
    zfs_fuse_alive "$pid" || break
    zfs_answers && return 0
    sleep 0.1
  done
  if zfs_fuse_alive "$pid"; then
    echo "zfs-testbed: zfs-fuse (pid $pid) runs but 'zpool list' does not answer after 10 s" >&2
    exit 1
  fi
  # zfs-fuse refuses to start, silently and with exit 1, while its pidfile is newer than the
  # boot. A daemon that was killed (a session or CI run ending) leaves that file behind.
  if [ -f "$pidfile" ]; then
    echo "zfs-testbed: removing stale $pidfile (pid ${pid:-?} is not running)" >&2
    rm -f "$pidfile"
  fi
  # With no daemon, every zfs-fuse mount left behind is dead ("Transport endpoint is not
  # connected") and would block remounting its dataset.
  local mnt
  awk '$3 == "fuse.zfs" {print $2}' /proc/mounts | sort -r | while read -r mnt; do
    umount -l "$mnt" 2>/dev/null || true
  done
  zfs-fuse --pidfile "$pidfile" --no-kstat-mount || {
    echo "zfs-testbed: zfs-fuse failed to start (exit $?); 'zfs-fuse --no-daemon' shows why" >&2
    exit 1
  }
  for _ in $(seq 1 100); do
    zfs_answers && return 0
    sleep 0.1
  done
  echo "zfs-testbed: zfs-fuse started but 'zpool list' does not answer after 10 s" >&2
  exit 1
}

mkpool() {
  local name=$1 dir=$2 size=${3:-2G}
  mkdir -p "$dir"
  truncate -s "$size" "$dir/$name.img"
  zpool create -f -m "/$name" "$name" "$dir/$name.img"
}

rmpool() {
  local name=$1 dir=$2
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    zpool destroy -f "$name" 2>/dev/null && break
    zpool list -H "$name" >/dev/null 2>&1 || break
    sleep 0.3
  done
  rm -f "$dir/$name.img"
}

cmd=${1:-}; shift || true
case "$cmd" in
  start) start ;;
  mkpool) mkpool "$@" ;;
  rmpool) rmpool "$@" ;;
  *) echo "usage: $0 start | mkpool NAME DIR [SIZE] | rmpool NAME DIR" >&2; exit 2 ;;
esac
