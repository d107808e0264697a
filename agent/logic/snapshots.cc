#include "agent/logic/snapshots.h"

#include "agent/logic/zfs_names.h"

namespace zrep {

const SnapshotInfo* find_guid(const std::vector<SnapshotInfo>& snaps, uint64_t guid) {
  for (const auto& s : snaps) {
    if (s.guid == guid) return &s;
  }
  return nullptr;
}

const SnapshotInfo* newest_common(const std::vector<SnapshotInfo>& mine,
                                  const std::vector<SnapshotInfo>& theirs) {
  const SnapshotInfo* found = nullptr;
  for (const auto& s : mine) {
    if (find_guid(theirs, s.guid) != nullptr) found = &s;
  }
  return found;
}

After snapshots_after(const std::vector<SnapshotInfo>& snaps, const SnapshotInfo& base) {
  After a;
  for (const auto& s : snaps) {
    if (s.createtxg <= base.createtxg) continue;
    a.all.push_back(&s);
    if (!parse_zrep_snap(snap_part_of(s.name))) a.foreign.push_back(&s);
  }
  return a;
}

std::string names_of(const std::vector<const SnapshotInfo*>& snaps) {
  std::string out;
  for (const auto* s : snaps) out += (out.empty() ? "" : ", ") + s->name;
  return out;
}

}  // namespace zrep
