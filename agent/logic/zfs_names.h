// Validation of ZFS names, and zrep's snapshot naming. Pure functions, no I/O.
//
// zrep-agent is stricter than ZFS: a name it accepts is safe as one argv element of a zfs
// command and in a log line. Every name from a user, a config file or a peer goes through here
// before any use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace zrep {

inline constexpr size_t kMaxDatasetNameLength = 255;

// pool[/component]*: components of [A-Za-z0-9_.:-], not empty, not "." or "..", not starting
// with '-'; the pool starts with a letter; total length <= kMaxDatasetNameLength.
Status validate_dataset_name(std::string_view name);
// dataset@snap: exactly one '@', a valid dataset, a snapshot part of [A-Za-z0-9_.:-] not starting
// with '-'; total length <= kMaxDatasetNameLength.
Status validate_snapshot_name(std::string_view name);
// dataset#bookmark: the same rules as a snapshot name, with '#' for '@'.
Status validate_bookmark_name(std::string_view name);

// The dataset and the snapshot part of "fs@snap" (no validation).
std::string_view dataset_of(std::string_view snapshot_name);
std::string_view snap_part_of(std::string_view snapshot_name);

// True when `dataset` is `root` or lies below it ("tank/a" is within "tank", "tank/ab" is not
// within "tank/a").
bool dataset_within(std::string_view dataset, std::string_view root);

// zrep snapshots: "zrep_" + 6 lowercase hex digits.
std::optional<uint32_t> parse_zrep_snap(std::string_view snap_part);
std::string format_zrep_snap(uint32_t seq);  // "zrep_00002a"
inline constexpr uint32_t kMaxZrepSeq = 0xffffff;

}  // namespace zrep
