// Retention: which zrep snapshots to destroy so that `savecount` remain, and those an age grid
// keeps (agent/logic/retention_grid.h). Pure, unit-tested.
//
// The rules, in order of precedence:
//  - only zrep snapshots (FS@zrep_XXXXXX) are ever candidates; an admin's own snapshots are not;
//  - the newest common snapshot (the next incremental base, given by GUID) is always kept;
//  - on the master, a snapshot not yet marked sent and newer than that base is kept (it may
//    still be sent); an unsent one older than the base never will be;
//  - of the rest, the newest `savecount` zrep snapshots are kept, and so is every one the grid
//    keeps (both: a snapshot goes only when neither keeps it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/logic/retention_grid.h"
#include "agent/logic/zfs_types.h"
#include "common/result.h"

namespace zrep {

struct RetentionInput {
  std::vector<SnapshotInfo> snapshots;  // oldest first
  uint32_t savecount = 5;
  uint64_t keep_guid = 0;  // newest common snapshot; 0 when unknown (then nothing is destroyed)
  bool master = false;
  RetentionGrid grid = {};  // empty: by count only
  int64_t now = 0;          // unix time the grid's ages are measured from
};

// One zrep snapshot's fate: destroyed, or kept and why ("base: the newest common snapshot",
// "unsent: it may still be sent", "savecount: one of the newest 5", "grid 24x1h: interval 3 of
// 24"). Only zrep snapshots are listed.
struct RetentionDecision {
  std::string name;  // fs@snap
  bool destroy = false;
  std::string why;  // for a kept one; for a destroyed one, "expires: ..."
};

// Every zrep snapshot, oldest first.
std::vector<RetentionDecision> decide_retention(const RetentionInput& in);

// Full names of the snapshots to destroy, oldest first.
std::vector<std::string> plan_retention(const RetentionInput& in);

// zrep:savecount as set on a filesystem ("" -> default); kInvalidArgument for garbage.
Result<uint32_t> parse_savecount(const std::string& value);

}  // namespace zrep
