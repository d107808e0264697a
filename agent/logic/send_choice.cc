#include "agent/logic/send_choice.h"

#include <algorithm>

#include "agent/logic/zfs_names.h"

namespace zrep {

std::vector<const SnapshotInfo*> unsent_after(const std::vector<SnapshotInfo>& local,
                                              const SnapshotInfo& base) {
  std::vector<const SnapshotInfo*> unsent;
  for (const auto& s : local) {
    if (s.createtxg > base.createtxg && !s.sent && parse_zrep_snap(snap_part_of(s.name))) {
      unsent.push_back(&s);
    }
  }
  return unsent;
}

size_t waiting_to_send(const std::vector<SnapshotInfo>& snaps) {
  size_t waiting = 0;
  for (const auto& s : snaps) {
    if (!parse_zrep_snap(snap_part_of(s.name))) continue;
    waiting = s.sent ? 0 : waiting + 1;
  }
  return waiting;
}

const SnapshotInfo* newest_unsent_zrep(const std::vector<SnapshotInfo>& local) {
  const SnapshotInfo* candidate = nullptr;
  for (const auto& s : local) {
    if (!s.sent && parse_zrep_snap(snap_part_of(s.name))) candidate = &s;
  }
  return candidate;
}

Result<SyncPlan> plan_sync_with_bookmarks(const std::vector<SnapshotInfo>& local,
                                          const std::vector<SnapshotInfo>& bookmarks,
                                          const std::vector<SnapshotInfo>& remote,
                                          const std::string& local_fs,
                                          const std::string& remote_desc) {
  std::vector<SnapshotInfo> with_marks = local;
  with_marks.insert(with_marks.end(), bookmarks.begin(), bookmarks.end());
  std::stable_sort(
      with_marks.begin(), with_marks.end(),
      [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.createtxg < b.createtxg; });
  auto from_mark = plan_sync(with_marks, remote, local_fs, remote_desc);
  if (from_mark) {
    std::erase_if(from_mark->mark_local,
                  [](const std::string& n) { return n.find('#') != std::string::npos; });
  }
  return from_mark;
}

Result<SnapshotInfo> resumable_snapshot(const std::vector<SnapshotInfo>& local,
                                        const std::string& name, const std::string& guid,
                                        const std::string& base_guid, const SnapshotInfo& base) {
  auto it = std::find_if(local.begin(), local.end(), [&](const SnapshotInfo& s) {
    return s.name == name && std::to_string(s.guid) == guid;
  });
  if (it == local.end() || std::to_string(base.guid) != base_guid) {
    return make_error(ErrorCode::kConflict, "that snapshot or its base is gone here");
  }
  if (!parse_zrep_snap(snap_part_of(it->name)) || it->sent || it->createtxg <= base.createtxg) {
    return make_error(ErrorCode::kConflict,
                      it->name + " is not an unsent zrep snapshot after " + base.name);
  }
  return *it;
}

bool made_by_this_run(bool resuming, bool given_by_caller, const std::vector<SnapshotInfo>& local,
                      const std::string& snapshot) {
  return !resuming && (given_by_caller ||
                       std::none_of(local.begin(), local.end(),
                                    [&](const SnapshotInfo& s) { return s.name == snapshot; }));
}

}  // namespace zrep
