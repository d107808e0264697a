#!/bin/bash
# (The team's OpenZFS VM rig, carried here so that the lane runs from a clone alone.)
# run-in-vm.sh -- boot the OpenZFS test guest built by make-openzfs-vm.sh, run a
# host-side script inside it as root, print its output, exit with its exit code.
#
# usage: run-in-vm.sh [options] SCRIPT [ARGS...]
#   -s DIR    share host DIR read-write into the guest at /mnt/host (9p); the
#             script starts with cwd=/mnt/host (else /root)
#   -m MB     guest RAM in MiB              (default 2048, env OZFS_MEM)
#   -c N      guest vCPUs                   (default: host cores, env OZFS_CPUS)
#   -t SEC    wall-clock timeout            (default 3600, env OZFS_TIMEOUT)
#   -e K=V    environment variable for the script (repeatable)
#   -d SIZE   attach a blank sparse scratch disk (e.g. -d 8G), deleted after
#             the run; repeatable
#   -D FILE   attach an existing host file/raw image as a disk (kept, written
#             in place); repeatable. Extra disks appear in order as
#             /dev/vdb, /dev/vdc, ... (-d and -D in command-line order)
#   -o DIR    keep the run directory here (output.log console.log rc timings)
#   -p        persist root filesystem changes into root.img (default: throwaway
#             copy-on-write overlay, root.img is never modified)
#   -u        start udevd in the guest (needed for /dev/zvol/* symlinks)
#   -v        stream the guest serial console (kernel + script output) to stderr
#   -a ACCEL  tcg (default) or kvm (env OZFS_ACCEL; NB: this host's /dev/kvm is
#             PVM and cannot boot a stock kernel -- see README)
#   env OZFS_APPEND: extra kernel command line; OZFS_DIR / OZFS_IMG_DIR: locations;
#   OZFS_CPU_MODEL: the emulated CPU under TCG (default Nehalem: SSE4.2, no AVX; zfs commands,
#   writes and module load measured 20-40 % faster than with 'max', whose AVX TCG emulates slowly)
#
# stdout: the script's combined stdout+stderr (as captured in the guest)
# exit:   the script's exit status; 124 = timeout; 125 = guest never reported
#         an exit status (boot failure / kernel panic: see console.log);
#         2 = usage error
set -euo pipefail

OZFS_DIR=${OZFS_DIR:-/var/tmp/ozfs}
IMG_DIR=${OZFS_IMG_DIR:-$OZFS_DIR/out}
MEM=${OZFS_MEM:-2048}
CPUS=${OZFS_CPUS:-$(nproc)}
TIMEOUT=${OZFS_TIMEOUT:-3600}
ACCEL=${OZFS_ACCEL:-tcg}
SHARE= KEEP= PERSIST=0 UDEV=0 VERBOSE=0
ENVS=() DISKS=()

usage() { awk 'NR>1 && /^#/ {sub(/^# ?/, ""); print; next} NR>1 {exit}' "$0" >&2; exit 2; }
while getopts "s:m:c:t:e:d:D:o:puva:h" opt; do
    case $opt in
        s) SHARE=$(realpath "$OPTARG") ;;
        m) MEM=$OPTARG ;;
        c) CPUS=$OPTARG ;;
        t) TIMEOUT=$OPTARG ;;
        e) ENVS+=("$OPTARG") ;;
        d) DISKS+=("new:$OPTARG") ;;
        D) [ -f "$OPTARG" ] || [ -b "$OPTARG" ] || { echo "run-in-vm: -D $OPTARG: no such file" >&2; exit 2; }
           DISKS+=("file:$(realpath "$OPTARG")") ;;
        o) KEEP=$OPTARG ;;
        p) PERSIST=1 ;;
        u) UDEV=1 ;;
        v) VERBOSE=1 ;;
        a) ACCEL=$OPTARG ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
SCRIPT=$1; shift
[ -f "$SCRIPT" ] || { echo "run-in-vm: no such script: $SCRIPT" >&2; exit 2; }
[ -z "$SHARE" ] || [ -d "$SHARE" ] || { echo "run-in-vm: -s $SHARE is not a directory" >&2; exit 2; }
for f in vmlinuz initrd.img root.img; do
    [ -s "$IMG_DIR/$f" ] || { echo "run-in-vm: $IMG_DIR/$f missing; run make-openzfs-vm.sh first" >&2; exit 2; }
done

mkdir -p "$OZFS_DIR/runs" "$OZFS_DIR/tmp"
if [ -n "$KEEP" ]; then mkdir -p "$KEEP"; CTL=$(realpath "$KEEP"); rm -f "$CTL"/{rc,output.log,console.log,t_*}
else CTL=$(mktemp -d "$OZFS_DIR/runs/run.XXXXXX"); fi

QPID= KEEP_CTL=
cleanup() {
    [ -n "$QPID" ] && kill "$QPID" 2>/dev/null || true
    rm -f "$CTL"/scratch*.img
    [ -z "$KEEP" ] && [ -z "$KEEP_CTL" ] && rm -rf "$CTL"
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp "$SCRIPT" "$CTL/script"
[ $# -gt 0 ] && printf '%q ' "$@" >"$CTL/argv" || : >"$CTL/argv"
: >"$CTL/env"
for kv in ${ENVS[@]+"${ENVS[@]}"}; do
    [[ $kv == *=* ]] || { echo "run-in-vm: -e needs K=V, got '$kv'" >&2; exit 2; }
    printf '%s=%q\n' "${kv%%=*}" "${kv#*=}" >>"$CTL/env"
done

case $ACCEL in
    tcg) accel=(-accel tcg,thread=multi -cpu "${OZFS_CPU_MODEL:-Nehalem}") ;;
    kvm) accel=(-accel kvm -cpu host) ;;
    *)   echo "run-in-vm: bad accel '$ACCEL'" >&2; exit 2 ;;
esac
drive="file=$IMG_DIR/root.img,if=virtio,format=raw,discard=unmap"
if [ "$PERSIST" = 1 ]; then drive+=",cache=writeback"; else drive+=",cache=unsafe,snapshot=on"; fi
cmdline="console=ttyS0 root=/dev/vda rw init=/sbin/ozfs-init panic=-1 quiet loglevel=4 ozfs.udev=$UDEV"
# boot-time trims (~0.5 s under TCG): no PS/2 probing, no crypto self-tests, no CPU mitigations
cmdline+=" mitigations=off i8042.noaux i8042.nokbd no_timer_check cryptomgr.notests ${OZFS_APPEND:-}"
qemu=(qemu-system-x86_64 "${accel[@]}" -m "$MEM" -smp "$CPUS"
      -nodefaults -display none -no-reboot -no-user-config
      -kernel "$IMG_DIR/vmlinuz" -initrd "$IMG_DIR/initrd.img" -append "$cmdline"
      -drive "$drive"
      -virtfs "local,path=$CTL,mount_tag=ctl,security_model=none,id=ctl"
      -serial "file:$CTL/console.log"
      -device virtio-rng-pci)          # no -netdev: the guest has no network at all
[ -n "$SHARE" ] && qemu+=(-virtfs "local,path=$SHARE,mount_tag=host,security_model=none,id=host")
n=0
for d in ${DISKS[@]+"${DISKS[@]}"}; do
    n=$((n + 1))
    case $d in
        new:*)  truncate -s "${d#new:}" "$CTL/scratch$n.img"
                qemu+=(-drive "file=$CTL/scratch$n.img,if=virtio,format=raw,cache=unsafe,discard=unmap") ;;
        file:*) qemu+=(-drive "file=${d#file:},if=virtio,format=raw,cache=writeback,discard=unmap") ;;
    esac
done

t0=$(date +%s.%N)
# TMPDIR: where qemu puts the snapshot=on overlay (kept under $OZFS_DIR)
TMPDIR=$OZFS_DIR/tmp timeout -k 10 "$TIMEOUT" "${qemu[@]}" </dev/null >"$CTL/qemu.log" 2>&1 &
QPID=$!
TPID=
if [ "$VERBOSE" = 1 ]; then
    touch "$CTL/console.log"
    tail -n +1 -f --pid="$QPID" "$CTL/console.log" >&2 &
    TPID=$!
fi
qrc=0; wait "$QPID" || qrc=$?
QPID=
[ -n "$TPID" ] && { wait "$TPID" 2>/dev/null || true; }
t1=$(date +%s.%N)
timed_out=0
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then timed_out=1; fi

[ -f "$CTL/output.log" ] && cat "$CTL/output.log"
{
    boot=$(cat "$CTL/t_script_start" 2>/dev/null || echo '?')
    run=$(cat "$CTL/t_script_end" 2>/dev/null || echo '?')
    printf 'run-in-vm: wall %ss, guest boot %ss, guest uptime at script end %ss\n' \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')" "$boot" "$run"
} >"$CTL/timings"
if [ "$timed_out" = 1 ]; then
    KEEP_CTL=1
    echo "run-in-vm: TIMEOUT after ${TIMEOUT}s (run dir: $CTL)" >&2; tail -20 "$CTL/console.log" >&2
    exit 124
fi
if [ ! -s "$CTL/rc" ]; then
    KEEP_CTL=1
    echo "run-in-vm: guest did not report an exit status (run dir kept: $CTL); console tail:" >&2
    tail -40 "$CTL/console.log" >&2; cat "$CTL/qemu.log" >&2
    exit 125
fi
[ "$VERBOSE" = 1 ] && cat "$CTL/timings" >&2
exit "$(cat "$CTL/rc")"
