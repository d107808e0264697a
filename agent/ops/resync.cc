// resync on a demoted old master: the divergent filesystem moves aside (kept), a promoted
// clone of the newest snapshot it shares with the new master takes its place, and it becomes
// that master's destination again.
#include <spdlog/spdlog.h>

#include "agent/logic/role_switch.h"
#include "agent/logic/snapshots.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/ops/replicator.h"
#include "agent/ops/replicator_internal.h"
#include "agent/rpc/wire.h"
#include "common/unix_time.h"

namespace zrep {
namespace {

// A resync whose clone failed after fs moved aside as `aside` (`made` says why): the clone
// goes and the copy is renamed back. What to report.
Error undo_resync(const Zfs& zfs, const std::string& fs, const std::string& aside,
                  const Status& made) {
  auto still = zfs.exists(fs);
  Status gone = (!still || *still) ? zfs.destroy_filesystem(fs, false) : Status::ok();
  if (!gone) {
    return make_error(made.code(), "resync of " + fs + " failed: " + made.message() +
                                       "; the copy is intact as " + aside +
                                       ", and the clone made in its place could not be removed (" +
                                       gone.message() + "): destroy " + fs + ", rename " + aside +
                                       " back to " + fs + ", and run resync again");
  }
  if (Status back = zfs.rename_filesystem(aside, fs); !back) {
    return make_error(made.code(), "resync of " + fs + " failed: " + made.message() +
                                       "; the copy is intact as " + aside +
                                       " but could not be renamed back (" + back.message() +
                                       "): rename it to " + fs + " and run resync again");
  }
  return made.error();
}

}  // namespace

Result<control::ResyncResult> Replicator::resync(const control::ResyncCommand& cmd) {
  const std::string& fs = cmd.fs();
  auto managed = managed_filesystems({fs});
  if (!managed) return managed.error();
  auto held = lock(fs, "resync");
  if (!held) return held.error();
  auto p = zfs_.get_props(fs, props::filesystem_props());
  if (!p) return p.error();
  if (fenced_text(*p).empty()) {
    return make_error(ErrorCode::kConflict,
                      fs + " on " + config_.host +
                          " is not demoted; resync is for an old master fenced after a takeover");
  }
  const std::string new_host = props::get(*p, props::kSrcHost);
  const std::string new_fs = props::get(*p, props::kSrcFs);
  const std::string epoch = props::get(*p, props::kEpoch);
  auto peer = connect(new_host);
  if (!peer) return Status(peer.error()).with_context("resync of " + fs);
  auto remote = (*peer)->describe(new_fs);
  if (!remote) return remote.error();
  props::PropMap rp(remote->props().begin(), remote->props().end());
  if (!remote->exists() || props::get(rp, props::kMaster) != "yes") {
    return make_error(ErrorCode::kConflict,
                      new_fs + " on " + new_host + " is not a master; nothing to resync from");
  }
  auto local = zfs_.list_snapshots(fs);
  if (!local) return local.error();
  const SnapshotInfo* common = newest_common(*local, from_wire(new_fs, remote->snapshots()));
  if (common == nullptr) {
    return make_error(ErrorCode::kNotFound,
                      fs + " shares no snapshot with " + new_host + ":" + new_fs +
                          "; start over with 'zrep-agent init --force' on " + new_host);
  }
  // Keep everything this copy holds: the whole filesystem moves aside, and a clone of the
  // common snapshot, promoted so it owns the snapshots up to it, takes its place.
  std::string aside = fs + "-diverged-e" + epoch;
  if (auto e = zfs_.exists(aside); !e || *e) aside += "-" + std::to_string(unix_now());
  ZREP_RETURN_IF_ERROR(validate_dataset_name(aside));
  const std::string common_part(snap_part_of(common->name));
  ZREP_RETURN_IF_ERROR(zfs_.rename_filesystem(fs, aside));
  Status made = zfs_.clone(aside + "@" + common_part, fs);
  if (made) made = zfs_.set_prop(fs, props::kReadonly, "on");
  if (made) made = zfs_.promote(fs);
  if (!made) return undo_resync(zfs_, fs, aside, made);
  ZREP_RETURN_IF_ERROR(write_pairing(
      zfs_, fs,
      {new_fs, new_host, fs, config_.host,
       props::get(*p, props::kSavecount).empty() ? std::to_string(props::kDefaultSavecount)
                                                 : props::get(*p, props::kSavecount),
       epoch},
      PairingOrder::kSavecountLast));
  hold_base_or_warn(zfs_, fs, common->guid);
  for (const auto& name : props::pairing_props()) (void)zfs_.inherit_prop(aside, name);
  (void)zfs_.set_prop(aside, props::kReadonly, "on");
  spdlog::info(
      "resync {}: the divergent copy is kept as {}; {} is at {} and receives from {} again", fs,
      aside, fs, common->name, new_host);
  control::ResyncResult out;
  out.set_fs(fs);
  out.set_kept_as(aside);
  out.set_common_snapshot(common->name);
  out.set_master(new_host);
  out.set_master_fs(new_fs);
  out.set_fenced(fenced_text(*p));
  return out;
}

}  // namespace zrep
