// The ZFS steps of a role switch that both hosts run: the coordinator (the old master), the
// standby answering its SwitchRequests, and recovery after a crash. The decisions are pure
// functions (agent/logic/role_switch.h); agent/FAILOVER.md describes the state machine.
#include "agent/roles/switch_steps.h"

#include <spdlog/spdlog.h>

#include <initializer_list>
#include <utility>

#include "agent/fault/fault.h"
#include "agent/logic/records.h"
#include "agent/logic/snapshots.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "common/host_name.h"
#include "common/sanitize.h"
#include "common/unix_time.h"

namespace zrep {
namespace {

// Rolls fs back to `base` when zrep snapshots were made after it; refuses to destroy
// snapshots zrep did not make.
Status roll_back_to_base(const Zfs& zfs, const std::string& fs, uint64_t base_guid,
                         const std::string& where) {
  auto snaps = zfs.list_snapshots(fs);
  if (!snaps) return snaps.status();
  const SnapshotInfo* base = find_guid(*snaps, base_guid);
  if (base == nullptr) {
    return make_error(ErrorCode::kNotFound, "the switch's base snapshot (GUID " +
                                                std::to_string(base_guid) + ") is not on " + where +
                                                ":" + fs);
  }
  After after = snapshots_after(*snaps, *base);
  if (!after.foreign.empty()) {
    return make_error(ErrorCode::kConflict,
                      fs + " on " + where + " has snapshots after " + base->name +
                          " that zrep did not make (" + names_of(after.foreign) +
                          "); the switch would destroy them. Move or destroy them first");
  }
  if (after.all.empty()) return Status::ok();
  spdlog::info("{}: rolling back to {} (destroys {})", fs, base->name, names_of(after.all));
  ZREP_RETURN_IF_ERROR(release_base_holds(zfs, fs, base->name));
  return zfs.rollback(base->name, true);
}

std::string fenced_text(const props::PropMap& p) { return props::get(p, props::kFenced); }

// A new master holding a raw (encrypted) replica has no key loaded. When the key's location
// is a file on this host (keylocation=file://..., set by the operator on the standby
// beforehand), load it and mount, so the new master serves its data at once; otherwise say
// what to run. Never fails the switch: the role has moved already.
void load_key_if_possible(const Zfs& zfs, const std::string& fs) {
  if (!zfs.features().raw_send) return;  // no native encryption here
  auto p = zfs.get_props(fs, {"encryption", "keystatus", "encryptionroot", "mounted", "canmount"});
  if (!p || props::get(*p, "encryption").empty() || props::get(*p, "encryption") == "off") return;
  const bool mountable = props::get(*p, "mounted") == "no" && props::get(*p, "canmount") == "on";
  if (props::get(*p, "keystatus") == "available") {
    // The key is there already (loaded by hand, or with a sibling's): only the mount is missing.
    if (!mountable) return;
    if (Status s = zfs.mount(fs); !s) spdlog::warn("{}: mounting failed: {}", fs, s.message());
    return;
  }
  if (props::get(*p, "keystatus") != "unavailable") return;
  std::string root = props::get(*p, "encryptionroot");
  if (root.empty() || root == "-") root = fs;
  auto r = zfs.get_props(root, {"keylocation"});
  const std::string location = r ? props::get(*r, "keylocation") : std::string();
  if (location.rfind("file://", 0) != 0) {
    spdlog::warn(
        "{} is the master now, but its data stays locked: the key of {} is not loaded "
        "(keylocation={}). Run 'zfs load-key {} && zfs mount {}', or set keylocation "
        "to a key file on the standby beforehand and the agent loads it",
        fs, root, location.empty() ? "?" : location, root, fs);
    return;
  }
  if (Status s = zfs.load_key(root); !s) {
    spdlog::warn("{} is the master now, but loading its key failed: {}", fs, s.message());
    return;
  }
  if (!mountable) return;
  if (Status s = zfs.mount(fs); !s) {
    spdlog::warn("{}: key loaded, but mounting failed: {}", fs, s.message());
    return;
  }
  spdlog::info("{}: loaded the key of {} from {} and mounted it", fs, root, location);
}

}  // namespace

// ---- the ZFS steps both hosts run ----

Error demoted_refusal(const std::string& fs, const std::string& host, const std::string& record) {
  return Error{ErrorCode::kConflict,
               fs + " on " + host +
                   " is a demoted old master holding data written after the takeover (" + record +
                   "); run 'zrep-agent resync " + fs + "' on " + host +
                   " to keep that data aside and receive again"};
}

void clean_old_direction(const Zfs& zfs, const std::string& fs, uint64_t base_guid) {
  auto snaps = zfs.list_snapshots(fs);
  if (!snaps) {
    spdlog::warn("{}: cannot list snapshots to clean up after the switch: {}", fs,
                 snaps.error().message);
    return;
  }
  const SnapshotInfo* base = find_guid(*snaps, base_guid);
  if (base == nullptr) return;
  for (const auto& s : *snaps) {
    if (s.createtxg >= base->createtxg || !parse_zrep_snap(snap_part_of(s.name))) continue;
    if (Status st = zfs.destroy_snapshot(s.name); !st) {
      spdlog::warn("{}: could not destroy {} of the old direction: {}", fs, s.name, st.message());
    }
  }
}

Status finish_new_master(const Zfs& zfs, const SwitchJournal& j) {
  ZREP_RETURN_IF_ERROR(write_pairing(
      zfs, j.new_fs,
      {j.new_fs, j.new_host, j.old_fs, j.old_host, std::nullopt, std::to_string(j.epoch)},
      PairingOrder::kEpochFirst));
  ZREP_RETURN_IF_ERROR(zfs.set_prop(j.new_fs, props::kMaster, "yes"));
  hold_base_or_warn(zfs, j.new_fs, j.base_guid);
  clean_old_direction(zfs, j.new_fs, j.base_guid);
  ZREP_RETURN_IF_ERROR(zfs.set_prop(j.new_fs, props::kReadonly, "off"));
  ZREP_RETURN_IF_ERROR(zfs.inherit_prop(j.new_fs, props::kSwitch));
  load_key_if_possible(zfs, j.new_fs);
  return Status::ok();
}

Status commit_new_master(const Zfs& zfs, const SwitchJournal& j) {
  ZREP_RETURN_IF_ERROR(zfs.set_prop(j.new_fs, props::kEpoch, std::to_string(j.epoch)));
  fault_point("standby-committed");
  return finish_new_master(zfs, j);
}

namespace {

bool is_clone_of(const Zfs& zfs, const std::string& fs, const std::string& of) {
  auto o = zfs.get_props(fs, {"origin"});
  return o && dataset_of(props::get(*o, "origin")) == of;
}

// Keeps what the old master `j.old_fs` holds after the switch's base, instead of rolling it back:
// the filesystem (its data and every snapshot after the base) moves aside to
// kept_aside_name(), a clone of the base takes its place and is promoted, so it owns the
// snapshots up to the base with their GUIDs and receives from the new master. Nothing newer is
// destroyed; zrep:kept on old_fs says where it is. Nothing to keep: nothing done. Resumes a
// set-aside cut short (old_fs renamed aside, or a clone not promoted yet).
// The first half of keep_newer_aside: renames old_fs aside when it holds snapshots after the
// base. Returns false when there is nothing (left) to keep, so the set-aside is done.
Result<bool> move_newer_aside(const Zfs& zfs, const SwitchJournal& j, const std::string& aside,
                              bool& fs_exists, bool& aside_exists) {
  const std::string& fs = j.old_fs;
  if (fs_exists && !is_clone_of(zfs, fs, aside)) {
    auto snaps = zfs.list_snapshots(fs);
    if (!snaps) return snaps.error();
    const SnapshotInfo* base = find_guid(*snaps, j.base_guid);
    if (base == nullptr) {
      return make_error(ErrorCode::kNotFound, "the switch's base snapshot (GUID " +
                                                  std::to_string(j.base_guid) + ") is not on " +
                                                  j.old_host + ":" + fs);
    }
    After after = snapshots_after(*snaps, *base);
    if (after.all.empty()) {
      // Nothing newer here (a failover that sent its final snapshot, or one finished before):
      // only a set-aside's leftover pairing properties to clear.
      if (aside_exists) {
        auto ap = zfs.get_props(aside, {props::kSwitch});
        if (ap && !props::get(*ap, props::kSwitch).empty()) {
          for (const auto& name : props::pairing_props()) (void)zfs.inherit_prop(aside, name);
        }
      }
      return false;
    }
    if (aside_exists) {
      return make_error(ErrorCode::kAlreadyExists,
                        aside + " exists on " + j.old_host + "; the failover keeps " + fs +
                            "'s snapshots after " + base->name + " (" + names_of(after.all) +
                            ") there and rolls back nothing. Rename " + aside +
                            " away; the agent retries by itself");
    }
    spdlog::warn("{}: keeping what it holds after {} ({} and its data) in {}", fs, base->name,
                 names_of(after.all), aside);
    ZREP_RETURN_IF_ERROR(zfs.rename_filesystem(fs, aside));
    fs_exists = false;
    aside_exists = true;
  } else if (!fs_exists && !aside_exists) {
    return make_error(ErrorCode::kNotFound, "neither " + fs + " nor " + aside + " exists on " +
                                                j.old_host + "; an operator must look at it");
  } else {
    spdlog::info("{}: finishing the set-aside into {}", fs, aside);
  }
  return true;
}

// The second half: a promoted clone of the base takes old_fs's place with its pairing, and
// zrep:kept says where the newer data is.
Status finish_set_aside(const Zfs& zfs, const SwitchJournal& j, const std::string& aside,
                        bool fs_exists) {
  const std::string& fs = j.old_fs;
  auto kept = zfs.list_snapshots(aside);
  if (!kept) return kept.status();
  const SnapshotInfo* base = find_guid(*kept, j.base_guid);
  if (!fs_exists) {
    if (base == nullptr) {
      return make_error(
          ErrorCode::kNotFound,
          aside + " has no snapshot with the switch's base GUID " + std::to_string(j.base_guid));
    }
    ZREP_RETURN_IF_ERROR(zfs.clone(aside + "@" + std::string(snap_part_of(base->name)), fs));
  }
  ZREP_RETURN_IF_ERROR(zfs.set_prop(fs, props::kReadonly, "on"));
  if (is_clone_of(zfs, fs, aside)) ZREP_RETURN_IF_ERROR(zfs.promote(fs));
  // The pairing (and the journal) move to the clone; the copy aside keeps none of them.
  auto ap = zfs.get_props(aside, props::filesystem_props());
  if (!ap) return ap.status();
  for (const auto& name : props::pairing_props()) {
    const std::string v = props::get(*ap, name);
    if (!v.empty() && v != "-") ZREP_RETURN_IF_ERROR(zfs.set_prop(fs, name, v));
  }
  auto snaps = zfs.list_snapshots(fs);
  const SnapshotInfo* b = snaps ? find_guid(*snaps, j.base_guid) : nullptr;
  ZREP_RETURN_IF_ERROR(zfs.set_prop(
      fs, props::kKept,
      format_kept(
          {aside, j.epoch, b != nullptr ? std::string(snap_part_of(b->name)) : "?", unix_now()})));
  for (const auto& name : props::pairing_props()) (void)zfs.inherit_prop(aside, name);
  (void)zfs.set_prop(aside, props::kReadonly, "on");
  spdlog::warn(
      "{}: what it held after the failover's base is kept in {} (read-only; destroy it "
      "when done)",
      fs, aside);
  return Status::ok();
}

Status keep_newer_aside(const Zfs& zfs, const SwitchJournal& j) {
  const std::string aside = kept_aside_name(j.old_fs, j.epoch);
  ZREP_RETURN_IF_ERROR(validate_dataset_name(aside));
  auto fs_exists = zfs.exists(j.old_fs);
  if (!fs_exists) return fs_exists.status();
  auto aside_exists = zfs.exists(aside);
  if (!aside_exists) return aside_exists.status();
  auto more = move_newer_aside(zfs, j, aside, *fs_exists, *aside_exists);
  if (!more) return more.status();
  if (!*more) return Status::ok();
  return finish_set_aside(zfs, j, aside, *fs_exists);
}

}  // namespace

Status finish_old_master(const Zfs& zfs, const SwitchJournal& j) {
  // A set-aside cut short by a crash: finish it first, so the properties land on the clone.
  auto here = zfs.exists(j.old_fs);
  if (!here) return here.status();
  if (!*here || is_clone_of(zfs, j.old_fs, kept_aside_name(j.old_fs, j.epoch))) {
    ZREP_RETURN_IF_ERROR(keep_newer_aside(zfs, j));
  }
  ZREP_RETURN_IF_ERROR(zfs.set_prop(j.old_fs, props::kReadonly, "on"));
  ZREP_RETURN_IF_ERROR(zfs.inherit_prop(j.old_fs, props::kMaster));
  ZREP_RETURN_IF_ERROR(write_pairing(
      zfs, j.old_fs,
      {j.new_fs, j.new_host, j.old_fs, j.old_host, std::nullopt, std::to_string(j.epoch)},
      PairingOrder::kEpochLast));
  // What the old master holds after the base (a failover at a named snapshot) is kept aside,
  // never rolled back.
  ZREP_RETURN_IF_ERROR(keep_newer_aside(zfs, j));
  hold_base_or_warn(zfs, j.old_fs, j.base_guid);
  clean_old_direction(zfs, j.old_fs, j.base_guid);
  return zfs.inherit_prop(j.old_fs, props::kSwitch);
}

Status finish_demotion(const Zfs& zfs, const std::string& host, const std::string& fs) {
  auto p = zfs.get_props(fs, props::filesystem_props());
  if (!p) return p.status();
  const FenceRecord rec = parse_fenced(props::get(*p, props::kFenced));
  const uint64_t epoch = rec.epoch;
  if (!check_fenced(rec)) {
    return make_error(ErrorCode::kInvalidArgument, fs + " has a malformed zrep:fenced record: " +
                                                       props::get(*p, props::kFenced));
  }
  ZREP_RETURN_IF_ERROR(zfs.set_prop(fs, props::kReadonly, "on"));
  ZREP_RETURN_IF_ERROR(
      write_pairing(zfs, fs, {rec.peer_fs, rec.by, fs, host, std::nullopt, std::to_string(epoch)},
                    PairingOrder::kEpochLast));
  return zfs.inherit_prop(fs, props::kMaster);  // last: until here it is still found as ours
}

Result<bool> finish_forced_takeover(const Zfs& zfs, const std::string& host,
                                    const std::string& fs) {
  auto p = zfs.get_props(fs, props::filesystem_props());
  if (!p) return p.error();
  auto rec = parse_takeover(props::get(*p, props::kTakeover));
  if (!rec) return make_error(ErrorCode::kInvalidArgument, fs + ": " + rec.error().message);
  const uint64_t wanted = rec->epoch;
  const std::string& old_host = rec->old_host;
  const std::string& old_fs = rec->old_fs;
  if (recorded_epoch(*p) < wanted) {
    // Stopped before its commit point: it did not happen.
    spdlog::warn("{}: a forced takeover stopped before writing epoch {}; it did not happen", fs,
                 wanted);
    ZREP_RETURN_IF_ERROR(zfs.inherit_prop(fs, props::kTakeover));
    return false;
  }
  // Writable first: a crash before the role is written leaves a committed takeover that the
  // sweep finishes (it looks for one that is not master yet).
  ZREP_RETURN_IF_ERROR(zfs.set_prop(fs, props::kReadonly, "off"));
  ZREP_RETURN_IF_ERROR(write_pairing(
      zfs, fs, {fs, host, old_fs, old_host, std::nullopt, std::nullopt}, PairingOrder::kEpochLast));
  ZREP_RETURN_IF_ERROR(zfs.set_prop(fs, props::kMaster, "yes"));
  auto snaps = zfs.list_snapshots(fs);
  if (snaps && !snaps->empty()) hold_base_or_warn(zfs, fs, snaps->back().guid);
  load_key_if_possible(zfs, fs);
  return true;
}

Result<peer::SwitchReply> standby_switch_step(const Config& config, const Zfs& zfs,
                                              const std::string& peer,
                                              const peer::SwitchRequest& req) {
  const std::string& fs = req.fs();
  ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  auto j = parse_journal(req.journal());
  if (!j) return j.error();
  if (j->new_host != config.host || j->new_fs != fs || j->old_host != peer) {
    return make_error(ErrorCode::kPermissionDenied,
                      "switch journal from " + peer + " does not name " + config.host + ":" + fs +
                          " as the new master and " + peer + " as the old one");
  }
  auto p = zfs.get_props(fs, props::filesystem_props());
  if (!p) return p.error();
  const std::string recorded = props::get(*p, props::kSwitch);
  const uint64_t epoch = effective_epoch(*p);
  const bool master = props::get(*p, props::kMaster) == "yes";
  peer::SwitchReply reply;
  switch (req.step()) {
    case peer::SwitchRequest::PREPARE: {
      if (master) {
        return make_error(ErrorCode::kConflict, fs + " is a master on " + config.host);
      }
      if (props::get(*p, props::kSrcHost) != peer || props::get(*p, props::kSrcFs) != j->old_fs) {
        return make_error(
            ErrorCode::kPermissionDenied,
            fs + " on " + config.host + " is not the replica of " + peer + ":" + j->old_fs);
      }
      if (!fenced_text(*p).empty()) {
        return make_error(ErrorCode::kConflict, fs + " on " + config.host + " is demoted (" +
                                                    fenced_text(*p) + "); resync it first");
      }
      if (j->base_guid == 0) {
        return make_error(ErrorCode::kInvalidArgument, "switch journal without a base snapshot");
      }
      if (!recorded.empty() && recorded != req.journal()) {
        return make_error(ErrorCode::kConflict, fs + " on " + config.host +
                                                    " already records another switch: " + recorded);
      }
      if (epoch + 1 != j->epoch) {
        return make_error(ErrorCode::kConflict,
                          fs + " on " + config.host + " is at epoch " + std::to_string(epoch) +
                              "; the switch expects " + std::to_string(j->epoch - 1));
      }
      ZREP_RETURN_IF_ERROR(roll_back_to_base(zfs, fs, j->base_guid, config.host));
      ZREP_RETURN_IF_ERROR(zfs.set_prop(fs, props::kSwitch, req.journal()));
      spdlog::info("peer {}: prepared the switch of {} ({})", peer, fs, req.journal());
      fault_point("standby-prepared");
      reply.set_epoch(epoch);
      return reply;
    }
    case peer::SwitchRequest::COMMIT: {
      if (recorded.empty() && master && epoch >= j->epoch) {
        reply.set_epoch(epoch);  // done already (a repeated commit)
        return reply;
      }
      if (recorded != req.journal()) {
        return make_error(ErrorCode::kConflict,
                          "no such switch is prepared for " + fs + " on " + config.host);
      }
      Status s = epoch >= j->epoch ? finish_new_master(zfs, *j) : commit_new_master(zfs, *j);
      ZREP_RETURN_IF_ERROR(s);
      spdlog::info("peer {}: {} is now the master here, epoch {}", peer, fs, j->epoch);
      fault_point("standby-promoted");
      reply.set_epoch(j->epoch);
      return reply;
    }
    case peer::SwitchRequest::ABORT: {
      if (!recorded.empty() && recorded != req.journal()) {
        return make_error(ErrorCode::kConflict,
                          fs + " on " + config.host + " records another switch: " + recorded);
      }
      if (epoch >= j->epoch) {
        return make_error(ErrorCode::kConflict, "the switch of " + fs + " committed on " +
                                                    config.host + " already; it cannot be undone");
      }
      if (!recorded.empty()) ZREP_RETURN_IF_ERROR(zfs.inherit_prop(fs, props::kSwitch));
      spdlog::info("peer {}: the switch of {} was abandoned; {} stays the destination", peer, fs,
                   fs);
      reply.set_epoch(epoch);
      return reply;
    }
    default:
      return make_error(ErrorCode::kProtocol, "unknown switch step");
  }
}

// ---- Replicator: the commands ----

}  // namespace zrep
