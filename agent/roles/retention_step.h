// Retention as both hosts apply it to their side of a pairing: the master after each sync and
// on `expire`, the destination when its master asks (agent/endpoint/replica.cc). What goes is
// decided by plan_retention (agent/logic/retention.h); this runs it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/logic/zrep_props.h"
#include "agent/zfs/zfs.h"

namespace zrep {

struct RetentionDone {
  uint32_t savecount = 0;
  uint64_t keep_guid = 0;              // the newest common snapshot, kept whatever the count
  std::vector<std::string> destroyed;  // fs@snap
  std::map<std::string, std::string> not_destroyed;  // fs@snap -> why it stays
};

// Applies fs's zrep:savecount (in `p`, its properties) to its zrep snapshots. `keep_guid` is the
// newest snapshot both sides hold (0: unknown, then nothing goes); without it, it is derived
// from this side alone (the master: the newest marked sent; a destination: the newest
// received). `master`: this host sends fs. A snapshot that cannot go (a clone, an admin's hold)
// is logged and does not stop the others.
Result<RetentionDone> apply_retention(const Zfs& zfs, const std::string& fs,
                                      const props::PropMap& p, std::optional<uint64_t> keep_guid,
                                      bool master);

}  // namespace zrep
