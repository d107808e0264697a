// Retention as both hosts apply it to their side of a pairing: the master after each sync and
// on `expire`, the destination when its master asks (agent/endpoint/replica.cc). What goes is
// decided by decide_retention (agent/logic/retention.h); this runs it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "agent/logic/retention.h"
#include "agent/logic/zrep_props.h"
#include "agent/zfs/zfs.h"

namespace zrep {

// How this host trims its side of fs: the count (zrep:savecount) and the age grid (the
// config's `retention` for fs, else zrep:retention on fs, else none), measured from `now`.
struct RetentionPolicy {
  uint32_t savecount = 0;
  RetentionGrid grid;
  int64_t now = 0;
};

// fs's policy from its properties `p` and the config; kInvalidArgument for a zrep:savecount or
// zrep:retention that does not parse (the message says how to fix it).
Result<RetentionPolicy> retention_policy(const Config& config, const std::string& fs,
                                         const props::PropMap& p);

struct RetentionDone {
  uint32_t savecount = 0;
  std::string grid;                    // the grid applied ("" none)
  uint64_t keep_guid = 0;              // the newest common snapshot, kept whatever the count
  std::vector<std::string> destroyed;  // fs@snap
  std::map<std::string, std::string> not_destroyed;  // fs@snap -> why it stays
};

// What the policy makes of each zrep snapshot of fs (for `list -s`), nothing destroyed.
// `keep_guid` is the newest snapshot both sides hold (0: unknown, then nothing goes); without
// it, it is derived from this side alone (the master: the newest marked sent; a destination:
// the newest received). `master`: this host sends fs.
// `snaps`: fs's snapshots, oldest first (Zfs::list_snapshots), listed once by the caller.
std::vector<RetentionDecision> retention_decisions(std::vector<SnapshotInfo> snaps,
                                                   const RetentionPolicy& policy,
                                                   std::optional<uint64_t> keep_guid, bool master,
                                                   uint64_t* keep_out = nullptr);

// Applies the policy: destroys what decide_retention says goes. A snapshot that cannot go (a
// clone, an admin's hold) is logged and does not stop the others.
Result<RetentionDone> apply_retention(const Zfs& zfs, const std::string& fs,
                                      const RetentionPolicy& policy,
                                      std::optional<uint64_t> keep_guid, bool master);

}  // namespace zrep
