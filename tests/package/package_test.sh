#!/usr/bin/env bash
# The Debian package, end to end: builds it with CPack from the build directory (into a temp
# dir: nothing is written to the build dir or the system), checks its files (dpkg-deb -c) and
# control fields (dpkg-deb -I/-f), extracts it into a scratch root (dpkg -x: no maintainer
# script runs, nothing is installed on this machine), runs the extracted binary, and checks the
# man page, the bash completion and the systemd unit (systemd-analyze verify) it holds.
#   usage: package_test.sh BUILD_DIR VERSION
# Needs the build done (deploy/build.sh: the binary and the man page), cpack, dpkg-deb,
# systemd-analyze (package systemd), readelf and ldd. Registered in tests/CMakeLists.txt, label
# `package`.
set -euo pipefail
build=${1:?usage: package_test.sh BUILD_DIR VERSION}
version=${2:?usage: package_test.sh BUILD_DIR VERSION}

die() {
  echo "package_test: $*" >&2
  exit 1
}
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

for tool in cpack dpkg-deb dpkg systemd-analyze readelf ldd zcat; do
  command -v "$tool" >/dev/null || die "$tool is not installed (deploy/install-deps.sh installs what this test needs)"
done
[ -f "$build/CPackConfig.cmake" ] || die "$build/CPackConfig.cmake missing: configure the build first (deploy/build.sh)"
if grep -Eq '^SCDOC_EXECUTABLE:FILEPATH=(.*NOTFOUND)?$' "$build/CMakeCache.txt"; then
  die "scdoc was not found when $build was configured: no man page, no package (apt-get install scdoc, then rerun cmake on $build)"
fi
[ -f "$build/zrep-agent.8.gz" ] || die "$build/zrep-agent.8.gz missing: build first (deploy/build.sh)"
[ -x "$build/zrep-agent" ] || die "$build/zrep-agent missing: build first (deploy/build.sh)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The package. -B: CPack's staging tree and the .deb go to the temp dir.
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log" >&2
  die "cpack -G DEB failed"
fi
arch=$(dpkg --print-architecture)
deb=$tmp/out/zrep-agent_${version}_${arch}.deb
[ -f "$deb" ] || die "cpack made no $(basename "$deb"); it made: $(cd "$tmp/out" && echo ./*.deb)"
echo "package_test: built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

# Its files.
dpkg-deb -c "$deb" | awk '{print $NF}' >"$tmp/files"
for path in \
  ./usr/sbin/zrep-agent \
  ./usr/lib/systemd/system/zrep-agent.service \
  ./usr/share/man/man8/zrep-agent.8.gz \
  ./usr/share/bash-completion/completions/zrep-agent \
  ./usr/share/doc/zrep-agent/README.md \
  ./usr/share/doc/zrep-agent/SECURITY.md \
  ./usr/share/doc/zrep-agent/ARCHITECTURE.md \
  ./usr/share/doc/zrep-agent/FAILOVER.md \
  ./usr/share/doc/zrep-agent/examples/zrep-agent.toml.example \
  ./usr/share/doc/zrep-agent/examples/grafana-dashboard.json \
  ./usr/share/doc/zrep-agent/examples/prometheus-alerts.yml; do
  grep -qxF "$path" "$tmp/files" || fail "the package has no $path"
done
if grep -q 'zrep-agent-test' "$tmp/files"; then
  fail "the package holds the test binary: $(grep 'zrep-agent-test' "$tmp/files" | tr '\n' ' ')"
fi
# No live config (nor anything else in /etc) that an upgrade could overwrite, so no conffiles.
if grep -q '^\./etc/.' "$tmp/files"; then
  fail "the package installs into /etc: $(grep '^\./etc/.' "$tmp/files" | tr '\n' ' ')"
fi
mkdir "$tmp/control"
dpkg-deb -e "$deb" "$tmp/control"
[ ! -e "$tmp/control/conffiles" ] || fail "the package has conffiles: $(cat "$tmp/control/conffiles")"
# The maintainer scripts never enable, start or restart the service.
for script in "$tmp/control"/{preinst,postinst,prerm,postrm}; do
  [ -e "$script" ] || continue
  if grep -Eq 'systemctl +(enable|start|restart|reload-or-restart)|deb-systemd-(invoke|helper)' "$script"; then
    fail "$(basename "$script") enables or starts the service"
  fi
done

# Its control fields.
dpkg-deb -I "$deb" >"$tmp/info"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = zrep-agent ] || fail "Package is '$(field Package)', not zrep-agent"
[ "$(field Version)" = "$version" ] || fail "Version is '$(field Version)', not $version (project() in CMakeLists.txt)"
[ "$(field Section)" = admin ] || fail "Section is '$(field Section)', not admin"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ -n "$(field Description)" ] || fail "no Description"
depends=$(field Depends)
[ -n "$depends" ] || fail "no Depends field"
# Each package in Depends, one a line ("a | b" alternatives split, versions dropped).
printf '%s\n' "${depends//[,|]/$'\n'}" | sed 's/(.*)//; s/^ *//; s/ *$//' | grep -v '^$' >"$tmp/depends"
if ! grep -qxF zfsutils-linux "$tmp/depends" || ! grep -qxF zfs-fuse "$tmp/depends"; then
  fail "Depends has no ZFS (zfsutils-linux | zfs-fuse): $depends"
fi
# Every library the binary links (NEEDED) comes from a package that Depends names (by its
# name or a name it Provides, as libspdlog1.10 provides libspdlog1.10-fmt9).
mkdir "$tmp/root"
dpkg -x "$deb" "$tmp/root"
bin=$tmp/root/usr/sbin/zrep-agent
[ -x "$bin" ] || die "the extracted package has no executable usr/sbin/zrep-agent"
ldd "$bin" >"$tmp/ldd"
nlibs=0
for lib in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  nlibs=$((nlibs + 1))
  path=$(awk -v l="$lib" '$1 == l && $2 == "=>" {print $3}' "$tmp/ldd")
  if [ -z "$path" ] || [ "$path" = "not" ]; then
    fail "$lib (NEEDED by zrep-agent) is not found by ldd"
    continue
  fi
  owner=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null || dpkg -S "$path" 2>/dev/null || true)
  pkg=${owner%%:*}
  if [ -z "$pkg" ]; then
    fail "no installed package holds $path ($lib): cannot check Depends for it"
    continue
  fi
  provides=$(dpkg-query -W -f='${Provides}' "$pkg" 2>/dev/null | tr ',' '\n' | sed 's/(.*)//; s/^ *//; s/ *$//')
  found=0
  for name in "$pkg" $provides; do
    if grep -qxF "$name" "$tmp/depends"; then found=1; fi
  done
  [ "$found" = 1 ] || fail "zrep-agent links $lib (package $pkg) but Depends names neither $pkg nor what it provides ($depends)"
done
[ "$nlibs" -gt 0 ] || fail "readelf found no NEEDED library in $bin"

# The extracted binary runs, and is the production one (the CMake version; no fault hooks).
out=$("$bin" --version) || fail "usr/sbin/zrep-agent --version exited $?"
[ "$out" = "zrep-agent $version" ] || fail "usr/sbin/zrep-agent --version printed '$out', not 'zrep-agent $version'"
if grep -q 'ZREP_FAULT_AT' "$bin"; then
  fail "usr/sbin/zrep-agent has the fault-injection hooks (it is zrep-agent-test)"
fi
# The commands that `zrep-agent [COMMAND] --help` lists (CLI11: "Subcommands:", then one
# indented line each).
subcommands() { "$@" --help | sed -n '/^Subcommands:/,$p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p'; }
[ -n "$(subcommands "$bin")" ] || fail "usr/sbin/zrep-agent --help lists no commands"

# A real command of the installed binary, and the config a host would write from the
# installed example: a CA and this host's certificate, the example with its paths pointed at
# them.
mkdir "$tmp/etc"
pki=$tmp/etc/pki
"$bin" pki init "$pki" >/dev/null || fail "usr/sbin/zrep-agent pki init failed"
"$bin" pki issue "$pki" prod1 >/dev/null || fail "usr/sbin/zrep-agent pki issue failed"
for f in ca.crt prod1.crt prod1.key; do
  [ -s "$pki/$f" ] || fail "pki init/issue made no $f"
done
config=$tmp/etc/zrep-agent.toml
sed -e "s#/etc/zrep-agent/pki/#$pki/#g" \
  -e "s#/run/zrep-agent/zrep-agent.sock#$tmp/zrep-agent.sock#" \
  "$tmp/root/usr/share/doc/zrep-agent/examples/zrep-agent.toml.example" >"$config"
grep -q "$pki/ca.crt" "$config" || fail "the example config names no /etc/zrep-agent/pki/ca.crt to point at the test's CA"
# doctor --offline, the installed binary against that config: it passes what is right (config,
# certificate, chain, key mode) and fails, with what to do, what is not: the CA key beside the
# host key (pki init and issue wrote them into one directory) and the example's [[filesystem]],
# which does not exist here. Both put right, it passes.
if doctor=$("$bin" doctor --offline --config "$config" 2>&1); then
  fail "doctor --offline passed a config whose CA key lies beside the host key: $doctor"
fi
for line in 'OK   config:' 'OK   certificate name:' 'OK   certificate chain:' 'OK   key file mode:' \
  'FAIL CA key:' 'FAIL filesystem tank/data:'; do
  grep -qF "$line" <<<"$doctor" || fail "doctor --offline printed no '$line': $doctor"
done
mkdir "$tmp/ca-offline" && mv "$pki/ca.key" "$tmp/ca-offline/"
sed -i '/^\[\[filesystem\]\]/,$d' "$config"
doctor=$("$bin" doctor --offline --config "$config" 2>&1) ||
  fail "doctor --offline failed on a config with nothing wrong: $doctor"

# The man page: gzip'd roff, a section 8 page, and every command `--help` lists is in it.
man=$tmp/root/usr/share/man/man8/zrep-agent.8.gz
if zcat "$man" >"$tmp/zrep-agent.8"; then
  grep -q '^\.TH "zrep-agent" "8"' "$tmp/zrep-agent.8" || fail "the man page has no '.TH \"zrep-agent\" \"8\"' header"
  grep -q '^\.SH "\?NAME"\?' "$tmp/zrep-agent.8" || fail "the man page has no NAME section"
  # A command's entry starts a line: \fBCOMMAND\fR, or \fBpki init\fR for pki's.
  described() { grep -q "^\\\\fB$1\\(\\\\fR\\| \\)" "$tmp/zrep-agent.8"; }
  while read -r cmd; do
    described "$cmd" || fail "the man page does not describe the command '$cmd' (COMMANDS)"
  done < <(subcommands "$bin")
  while read -r cmd; do
    described "pki $cmd" || fail "the man page does not describe the command 'pki $cmd' (COMMANDS)"
  done < <(subcommands "$bin" pki)
  if command -v groff >/dev/null; then
    warnings=$(groff -man -Tutf8 -z -ww "$tmp/zrep-agent.8" 2>&1) || fail "groff could not format the man page"
    [ -z "$warnings" ] || fail "groff warns about the man page: $warnings"
  fi
else
  fail "usr/share/man/man8/zrep-agent.8.gz is not gzip"
fi

# The bash completion: valid bash that registers a completion for zrep-agent.
completion=$tmp/root/usr/share/bash-completion/completions/zrep-agent
bash -n "$completion" || fail "the bash completion has a syntax error"
# shellcheck disable=SC1090
(source "$completion" && complete -p zrep-agent >/dev/null) ||
  fail "sourcing the bash completion registers no completion for zrep-agent"

# The systemd unit: ExecStart is the packaged binary, and systemd-analyze verify passes. PID 1
# need not be systemd; verify checks that ExecStart's program exists on this machine, so a copy
# of the unit points at the extracted binary. MANPATH: Documentation=man:zrep-agent(8) must
# resolve to the packaged man page.
unit=$tmp/root/usr/lib/systemd/system/zrep-agent.service
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
[ "$exec_start" = /usr/sbin/zrep-agent ] || fail "the unit's ExecStart runs '$exec_start', not /usr/sbin/zrep-agent"
[ -x "$tmp/root$exec_start" ] || fail "the unit's ExecStart $exec_start is not in the package"
mkdir "$tmp/unit"
sed -e "s#^ExecStart=/usr/sbin/zrep-agent#ExecStart=$tmp/root/usr/sbin/zrep-agent#" \
  -e "s#^ExecStartPre=-/usr/sbin/zrep-agent#ExecStartPre=-$tmp/root/usr/sbin/zrep-agent#" \
  "$unit" >"$tmp/unit/zrep-agent.service"
if ! verify=$(MANPATH=$tmp/root/usr/share/man SYSTEMD_LOG_LEVEL=notice \
  systemd-analyze verify "$tmp/unit/zrep-agent.service" 2>&1); then
  fail "systemd-analyze verify of the unit failed: $verify"
elif grep -q 'zrep-agent' <<<"$verify"; then
  fail "systemd-analyze verify warns about the unit: $verify"
fi

# A mount the agent makes when it promotes a filesystem must be visible on the host: no option
# that gives the service a mount namespace of its own (systemd.exec(5): each of these sets one
# up). And the service is Type=notify with a watchdog and a reload.
for option in ProtectSystem ProtectHome PrivateTmp PrivateDevices PrivateMounts ReadOnlyPaths \
  ReadWritePaths InaccessiblePaths ExecPaths NoExecPaths TemporaryFileSystem BindPaths \
  BindReadOnlyPaths RootDirectory RootImage MountAPIVFS ProtectKernelTunables \
  ProtectKernelModules ProtectKernelLogs ProtectControlGroups ProtectProc ProcSubset \
  PrivateUsers ProtectHostname ProtectClock MountFlags; do
  if grep -Eq "^[[:space:]]*$option=" "$unit"; then
    fail "the unit sets $option=, which gives the service its own mount namespace: mounts the agent makes would not be visible on the host"
  fi
done
for line in 'Type=notify' 'ExecReload=/bin/kill -HUP $MAINPID' 'NoNewPrivileges=yes' \
  'ExecStartPre=-/usr/sbin/zrep-agent doctor --offline --config /etc/zrep-agent/zrep-agent.toml'; do
  grep -qxF "$line" "$unit" || fail "the unit has no '$line'"
done
grep -Eq '^WatchdogSec=[1-9]' "$unit" || fail "the unit has no WatchdogSec"

if [ "$failures" -ne 0 ]; then
  echo "package_test: $failures failures" >&2
  exit 1
fi
echo "package_test: $(basename "$deb"): $(wc -l <"$tmp/files") entries, Depends checked against $nlibs linked libraries, the binary, the man page, the completion and the unit are as they should be"
