#include "agent/logic/retention.h"

#include <charconv>

#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"

namespace zrep {

std::vector<RetentionDecision> decide_retention(const RetentionInput& in) {
  std::vector<const SnapshotInfo*> zrep_snaps;
  for (const auto& s : in.snapshots) {
    if (parse_zrep_snap(snap_part_of(s.name))) zrep_snaps.push_back(&s);
  }
  std::vector<RetentionDecision> out;
  for (const auto* s : zrep_snaps) out.push_back({s->name, false, ""});
  bool base_seen = false;
  for (const auto* s : zrep_snaps) base_seen = base_seen || s->guid == in.keep_guid;
  if (in.keep_guid == 0 || !base_seen) {
    // Without a known base, destroying could force a full resend; a base that is not here
    // means something is off: keep everything.
    for (auto& d : out) d.why = "the newest common snapshot is not known here: nothing expires";
    return out;
  }
  std::vector<GridSnapshot> ages;
  for (const auto* s : zrep_snaps) ages.push_back({s->creation});
  const std::vector<std::string> grid = grid_keeps(in.grid, ages, in.now);
  const size_t keep_newest = std::max<uint32_t>(in.savecount, 1);
  const size_t first_newest = zrep_snaps.size() > keep_newest ? zrep_snaps.size() - keep_newest : 0;
  bool after_base = false;
  for (size_t i = 0; i < zrep_snaps.size(); ++i) {
    const SnapshotInfo& s = *zrep_snaps[i];
    RetentionDecision& d = out[i];
    if (s.guid == in.keep_guid) {
      after_base = true;
      d.why = "base: the newest common snapshot";
    } else if (in.master && !s.sent && after_base) {
      // An unsent snapshot newer than the base may still be sent. One older than the base never
      // will be (syncs go from the newest common snapshot on).
      d.why = "unsent: it may still be sent";
    } else if (i >= first_newest) {
      d.why = "savecount: one of the newest " + std::to_string(keep_newest);
    } else if (!grid[i].empty()) {
      d.why = grid[i];
    } else {
      d.destroy = true;
      d.why = in.grid.terms.empty()
                  ? "expires: older than the newest " + std::to_string(keep_newest)
                  : "expires: outside savecount and the grid";
    }
  }
  return out;
}

std::vector<std::string> plan_retention(const RetentionInput& in) {
  std::vector<std::string> destroy;
  for (const auto& d : decide_retention(in)) {
    if (d.destroy) destroy.push_back(d.name);
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
