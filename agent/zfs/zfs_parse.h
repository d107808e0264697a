// Pure parsing for the ZFS adapter (zfs.h): `zfs` output, its error messages and the checks on
// property names and values. No I/O, so all of it is unit-tested without ZFS.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/zfs/zfs.h"
#include "common/result.h"
#include "common/subprocess.h"

namespace zrep {

// Features from the result of `zfs version`: OpenZFS prints "zfs-2.3.2-1" (userland) and
// "zfs-kmod-..."; older implementations reject the command ("unrecognized command"). Fails with
// kUnavailable when zfs cannot reach its kernel module or daemon.
Result<ZfsFeatures> parse_zfs_version(const ProcessOutput& out);

// Decimal numbers exactly as zfs -p prints them: digits only, no sign, space or suffix.
std::optional<uint64_t> parse_u64(std::string_view text);
std::optional<int64_t> parse_i64(std::string_view text);  // an optional leading '-'

// `zfs get -H -p -o property,value,source` output; unset values ("-") are left out. `legacy`:
// the zfs-fuse dialect, whose libzfs reports readonly=on of a mounted filesystem as "off" with
// source "temporary" (from the rw mount option) while it does refuse writes; that reads as "on".
Result<std::map<std::string, std::string>> parse_props(std::string_view out, bool legacy);

using DatasetProps = std::map<std::string, std::map<std::string, std::string>>;
// `zfs get -H -p -s local[,temporary] -o name,property,value,source` output over all datasets:
// filesystems and volumes only (no snapshots or bookmarks); readonly as in parse_props.
Result<DatasetProps> parse_local_props(std::string_view out, bool legacy);

// `zfs get -H -p -o name,property,value guid,createtxg,zrep:sent -d 1 FS` output: the snapshots
// of `fs` only (the listing also holds fs itself and its children), oldest first.
Result<std::vector<SnapshotInfo>> parse_snapshot_listing(std::string_view fs, std::string_view out);

// Lowercase [a-z0-9_:.-], starting with a letter; a native property zrep-agent knows, or a user
// property (one with a ':').
Status validate_property_name(std::string_view prop);
// Printable, one line, not empty, short enough for ZFS.
Status validate_property_value(std::string_view prop, std::string_view value);

// The options of the mount at `mountpoint` in /proc/mounts text (the last one mounted there);
// nullopt when nothing is mounted there. Octal escapes (\040) in paths are decoded.
std::optional<std::vector<std::string>> mount_options_at(std::string_view proc_mounts,
                                                         std::string_view mountpoint);

// zfs's stderr as one bounded line for a message: white space collapsed, usage text dropped.
std::string condense_zfs_stderr(std::string_view err);

}  // namespace zrep
