// Snapshot values for the tests of the pure decisions.
#pragma once

#include <cstdint>
#include <string>

#include "agent/logic/zfs_types.h"

namespace zrep::testing {

// A snapshot named `name` (fs@snap) with its GUID and createtxg; marked sent unless `sent` is
// false.
inline SnapshotInfo snap(const std::string& name, uint64_t guid, uint64_t txg, bool sent = true) {
  SnapshotInfo s;
  s.name = name;
  s.guid = guid;
  s.createtxg = txg;
  if (sent) s.sent = 1700000000;
  return s;
}

}  // namespace zrep::testing
