// What a sync or an init sends, decided from snapshot lists alone: the unsent snapshots a
// failing transfer left behind, a bookmark as the incremental base when the base snapshot is
// gone, whether a destination's partial receive may be resumed, and whether the snapshot sent
// was made by this run. Pure: no I/O, unit-tested (tests/unit/logic/send_choice_test.cc).
#pragma once

#include <string>
#include <vector>

#include "agent/logic/sync_plan.h"
#include "agent/logic/zfs_types.h"
#include "common/result.h"

namespace zrep {

// The zrep snapshots of `local` (oldest first) created after `base` and not marked sent,
// oldest first: what transfers that failed after they started leave behind.
std::vector<const SnapshotInfo*> unsent_after(const std::vector<SnapshotInfo>& local,
                                              const SnapshotInfo& base);

// How many zrep snapshots of `snaps` (oldest first) wait to be sent: those after the newest one
// marked sent (all of them when none is). The one meaning of "unsent" that status shows and
// max_unsent limits; an unsent one older than a sent one never will be (retention takes it).
// unsent_after(local, base) counts the same while the base is the newest sent snapshot.
size_t waiting_to_send(const std::vector<SnapshotInfo>& snaps);

// The newest zrep snapshot of `local` (oldest first) not marked sent; nullptr when none.
const SnapshotInfo* newest_unsent_zrep(const std::vector<SnapshotInfo>& local);

// plan_sync over `local` and the bookmarks of the filesystem (FS#name), merged in creation
// order, so that a bookmark can be the incremental base. A bookmark is never in mark_local.
Result<SyncPlan> plan_sync_with_bookmarks(const std::vector<SnapshotInfo>& local,
                                          const std::vector<SnapshotInfo>& bookmarks,
                                          const std::vector<SnapshotInfo>& remote,
                                          const std::string& local_fs,
                                          const std::string& remote_desc);

// A destination's partial receive, as its record names it (the peer's words): `name` is the
// full local name of its snapshot, `guid` and `base_guid` the GUIDs as written in the record.
// The local snapshot it may be resumed with: that snapshot (name and GUID), when the record's
// base is `base` and it is an unsent zrep snapshot after it. kConflict otherwise.
Result<SnapshotInfo> resumable_snapshot(const std::vector<SnapshotInfo>& local,
                                        const std::string& name, const std::string& guid,
                                        const std::string& base_guid, const SnapshotInfo& base);

// Whether a sync sending `snapshot` made it in this run: not when it resumes a transfer, nor
// when it sends an unsent one again (already in `local`); always when the caller made it (a
// recursive snapshot, `given_by_caller`).
bool made_by_this_run(bool resuming, bool given_by_caller, const std::vector<SnapshotInfo>& local,
                      const std::string& snapshot);

}  // namespace zrep
