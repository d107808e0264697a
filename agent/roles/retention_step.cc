#include "agent/roles/retention_step.h"

#include <spdlog/spdlog.h>

#include "agent/fault/fault.h"
#include "agent/logic/zfs_names.h"

namespace zrep {

Result<RetentionPolicy> retention_policy(const Config& config, const std::string& fs,
                                         const props::PropMap& p) {
  RetentionPolicy policy;
  auto savecount = parse_savecount(props::get(p, props::kSavecount));
  if (!savecount) return savecount.error();
  policy.savecount = *savecount;
  const auto configured = config.retention_for(fs);
  const std::string text = configured ? *configured : props::get(p, props::kRetention);
  auto grid = parse_retention_grid(text);
  if (!grid) {
    return Status(grid.error())
        .with_context(configured ? "the config's retention for " + fs
                                 : std::string(props::kRetention) + " on " + fs +
                                       " (fix it with 'zfs set " + props::kRetention + "=GRID " +
                                       fs + "' or 'zfs inherit')");
  }
  policy.grid = std::move(*grid);
  policy.now = retention_clock();
  return policy;
}

std::vector<RetentionDecision> retention_decisions(std::vector<SnapshotInfo> snaps,
                                                   const RetentionPolicy& policy,
                                                   std::optional<uint64_t> keep_guid, bool master,
                                                   uint64_t* keep_out) {
  if (!keep_guid) {
    keep_guid = 0;
    for (const auto& s : snaps) {
      if (parse_zrep_snap(snap_part_of(s.name)) && (!master || s.sent)) keep_guid = s.guid;
    }
  }
  if (keep_out != nullptr) *keep_out = *keep_guid;
  return decide_retention(
      {std::move(snaps), policy.savecount, *keep_guid, master, policy.grid, policy.now});
}

Result<RetentionDone> apply_retention(const Zfs& zfs, const std::string& fs,
                                      const RetentionPolicy& policy,
                                      std::optional<uint64_t> keep_guid, bool master) {
  RetentionDone done;
  done.savecount = policy.savecount;
  done.grid = policy.grid.text();
  auto snaps = zfs.list_snapshots(fs);
  if (!snaps) return snaps.error();
  for (const auto& d :
       retention_decisions(std::move(*snaps), policy, keep_guid, master, &done.keep_guid)) {
    if (!d.destroy) continue;
    if (Status s = zfs.destroy_snapshot(d.name); !s) {
      spdlog::warn("{}: retention could not destroy {}: {}", fs, d.name, s.message());
      done.not_destroyed[d.name] = s.message();
      continue;
    }
    done.destroyed.push_back(d.name);
  }
  return done;
}

}  // namespace zrep
