// Queries over a filesystem's snapshot list (oldest first, as the ZFS adapter lists them):
// finding a GUID, the newest snapshot two lists share, what came after a base. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/logic/zfs_types.h"

namespace zrep {

// The snapshot of `snaps` with `guid`, or nullptr.
const SnapshotInfo* find_guid(const std::vector<SnapshotInfo>& snaps, uint64_t guid);

// The newest snapshot of `mine` whose GUID `theirs` holds too, or nullptr.
const SnapshotInfo* newest_common(const std::vector<SnapshotInfo>& mine,
                                  const std::vector<SnapshotInfo>& theirs);

// Snapshots of a filesystem after `base` (by createtxg), and the ones among them that zrep did
// not make.
struct After {
  std::vector<const SnapshotInfo*> all, foreign;
};
After snapshots_after(const std::vector<SnapshotInfo>& snaps, const SnapshotInfo& base);

// "fs@a, fs@b": names for a message.
std::string names_of(const std::vector<const SnapshotInfo*>& snaps);

}  // namespace zrep
