#include "agent/roles/retention_step.h"

#include <spdlog/spdlog.h>

#include "agent/logic/retention.h"
#include "agent/logic/zfs_names.h"

namespace zrep {

Result<RetentionDone> apply_retention(const Zfs& zfs, const std::string& fs,
                                      const props::PropMap& p, std::optional<uint64_t> keep_guid,
                                      bool master) {
  auto savecount = parse_savecount(props::get(p, props::kSavecount));
  if (!savecount) return savecount.error();
  auto snaps = zfs.list_snapshots(fs);
  if (!snaps) return snaps.error();
  RetentionDone done;
  done.savecount = *savecount;
  if (!keep_guid) {
    keep_guid = 0;
    for (const auto& s : *snaps) {
      if (parse_zrep_snap(snap_part_of(s.name)) && (!master || s.sent)) keep_guid = s.guid;
    }
  }
  done.keep_guid = *keep_guid;
  for (const auto& name : plan_retention({*snaps, *savecount, *keep_guid, master})) {
    if (Status s = zfs.destroy_snapshot(name); !s) {
      spdlog::warn("{}: retention could not destroy {}: {}", fs, name, s.message());
      done.not_destroyed[name] = s.message();
      continue;
    }
    done.destroyed.push_back(name);
  }
  return done;
}

}  // namespace zrep
