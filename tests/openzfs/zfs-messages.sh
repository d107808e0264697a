#!/bin/bash
# zfs-messages.sh -- prints what this ZFS says (stderr, exit code) for the failures the agent's
# adapter classifies (agent/zfs/zfs_parse.cc: classify_zfs_error) and for the properties it reads.
# Meant to run in the OpenZFS guest, on its own throw-away pools:
#   ../shared/openzfs-vm/run-in-vm.sh -c 2 -m 3072 -t 300 tests/openzfs/zfs-messages.sh
modprobe zfs 2>/dev/null || true
zpool list -H >/dev/null 2>&1 || { echo "ZFS does not answer" >&2; exit 1; }
d=/var/tmp/probe; mkdir -p $d
truncate -s 1G $d/p.img; truncate -s 96M $d/small.img
zpool create -f -m /p p $d/p.img; zpool create -f -m /small small $d/small.img
# prints a command, its stdout and stderr (8 lines each) and its exit code
show() { echo "\$ $*"; "$@" >/tmp/o 2>/tmp/e; rc=$?; sed 's/^/  out: /' /tmp/o | head -8; sed 's/^/  err: /' /tmp/e | head -8; echo "  exit $rc"; }
zfs version
zfs create p/fs; echo x >/p/fs/f; zfs snapshot p/fs@s1; echo y >/p/fs/g; zfs snapshot p/fs@s2
zfs bookmark p/fs@s1 p/fs#b1
show zfs list -H -o name p/nope
show zfs list -H -o name nopool/x
show zfs list -H -o name p/fs@nope
show zfs get -H -p -o property,value,source zrep:master p/nope
show zfs destroy p/fs@nope
show zfs destroy p/nope
show zfs destroy nopool/x@s
show zfs rollback p/fs@nope
show zfs rollback p/fs@s1
show zfs create p/nope/x
show zfs create p/fs
show zfs snapshot p/fs@s1
show zfs get -H -p -o name,property,value guid,createtxg,creation,zrep:sent -d 1 p/fs
zfs create p/fs/child; show zfs destroy p/fs
zfs hold keep p/fs@s1; show zfs destroy p/fs@s1; zfs release keep p/fs@s1
show zfs rename p/fs@nope p/fs@x
# receive paths
zfs send p/fs@s1 | zfs recv p/dst; zfs set readonly=on p/dst
show zfs get -H -p -o property,value,source written,readonly p/dst
cat /p/dst/f >/dev/null; show zfs get -H -p -o property,value written p/dst
zfs send p/fs@s1 >/tmp/full.zs; zfs send -i p/fs@s1 p/fs@s2 >/tmp/inc.zs
echo "\$ zfs recv p/dst < full (exists)"; zfs recv p/dst </tmp/full.zs; echo "  exit $?"
zfs set readonly=off p/dst; echo z >/p/dst/local
show zfs get -H -p -o property,value written p/dst
echo "\$ zfs recv p/dst < incremental (modified)"; zfs recv p/dst </tmp/inc.zs; echo "  exit $?"
echo "\$ zfs recv p/dst2 < incremental (no such dest)"; zfs recv p/dst2 </tmp/inc.zs; echo "  exit $?"
echo "\$ zfs recv small/x < 150 MB (out of space)"
zfs create p/big; head -c 150M /dev/urandom >/p/big/r; zfs snapshot p/big@s
zfs send p/big@s | zfs recv small/x; echo "  exit ${PIPESTATUS[*]} (send, recv)"
show zfs list -H -o name -r small
show zfs get -H -p -s local -o name,property,value,source readonly,zrep:dest-fs
zpool destroy p; zpool destroy small
