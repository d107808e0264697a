#include "agent/sync_plan.h"

#include <unordered_map>

#include "agent/zfs_names.h"

namespace zrep {
namespace {

std::string_view snap_part(const std::string& name) {
  auto at = name.find('@');
  return at == std::string::npos ? std::string_view(name) : std::string_view(name).substr(at + 1);
}

}  // namespace

Result<uint32_t> next_zrep_seq(const std::vector<SnapshotInfo>& local,
                               const std::vector<SnapshotInfo>& remote) {
  int64_t highest = -1;
  for (const auto* list : {&local, &remote}) {
    for (const auto& s : *list) {
      if (auto seq = parse_zrep_snap(snap_part(s.name))) {
        highest = std::max<int64_t>(highest, *seq);
      }
    }
  }
  if (highest >= static_cast<int64_t>(kMaxZrepSeq)) {
    return make_error(
        ErrorCode::kConflict,
        "zrep snapshot sequence exhausted (zrep_ffffff exists); rename or destroy old "
        "zrep snapshots");
  }
  return static_cast<uint32_t>(highest + 1);
}

Result<SyncPlan> plan_sync(const std::vector<SnapshotInfo>& local,
                           const std::vector<SnapshotInfo>& remote, const std::string& local_fs,
                           const std::string& remote_desc) {
  std::unordered_map<uint64_t, const SnapshotInfo*> remote_by_guid;
  for (const auto& r : remote) remote_by_guid[r.guid] = &r;

  const SnapshotInfo* base = nullptr;
  for (auto it = local.rbegin(); it != local.rend(); ++it) {
    if (remote_by_guid.contains(it->guid)) {
      base = &*it;
      break;
    }
  }
  if (base == nullptr) {
    return make_error(
        ErrorCode::kNotFound,
        "no common snapshot between " + local_fs + " and " + remote_desc +
            " (compared by GUID); a full resend is needed: 'zrep-agent init --force'");
  }
  if (!remote.empty() && remote.back().guid != base->guid) {
    return make_error(ErrorCode::kConflict,
                      remote_desc + " has snapshot " + std::string(snap_part(remote.back().name)) +
                          " newer than the last common snapshot " +
                          std::string(snap_part(base->name)) +
                          "; an incremental receive would fail. Destroy it there if it is not "
                          "needed, or re-initialise with 'zrep-agent init --force'");
  }

  SyncPlan plan;
  plan.base = *base;
  for (const auto& l : local) {
    auto r = remote_by_guid.find(l.guid);
    if (r == remote_by_guid.end()) continue;
    if (!l.sent) plan.mark_local.push_back(l.name);
    if (!r->second->sent) plan.mark_remote.push_back(l.guid);
  }
  auto seq = next_zrep_seq(local, remote);
  if (!seq) return seq.error();
  plan.next_seq = *seq;
  return plan;
}

}  // namespace zrep
