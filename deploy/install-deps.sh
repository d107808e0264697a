#!/usr/bin/env bash
# Installs every Debian package zrep-agent needs to build, test, package and run (scdoc makes
# the man page; systemd-analyze, of systemd, checks the unit in tests/package).
# Idempotent and quiet when everything is already there. Run as root.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config git
  libasio-dev libssl-dev libprotobuf-dev protobuf-compiler liblz4-dev
  libcli11-dev libtomlplusplus-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev
  clang libclang-rt-14-dev
  zfs-fuse fuse procps coreutils
  scdoc systemd
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run this script as root" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# zfs-fuse's maintainer script tries to start its service; no init system here is fine.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
