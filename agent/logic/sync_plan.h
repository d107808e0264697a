// Planning an incremental sync from the two sides' snapshot lists. Pure: no I/O, unit-tested.
//
// The base of the next incremental is the newest local snapshot whose GUID the destination also
// has (names alone are never trusted). The plan also says which common snapshots lack their
// zrep:sent mark on either side (a lost acknowledgement), and refuses when the destination has
// moved past the common base on its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/logic/zfs_types.h"
#include "common/result.h"

namespace zrep {

struct SyncPlan {
  SnapshotInfo base;                    // newest common snapshot (local name and GUID)
  std::vector<std::string> mark_local;  // common snapshots not marked sent here
  std::vector<uint64_t> mark_remote;    // GUIDs of common snapshots not marked sent there
  uint32_t next_seq = 0;                // sequence number for the new zrep snapshot
};

// `local` and `remote` are oldest first; remote names may be bare snapshot parts or full names.
// Errors: kNotFound when there is no common snapshot; kConflict when the destination has a
// snapshot newer than the common base (it would be lost by an incremental receive);
// kConflict when the zrep sequence is exhausted.
Result<SyncPlan> plan_sync(const std::vector<SnapshotInfo>& local,
                           const std::vector<SnapshotInfo>& remote, const std::string& local_fs,
                           const std::string& remote_desc);

// The next zrep sequence number: one above the highest zrep_XXXXXX name in `local`, skipping
// numbers `remote` already uses; past zrep_ffffff, the lowest number free in both lists. The
// peer's names never decide how high the number goes. kConflict only when all 2^24 are taken.
Result<uint32_t> next_zrep_seq(const std::vector<SnapshotInfo>& local,
                               const std::vector<SnapshotInfo>& remote);

}  // namespace zrep
