#!/bin/bash
# (The team's OpenZFS VM rig, carried here so that the lane runs from a clone alone.)
# make-openzfs-vm.sh -- build a QEMU guest (Debian bookworm, stock Debian kernel,
# OpenZFS kernel module built with DKMS) for running real-OpenZFS tests under TCG.
#
# Idempotent: each stage leaves a marker in $ROOTFS/.ozfs/; re-running skips the
# stages already done (and rebuilds the image only when its inputs changed).
#
#   ./make-openzfs-vm.sh            build (or finish building) everything
#   ./make-openzfs-vm.sh --clean    wipe rootfs + outputs and build from scratch
#
# Outputs ($OUT):  vmlinuz  initrd.img  root.img (sparse ext4)  root.img.zst  manifest.txt
# Knobs (environment):
#   OZFS_DIR=/var/tmp/ozfs      work dir (rootfs/, out/, logs/, tmp/ live here)
#   MIRROR=URI  SECURITY_MIRROR=URI   Debian archive and security archive; default: the ones
#                               this machine's own apt sources use
#   ZFS_SUITE=bookworm-backports          (or 'bookworm' for zfs 2.1.11)
#   KERNEL_SUITE=bookworm                 (or 'bookworm-backports' for linux 6.12)
#   IMAGE_FREE_MB=3072          free space left in the root filesystem image
#   SLIM=1                      leave compiler/headers/docs/unneeded drivers out of the image
#   ZSTD_LEVEL=9                compression level for root.img.zst (0 = skip)
#   EXTRA_PKGS=""               extra Debian packages for the guest
#   DEB_CACHE=$OZFS_DIR/cache/debs   downloaded .debs, kept across --clean
#                               (DEB_CACHE= to disable; 'rm -rf' it for a cold build)
set -euo pipefail

OZFS_DIR=${OZFS_DIR:-/var/tmp/ozfs}
ROOTFS=$OZFS_DIR/rootfs
OUT=$OZFS_DIR/out
LOGS=$OZFS_DIR/logs
STAGE=$OZFS_DIR/stage
# the host's own apt sources (deb822 or one-line format): first archive URI, and the security one
apt_uri() {   # $1 = 'security' or 'main'
    { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
      grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}'
    } | if [ "$1" = security ]; then grep -m1 -- '-security'; else grep -v -- '-security' | head -1; fi || true
}
MIRROR=${MIRROR:-$(apt_uri main)}
SECURITY_MIRROR=${SECURITY_MIRROR:-$(apt_uri security)}
[ -n "$MIRROR" ] && [ -n "$SECURITY_MIRROR" ] || { echo "make-openzfs-vm: set MIRROR and SECURITY_MIRROR (no apt sources found)" >&2; exit 2; }
SUITE=bookworm
ZFS_SUITE=${ZFS_SUITE:-bookworm-backports}
KERNEL_SUITE=${KERNEL_SUITE:-bookworm}
IMAGE_FREE_MB=${IMAGE_FREE_MB:-3072}
SLIM=${SLIM:-1}
ZSTD_LEVEL=${ZSTD_LEVEL:-9}
EXTRA_PKGS=${EXTRA_PKGS:-}
DEB_CACHE=${DEB_CACHE-$OZFS_DIR/cache/debs}
M=$ROOTFS/.ozfs          # stage markers

log()  { printf '[make-openzfs-vm %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die()  { log "ERROR: $*"; exit 1; }
done_() { [ -e "$M/$1" ]; }
mark() { mkdir -p "$M"; date +%s >"$M/$1"; }
ch()   { chroot "$ROOTFS" /usr/bin/env -i DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
             PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }

[ "$(id -u)" = 0 ] || die "must run as root"

umount_under() {   # unmount everything mounted below $1 (deepest first)
    local m
    awk -v p="$1/" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m"
    done
}
safe_rm() { umount_under "$1"; rm -rf --one-file-system "$1"; }
T_START=$(date +%s)

if [ "${1:-}" = --clean ]; then
    log "--clean: removing $ROOTFS $STAGE $OUT"
    safe_rm "$ROOTFS"; safe_rm "$STAGE"; rm -rf "$OUT"
fi
mkdir -p "$OUT" "$LOGS" "$OZFS_DIR/tmp"
[ -z "$DEB_CACHE" ] || mkdir -p "$DEB_CACHE/partial"

# ---------------------------------------------------------------- host tools
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-img          >/dev/null || need+=(qemu-utils)
command -v debootstrap       >/dev/null || need+=(debootstrap)
command -v zstd              >/dev/null || need+=(zstd)
command -v mkfs.ext4         >/dev/null || need+=(e2fsprogs)
if [ ${#need[@]} -gt 0 ]; then
    log "installing host packages: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" \
        >"$LOGS/host-apt.log" 2>&1 || {
        apt-get update >>"$LOGS/host-apt.log" 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" \
            >>"$LOGS/host-apt.log" 2>&1; } || die "host apt failed, see $LOGS/host-apt.log"
fi

# ---------------------------------------------------------------- chroot mounts
mounted=()
mount_chroot() {
    local d
    for d in proc sys dev dev/pts; do
        mountpoint -q "$ROOTFS/$d" && continue
        case $d in
            proc) mount -t proc proc "$ROOTFS/proc" ;;
            sys)  mount -t sysfs sys "$ROOTFS/sys" ;;
            *)    mount --bind "/$d" "$ROOTFS/$d" ;;
        esac
        mounted=("$ROOTFS/$d" "${mounted[@]}")
    done
    if [ -n "$DEB_CACHE" ] && ! mountpoint -q "$ROOTFS/var/cache/apt/archives"; then
        mkdir -p "$ROOTFS/var/cache/apt/archives"
        mount --bind "$DEB_CACHE" "$ROOTFS/var/cache/apt/archives"
        mounted=("$ROOTFS/var/cache/apt/archives" "${mounted[@]}")
    fi
}
umount_chroot() {
    local d
    for d in "${mounted[@]}"; do umount "$d" 2>/dev/null || umount -l "$d"; done
    mounted=()
}
trap 'umount_under "$ROOTFS"' EXIT

# ---------------------------------------------------------------- 1. debootstrap
if ! done_ debootstrap; then
    safe_rm "$ROOTFS"   # a half-finished debootstrap is not resumable; start over
    log "debootstrap $SUITE (minbase) -> $ROOTFS"
    debootstrap --variant=minbase --include=kmod,udev,procps,zstd,iproute2,less \
        ${DEB_CACHE:+--cache-dir="$DEB_CACHE"} \
        "$SUITE" "$ROOTFS" "$MIRROR" >"$LOGS/debootstrap.log" 2>&1 \
        || die "debootstrap failed, see $LOGS/debootstrap.log"
    mark debootstrap
fi

# ---------------------------------------------------------------- 2. apt config
mount_chroot
if ! done_ aptconf; then
    log "configuring guest apt (main contrib, bookworm + updates + security + backports)"
    rm -f "$ROOTFS/etc/apt/sources.list"
    cat >"$ROOTFS/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates $SUITE-backports
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    echo 'APT::Install-Recommends "false";' >"$ROOTFS/etc/apt/apt.conf.d/90ozfs-norecommends"
    # never start daemons inside the build chroot
    printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"; chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
    # small initramfs: only what is needed to mount an ext4 root on virtio-blk
    mkdir -p "$ROOTFS/etc/initramfs-tools/conf.d"
    echo 'MODULES=list' >"$ROOTFS/etc/initramfs-tools/conf.d/ozfs.conf"
    printf '%s\n' virtio_pci virtio_blk ext4 crc32c_generic >"$ROOTFS/etc/initramfs-tools/modules"
    echo ozfs-vm >"$ROOTFS/etc/hostname"
    echo 'LABEL=ozfsroot / ext4 rw,relatime 0 1' >"$ROOTFS/etc/fstab"
    ch apt-get update >"$LOGS/apt-update.log" 2>&1 || die "apt-get update failed, see $LOGS/apt-update.log"
    mark aptconf
fi

# ---------------------------------------------------------------- 3. kernel + headers
if ! done_ kernel; then
    log "installing linux-image-amd64 + linux-headers-amd64 from $KERNEL_SUITE"
    # no -t for plain bookworm: a target release would hide the newer kernel in bookworm-security
    tsel=(); [ "$KERNEL_SUITE" = "$SUITE" ] || tsel=(-t "$KERNEL_SUITE")
    ch apt-get install -y ${tsel[@]+"${tsel[@]}"} linux-image-amd64 linux-headers-amd64 \
        >"$LOGS/kernel.log" 2>&1 || die "kernel install failed, see $LOGS/kernel.log"
    mark kernel
fi
KVER=$(ch linux-version list | sort -V | tail -1)
[ -n "$KVER" ] || die "no kernel found in rootfs"
log "guest kernel: $KVER"

# ---------------------------------------------------------------- 4. zfs (dkms)
if ! done_ zfs; then
    log "installing zfs-dkms + zfsutils-linux from $ZFS_SUITE (DKMS build, a few minutes)"
    ch apt-get install -y -t "$ZFS_SUITE" zfs-dkms zfsutils-linux \
        >"$LOGS/zfs.log" 2>&1 || die "zfs install failed, see $LOGS/zfs.log"
    mark zfs
fi
ZVER=$(ch dpkg-query -W -f='${Version}' zfs-dkms)
ZSRC=${ZVER%%-*}
if ! ch modinfo -k "$KVER" -F version zfs >/dev/null 2>&1; then
    # postinst builds for every kernel with headers, but make sure (e.g. kernel added later)
    log "zfs module missing for $KVER -> dkms install zfs/$ZSRC -k $KVER"
    ch dkms install "zfs/$ZSRC" -k "$KVER" >"$LOGS/dkms.log" 2>&1 || die "dkms build failed, see $LOGS/dkms.log"
fi
ZMOD=$(ch modinfo -k "$KVER" -F version zfs) || die "zfs.ko not found for $KVER"
log "zfs module $ZMOD built for $KVER"

# ---------------------------------------------------------------- 4b. extra packages
if [ "$(cat "$M/extra" 2>/dev/null)" != "$EXTRA_PKGS" ]; then
    if [ -n "$EXTRA_PKGS" ]; then
        log "installing EXTRA_PKGS: $EXTRA_PKGS"
        ch apt-get install -y $EXTRA_PKGS >"$LOGS/extra.log" 2>&1 || die "EXTRA_PKGS install failed, see $LOGS/extra.log"
    fi
    echo "$EXTRA_PKGS" >"$M/extra"; rm -f "$M/image"
fi

# ---------------------------------------------------------------- 5. guest init
# (re-installed on every run so edits to this script take effect)
install -d "$ROOTFS/sbin"
cat >"$ROOTFS/sbin/ozfs-init.new" <<'GUEST_INIT'
#!/bin/bash
# /sbin/ozfs-init -- PID 1 of the OpenZFS test guest (installed by make-openzfs-vm.sh).
# Mounts the basics, mounts the 9p shares 'ctl' (run control dir) and 'host'
# (optional user dir, at /mnt/host), runs /mnt/ctl/script with the args in
# /mnt/ctl/argv, records output + exit code in /mnt/ctl, then powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8
umask 022

mnt() { mountpoint -q "$3" || mount -t "$1" ${4:+-o "$4"} "$2" "$3"; }
mnt proc proc /proc
mnt sysfs sys /sys
mnt devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mnt devpts devpts /dev/pts
mnt tmpfs tmpfs /dev/shm
mnt tmpfs tmpfs /run mode=755
mnt tmpfs tmpfs /tmp mode=1777
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
mount -o remount,rw / 2>/dev/null
hostname ozfs-vm
ip link set lo up 2>/dev/null

ts()  { cut -d' ' -f1 /proc/uptime; }
log() { echo "[ozfs-init $(ts)] $*" >/dev/console; }
halt_now() {
    sync
    umount /mnt/host 2>/dev/null; umount /mnt/ctl 2>/dev/null
    echo o >/proc/sysrq-trigger      # immediate power off -> qemu exits
    sleep 30
}
param() {   # value of ozfs.NAME=... on the kernel command line
    local kv
    for kv in $(cat /proc/cmdline); do
        case "$kv" in "ozfs.$1="*) echo "${kv#*=}"; return 0 ;; esac
    done
    return 1
}

modprobe -q 9pnet_virtio; modprobe -q 9p
mkdir -p /mnt/ctl /mnt/host
MSIZE=$(param msize || echo 512000)
O9P="trans=virtio,version=9p2000.L,msize=$MSIZE,cache=none"
mount -t 9p -o "$O9P" ctl /mnt/ctl || { log "FATAL: cannot mount 9p tag 'ctl'"; halt_now; }
mount -t 9p -o "$O9P" host /mnt/host 2>/dev/null || rmdir /mnt/host   # 'host' share is optional
for b in /sys/block/vd[b-z]; do
    [ -e "$b" ] && log "extra disk: /dev/${b##*/} ($(($(cat "$b/size") / 2048)) MiB)"
done

if [ "$(param udev)" = 1 ]; then      # optional: udevd (/dev/zvol/*, /dev/disk/by-* links)
    /lib/systemd/systemd-udevd --daemon 2>/dev/null
    udevadm trigger --action=add 2>/dev/null; udevadm settle -t 30 2>/dev/null
fi

[ -f /mnt/ctl/env ] && set -a && . /mnt/ctl/env && set +a
ts >/mnt/ctl/t_script_start
log "boot done in $(ts)s; running script"
if mountpoint -q /mnt/host; then cd /mnt/host; else cd /root; fi
eval "set -- $(cat /mnt/ctl/argv 2>/dev/null)"     # argv written on the host with printf %q
/bin/bash /mnt/ctl/script "$@" </dev/null 2>&1 | tee /mnt/ctl/output.log >/dev/ttyS0
rc=${PIPESTATUS[0]}
echo "$rc" >/mnt/ctl/rc
ts >/mnt/ctl/t_script_end
log "script exited rc=$rc; powering off"
halt_now
GUEST_INIT
chmod 755 "$ROOTFS/sbin/ozfs-init.new"
if ! cmp -s "$ROOTFS/sbin/ozfs-init.new" "$ROOTFS/sbin/ozfs-init"; then
    mv "$ROOTFS/sbin/ozfs-init.new" "$ROOTFS/sbin/ozfs-init"; rm -f "$M/image"
else
    rm -f "$ROOTFS/sbin/ozfs-init.new"
fi

# ---------------------------------------------------------------- 6. initramfs
if ! done_ initramfs || [ "$ROOTFS/boot/initrd.img-$KVER" -ot "$M/zfs" ]; then
    log "regenerating small initramfs for $KVER"
    ch update-initramfs -u -k "$KVER" >"$LOGS/initramfs.log" 2>&1 || die "update-initramfs failed"
    mark initramfs; rm -f "$M/image"
fi
umount_chroot

# ---------------------------------------------------------------- 7. image
IMGCONF="slim=$SLIM free=$IMAGE_FREE_MB kver=$KVER zfs=$ZMOD"
if [ "$(cat "$M/image" 2>/dev/null)" != "$IMGCONF" ] || [ ! -s "$OUT/root.img" ]; then
    log "staging root filesystem (SLIM=$SLIM)"
    safe_rm "$STAGE"; mkdir -p "$STAGE"
    ex=(--exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' --exclude='./run/*'
        --exclude='./tmp/*' --exclude='./var/cache/apt/*.bin' --exclude='./var/cache/apt/archives/*.deb')
    if [ "$SLIM" = 1 ]; then
        K=./usr/lib/modules/$KVER/kernel
        ex+=(--exclude=./usr/src --exclude=./usr/lib/gcc --exclude='./usr/share/doc/*'
             --exclude='./usr/share/man/*' --exclude='./usr/share/info/*' --exclude='./usr/share/locale/*'
             --exclude='./var/lib/apt/lists/*'
             --exclude="$K/drivers/gpu" --exclude="$K/drivers/net/wireless" --exclude="$K/drivers/net/ethernet"
             --exclude="$K/drivers/media" --exclude="$K/drivers/infiniband" --exclude="$K/drivers/staging"
             --exclude="$K/drivers/bluetooth" --exclude="$K/drivers/iio" --exclude="$K/drivers/isdn"
             --exclude="$K/drivers/usb" --exclude="$K/drivers/hid" --exclude="$K/drivers/input"
             --exclude="$K/drivers/net/can" --exclude="$K/drivers/mtd" --exclude="$K/drivers/platform"
             --exclude="$K/drivers/hwmon" --exclude="$K/drivers/video" --exclude="$K/sound"
             --exclude="$K/net/wireless" --exclude="$K/net/mac80211" --exclude="$K/net/bluetooth")
    fi
    # /lib -> usr/lib on bookworm, so module paths are under ./usr/lib/modules
    tar -C "$ROOTFS" "${ex[@]}" --exclude=./.ozfs -cf - . | tar -C "$STAGE" -xf -
    mkdir -p "$ROOTFS/mnt/stage"; mount --bind "$STAGE" "$ROOTFS/mnt/stage"
    chroot "$ROOTFS" depmod -b /mnt/stage "$KVER"; umount "$ROOTFS/mnt/stage"; rmdir "$ROOTFS/mnt/stage"
    used_mb=$(du -sm "$STAGE" | cut -f1)
    size_mb=$(( used_mb * 110 / 100 + IMAGE_FREE_MB ))
    log "making ext4 image: content ${used_mb} MiB, image ${size_mb} MiB (sparse)"
    rm -f "$OUT/root.img.tmp"
    mkfs.ext4 -q -F -L ozfsroot -E root_owner=0:0 -d "$STAGE" "$OUT/root.img.tmp" "${size_mb}M"
    mv "$OUT/root.img.tmp" "$OUT/root.img"
    cp "$ROOTFS/boot/vmlinuz-$KVER" "$OUT/vmlinuz"
    cp "$ROOTFS/boot/initrd.img-$KVER" "$OUT/initrd.img"
    rm -f "$OUT/root.img.zst"
    safe_rm "$STAGE"
    {
        echo "built:        $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "guest kernel: $KVER ($(ch dpkg-query -W -f='${Version}' linux-image-$KVER 2>/dev/null || true))"
        echo "zfs-dkms:     $ZVER (suite $ZFS_SUITE), zfs.ko version $ZMOD"
        echo "zfsutils:     $(ch dpkg-query -W -f='${Version}' zfsutils-linux)"
        echo "slim:         $SLIM"
        echo "root.img:     $(du -m --apparent-size "$OUT/root.img" | cut -f1) MiB apparent, $(du -m "$OUT/root.img" | cut -f1) MiB allocated"
    } >"$OUT/manifest.txt"
    echo "$IMGCONF" >"$M/image"
fi
if [ "$ZSTD_LEVEL" != 0 ] && [ ! -s "$OUT/root.img.zst" ]; then
    log "compressing root.img with zstd -$ZSTD_LEVEL"
    zstd -q -T0 -"$ZSTD_LEVEL" -f "$OUT/root.img" -o "$OUT/root.img.zst"
    echo "root.img.zst: $(du -m "$OUT/root.img.zst" | cut -f1) MiB (zstd -$ZSTD_LEVEL; restore with: zstd -d --sparse)" >>"$OUT/manifest.txt"
fi

log "done in $(( $(date +%s) - T_START ))s"
cat "$OUT/manifest.txt" >&2
ls -ls "$OUT" >&2
