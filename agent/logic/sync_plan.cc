#include "agent/logic/sync_plan.h"

#include <set>
#include <unordered_map>

#include "agent/logic/zfs_names.h"

namespace zrep {
namespace {

std::string_view snap_part(const std::string& name) {
  auto at = name.find('@');
  return at == std::string::npos ? std::string_view(name) : std::string_view(name).substr(at + 1);
}

}  // namespace

Result<uint32_t> next_zrep_seq(const std::vector<SnapshotInfo>& local,
                               const std::vector<SnapshotInfo>& remote) {
  // The number comes from this host's own snapshots: the peer's names only tell which numbers
  // are taken there (a receive of a name it has already would fail), never how high to jump.
  // A peer showing zrep_ffffff must not stop every sync.
  std::set<uint32_t> taken;
  int64_t highest = -1;
  for (const auto& s : local) {
    if (auto seq = parse_zrep_snap(snap_part(s.name))) {
      taken.insert(*seq);
      highest = std::max<int64_t>(highest, *seq);
    }
  }
  for (const auto& s : remote) {
    if (auto seq = parse_zrep_snap(snap_part(s.name))) taken.insert(*seq);
  }
  // Counting up from the newest local number; at the top of the range, the lowest number free
  // on both sides (snapshots are ordered by creation, never by their number).
  for (int64_t seq = highest + 1; seq <= static_cast<int64_t>(kMaxZrepSeq); ++seq) {
    if (!taken.contains(static_cast<uint32_t>(seq))) return static_cast<uint32_t>(seq);
  }
  for (uint32_t seq = 0; seq <= kMaxZrepSeq; ++seq) {
    if (!taken.contains(seq)) return seq;
  }
  return make_error(ErrorCode::kConflict,
                    "every zrep snapshot name zrep_000000..zrep_ffffff is taken; destroy old zrep "
                    "snapshots");
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
