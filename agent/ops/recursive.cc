// Recursive pairings (init -R): a filesystem and every filesystem below it, replicated with
// one atomic `zfs snapshot -r` per run. Each filesystem of the tree is a pairing of its own
// (its own properties, base, retention); the root carries zrep:recursive=yes, the others
// zrep:member-of=ROOT, and only the root is synced (by hand or by the scheduler). Children
// created later are initialised by the next sync.
#include <spdlog/spdlog.h>

#include "agent/logic/send_choice.h"
#include "agent/logic/sync_plan.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/ops/replicator.h"

namespace zrep {
namespace {

// The newest zrep sequence used by any filesystem of the tree, plus one.
Result<uint32_t> next_tree_seq(const Zfs& zfs, const std::vector<std::string>& members) {
  uint32_t seq = 0;
  for (const auto& m : members) {
    auto snaps = zfs.list_snapshots(m);
    if (!snaps) return snaps.error();
    auto next = next_zrep_seq(*snaps, {});
    if (!next) return next.error();
    seq = std::max(seq, *next);
  }
  return seq;
}

std::string dest_of(const std::string& member, const std::string& root,
                    const std::string& dest_root) {
  return dest_root + member.substr(root.size());
}

}  // namespace

Result<control::Transfers> Replicator::init_recursive(const control::InitCommand& cmd,
                                                      const ProgressSink& progress) {
  const std::string& root = cmd.fs();
  ZREP_RETURN_IF_ERROR(validate_dataset_name(root));
  ZREP_RETURN_IF_ERROR(validate_dataset_name(cmd.dest_fs()));
  if (cmd.force()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "init -R --force is not supported: clear the old pairing and remove or "
                      "rename the destination tree first");
  }
  auto members = zfs_.list_filesystems(root);
  if (!members) return members.error();
  // No snapshot before the peer answered.
  if (auto probe = connect(cmd.remote_host()); !probe) return probe.error();
  auto seq = next_tree_seq(zfs_, *members);
  if (!seq) return seq.error();
  const std::string part = format_zrep_snap(*seq);
  ZREP_RETURN_IF_ERROR(zfs_.snapshot_recursive(root + "@" + part));
  control::Transfers results;
  results.set_tree(true);
  for (const auto& m : *members) {
    control::InitCommand c;
    c.set_fs(m);
    c.set_remote_host(cmd.remote_host());
    c.set_dest_fs(dest_of(m, root, cmd.dest_fs()));
    auto r = init_with(c, progress, m + "@" + part);
    if (r) {
      Status marked = m == root ? zfs_.set_prop(m, props::kRecursive, "yes")
                                : zfs_.set_prop(m, props::kMemberOf, root);
      if (!marked) r = marked.error();
    }
    if (!r) {
      return Status(r.error()).with_context(
          "init -R " + root + ": " + std::to_string(results.transfers_size()) + " of " +
          std::to_string(members->size()) + " filesystems done, " + m + " failed" +
          (results.transfers().empty() ? "" : "; 'zrep-agent sync " + root + "' finishes it"));
    }
    *results.add_transfers() = std::move(*r);
  }
  spdlog::info("init -R {}: {} filesystems replicated to {}:{}", root, members->size(),
               cmd.remote_host(), cmd.dest_fs());
  return results;
}

Status Replicator::check_tree_unsent(const std::string& root,
                                     const std::vector<std::string>& members) {
  // A member whose transfers keep failing must not make the tree pile up snapshots: past
  // max_unsent unsent ones on any member, no new recursive snapshot is made.
  for (const auto& m : members) {
    auto snaps = zfs_.list_snapshots(m);
    if (!snaps) return snaps.error();
    const size_t unsent = waiting_to_send(*snaps);
    if (unsent >= config_.schedule_settings().max_unsent) {
      auto e = make_error(ErrorCode::kConflict,
                          m + " (in the recursive pairing of " + root + ") has " +
                              std::to_string(unsent) +
                              " unsent snapshots (max_unsent); no new snapshot is made until it "
                              "syncs again. Its last error: " +
                              last_error_of(m));
      record_result(root, e, 0, 0);
      return e;
    }
  }
  return Status::ok();
}

Result<control::Transfers> Replicator::sync_recursive(const std::string& root,
                                                      const ProgressSink& progress) {
  auto p = zfs_.get_props(root, props::filesystem_props());
  if (!p) return p.error();
  const std::string dest_host = props::get(*p, props::kDestHost);
  const std::string dest_root = props::get(*p, props::kDestFs);
  if (props::get(*p, props::kMaster) != "yes") {
    return make_error(ErrorCode::kConflict, root + " is not a zrep master on " + config_.host);
  }
  auto members = zfs_.list_filesystems(root);
  if (!members) return members.error();
  // Like a single sync: no snapshot before the peer answered.
  if (auto probe = connect(dest_host); !probe) {
    record_result(root, probe.error(), 0, 0);
    return probe.error();
  }
  ZREP_RETURN_IF_ERROR(check_tree_unsent(root, *members));
  auto seq = next_tree_seq(zfs_, *members);
  if (!seq) return seq.error();
  const std::string part = format_zrep_snap(*seq);
  ZREP_RETURN_IF_ERROR(zfs_.snapshot_recursive(root + "@" + part));
  control::Transfers results;
  std::vector<std::string> failures;
  for (const auto& m : *members) {
    auto mp = zfs_.get_props(m, props::filesystem_props());
    if (!mp) return mp.error();
    Result<control::Transfer> r = control::Transfer();
    if (props::get(*mp, props::kMaster) == "yes") {
      auto one = sync_one(m, progress, m + "@" + part);  // one transfer: a member is no root
      if (one && one->transfers_size() == 1) {
        r = std::move(*one->mutable_transfers(0));
      } else {
        r = one ? make_error(ErrorCode::kInternal, m + ": no transfer") : one.error();
      }
    } else if (props::get(*mp, props::kDestFs).empty()) {
      // A filesystem created below the root since the last run.
      control::InitCommand c;
      c.set_fs(m);
      c.set_remote_host(dest_host);
      c.set_dest_fs(dest_of(m, root, dest_root));
      spdlog::info("sync {}: {} is new below it; sending it in full", root, m);
      r = init_with(c, progress, m + "@" + part);
      if (r) {
        if (Status s = zfs_.set_prop(m, props::kMemberOf, root); !s) r = s.error();
      }
    } else {
      r = make_error(ErrorCode::kConflict, m + " is below " + root + " but is not a master here");
    }
    if (r) {
      *results.add_transfers() = std::move(*r);
    } else {
      failures.push_back(m + ": " + r.error().message);
      *results.add_transfers() = failed_transfer(m, r.error().message);
    }
  }
  if (!failures.empty()) {
    std::string msg = "sync -R " + root + ": " + std::to_string(failures.size()) + " of " +
                      std::to_string(members->size()) + " filesystems failed";
    for (const auto& f : failures) msg += "\n  " + f;
    return make_error(ErrorCode::kConflict, msg);
  }
  return results;
}

}  // namespace zrep
