#include "agent/logic/retention.h"

#include <charconv>

#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"

namespace zrep {

std::vector<std::string> plan_retention(const RetentionInput& in) {
  std::vector<std::string> destroy;
  if (in.keep_guid == 0)
    return destroy;  // without a known base, destroying could force a full resend
  std::vector<const SnapshotInfo*> zrep_snaps;
  for (const auto& s : in.snapshots) {
    if (parse_zrep_snap(snap_part_of(s.name))) zrep_snaps.push_back(&s);
  }
  bool base_seen = false;
  for (const auto* s : zrep_snaps) base_seen = base_seen || s->guid == in.keep_guid;
  if (!base_seen) return destroy;  // the base is not here: something is off, keep everything
  const size_t keep_newest = std::max<uint32_t>(in.savecount, 1);
  if (zrep_snaps.size() <= keep_newest) return destroy;
  const size_t candidates = zrep_snaps.size() - keep_newest;
  bool after_base = false;
  for (size_t i = 0; i < candidates; ++i) {
    const SnapshotInfo& s = *zrep_snaps[i];
    if (s.guid == in.keep_guid) {
      after_base = true;
      continue;
    }
    // An unsent snapshot newer than the base may still be sent. One older than the base never
    // will be (syncs go from the newest common snapshot on).
    if (in.master && !s.sent && after_base) continue;
    destroy.push_back(s.name);
  }
  return destroy;
}

Result<uint32_t> parse_savecount(const std::string& value) {
  if (value.empty()) return props::kDefaultSavecount;
  uint32_t n = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || p != value.data() + value.size() || n < 1 || n > 100000) {
    return make_error(ErrorCode::kInvalidArgument,
                      "zrep:savecount='" + value +
                          "' is not a number from 1 to 100000; fix it with 'zfs set "
                          "zrep:savecount=N FS'");
  }
  return n;
}

}  // namespace zrep
