#!/usr/bin/env bash
# Checks deploy/zrep-agent.bash-completion: sources it, sets COMP_WORDS/COMP_CWORD as bash
# would, calls the completion function and checks COMPREPLY. Every subcommand (and pki's)
# that `zrep-agent --help` lists must be offered, and every option of every command's --help,
# so the completion cannot silently fall behind the CLI.
#   usage: completion_test.sh SOURCE_DIR ZREP_AGENT_BINARY
set -euo pipefail
src=${1:?usage: completion_test.sh SOURCE_DIR ZREP_AGENT_BINARY}
bin=${2:?usage: completion_test.sh SOURCE_DIR ZREP_AGENT_BINARY}
script=$src/deploy/zrep-agent.bash-completion
[ -x "$bin" ] || { echo "completion_test: no binary at $bin (build first)" >&2; exit 1; }
[ -f "$script" ] || { echo "completion_test: no completion script at $script" >&2; exit 1; }

# shellcheck source=deploy/zrep-agent.bash-completion
source "$script"
complete -p zrep-agent >/dev/null || { echo "completion_test: 'complete -F' not registered" >&2; exit 1; }

failures=0
# complete WORD...: the words of the command line, the last one being completed.
complete_line() {
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE="$*"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _zrep_agent zrep-agent "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
}
# expect WANTED WORD...: WANTED is among the completions of the line.
expect() {
  local want=$1 w
  shift
  complete_line "$@"
  for w in "${COMPREPLY[@]}"; do
    [ "$w" = "$want" ] && return 0
  done
  echo "FAIL: completing '$*' did not offer '$want' (got: ${COMPREPLY[*]:-nothing})" >&2
  failures=$((failures + 1))
}
# expect_not UNWANTED WORD...
expect_not() {
  local unwanted=$1 w
  shift
  complete_line "$@"
  for w in "${COMPREPLY[@]}"; do
    if [ "$w" = "$unwanted" ]; then
      echo "FAIL: completing '$*' offered '$unwanted'" >&2
      failures=$((failures + 1))
    fi
  done
}
# expect_nothing WORD...
expect_nothing() {
  complete_line "$@"
  if [ "${#COMPREPLY[@]}" -ne 0 ]; then
    echo "FAIL: completing '$*' offered ${COMPREPLY[*]}, expected nothing" >&2
    failures=$((failures + 1))
  fi
}

expect sync zrep-agent sy
expect_not status zrep-agent sy
expect --json zrep-agent status --j
expect --json zrep-agent --j
expect --config zrep-agent --co
expect --recursive zrep-agent init --r
expect -L zrep-agent list -
expect --yes zrep-agent clear tank/data --
expect --force zrep-agent takeover --f
expect all zrep-agent sync a
expect all zrep-agent --json expire ""
expect issue zrep-agent pki i
expect revoke zrep-agent -c /etc/x.toml pki ""
# The command is found past global options and their values.
expect sync zrep-agent -c /etc/zrep-agent/zrep-agent.toml --socket /run/x.sock s
expect sync zrep-agent --config=/etc/zrep-agent/zrep-agent.toml s
# --config completes files.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
touch "$tmp/alpha.toml"
expect "$tmp/alpha.toml" zrep-agent --config "$tmp/al"
expect "$tmp/alpha.toml" zrep-agent -c "$tmp/al"
expect "$tmp/alpha.toml" zrep-agent --config = "$tmp/al"
# Without zfs on PATH, filesystem arguments offer nothing, quietly.
saved_path=$PATH
PATH=$tmp
expect_nothing zrep-agent status ""
expect_nothing zrep-agent failover tank/data@
expect all zrep-agent sync ""
PATH=$saved_path
# With zfs (answering or not), completing a filesystem prints nothing on stderr.
errs=$(complete_line zrep-agent status "" 2>&1 >/dev/null)
if [ -n "$errs" ]; then
  echo "FAIL: completing a filesystem wrote to stderr: $errs" >&2
  failures=$((failures + 1))
fi

# Every subcommand and option the CLI lists. CLI11's help: "Subcommands:" then one indented
# line per command; options as "  -x,--long TEXT   ...".
subcommands() { "$@" --help | sed -n '/^Subcommands:/,$p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p'; }
options() {
  "$@" --help | sed -n '/^Options:/,/^$/p' | sed -n 's/^  \(-[^ ]*\).*/\1/p' | tr ',' '\n' |
    grep -v '^$'
}
cmds=$(subcommands "$bin")
[ -n "$cmds" ] || { echo "completion_test: found no subcommands in '$bin --help'" >&2; exit 1; }
ncmds=0
for c in $cmds; do
  ncmds=$((ncmds + 1))
  expect "$c" zrep-agent ""
  expect "$c" zrep-agent "${c:0:2}"
  for o in $(options "$bin" "$c"); do
    expect "$o" zrep-agent "$c" "$o"
  done
  for s in $(subcommands "$bin" "$c" 2>/dev/null || true); do
    expect "$s" zrep-agent "$c" ""
  done
done
for o in $(options "$bin"); do
  expect "$o" zrep-agent "$o"
done

if [ "$failures" -ne 0 ]; then
  echo "completion_test: $failures failures" >&2
  exit 1
fi
echo "completion_test: all completions offered ($ncmds commands from '$bin --help', their options)"
