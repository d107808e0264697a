// Recovery in the background: check_later() queues a filesystem, sweep() resolves unfinished
// switches (recover_locked), finishes demotions and forced takeovers a crash cut short, and
// fences a master whose peer took over while this host was away.
#include <spdlog/spdlog.h>

#include <functional>
#include <utility>

#include "agent/logic/records.h"
#include "agent/logic/role_switch.h"
#include "agent/logic/zrep_props.h"
#include "agent/ops/replicator.h"
#include "agent/ops/replicator_internal.h"
#include "agent/roles/switch_steps.h"
#include "common/sanitize.h"

namespace zrep {
namespace {

// A switch that did not commit: the standby drops its journal (when it has it), the snapshot
// of the master's last state goes, and fs is the writable master again.
Status abort_and_unfence(const Zfs& zfs, const std::string& fs, const SwitchJournal& j,
                         const std::string& text, PeerClient* peer, bool peer_has_journal) {
  if (peer_has_journal && peer != nullptr) {
    peer::SwitchRequest abort;
    abort.set_fs(j.new_fs);
    abort.set_journal(text);
    abort.set_step(peer::SwitchRequest::ABORT);
    if (auto r = peer->switch_step(abort); !r) {
      // It forgets the journal by itself once our lock is gone; it cannot commit without us.
      spdlog::warn("{}: {} did not drop its journal ({}); it will by itself", fs, j.new_host,
                   r.error().message);
    }
  }
  // The snapshot this switch made of the master's last state (at a named snapshot) goes:
  // the filesystem itself still holds all of it.
  if (auto e = zfs.exists(kept_snapshot_name(fs, j.epoch)); e && *e) {
    if (Status d = zfs.destroy_snapshot(kept_snapshot_name(fs, j.epoch)); !d) {
      spdlog::warn("{}: could not remove {}: {}", fs, kept_snapshot_name(fs, j.epoch), d.message());
    }
  }
  ZREP_RETURN_IF_ERROR(zfs.set_prop(fs, props::kReadonly, "off"));
  ZREP_RETURN_IF_ERROR(zfs.inherit_prop(fs, props::kSwitch));
  return Status::ok();
}

}  // namespace

Result<std::string> Replicator::recover_locked(const std::string& fs, PeerClient* peer) {
  auto p = zfs_.get_props(fs, props::filesystem_props());
  if (!p) return p.error();
  const std::string text = props::get(*p, props::kSwitch);
  if (text.empty()) return std::string("nothing to recover");
  auto j = parse_journal(text);
  if (!j) return j.error();
  if (!(j->old_host == config_.host && j->old_fs == fs) &&
      !(j->new_host == config_.host && j->new_fs == fs)) {
    return make_error(ErrorCode::kConflict, fs + "'s switch journal (" + text + ") names neither " +
                                                config_.host + ":" + fs +
                                                " as the old nor as the "
                                                "new master; an operator must look at it");
  }
  RecoveryInput in{config_.host, *j, effective_epoch(*p), std::nullopt};
  std::optional<LockedPeer> fresh;
  bool peer_has_journal = false;
  if (j->old_host == config_.host && in.local_epoch < j->epoch) {
    // Only the new master knows whether it committed: ask it.
    Result<peer::DescribeReply> d = make_error(ErrorCode::kUnavailable, "not asked");
    if (peer != nullptr) d = peer->describe(j->new_fs);
    if (!d) {
      auto c = connect_locked(j->new_host, j->new_fs, "recover");
      if (c) {
        fresh.emplace(std::move(*c));
        peer = fresh->client.get();
        d = peer->describe(j->new_fs);
      } else {
        d = c.error();
      }
    }
    if (d) {
      props::PropMap rp(d->props().begin(), d->props().end());
      in.peer_epoch = d->exists() ? recorded_epoch(rp) : 0;
      peer_has_journal = d->exists() && props::get(rp, props::kSwitch) == text;
    } else {
      spdlog::warn("{}: cannot ask {} about the unfinished switch: {}", fs, j->new_host,
                   d.error().message);
    }
  }
  const Recovery decision = decide_recovery(in);
  spdlog::info("{}: unfinished switch ({}): {}", fs, text, recovery_name(decision));
  switch (decision) {
    case Recovery::kFinishAsNewMaster:
      ZREP_RETURN_IF_ERROR(finish_new_master(zfs_, *j));
      break;
    case Recovery::kFinishAsDestination:
      ZREP_RETURN_IF_ERROR(finish_old_master(zfs_, *j));
      break;
    case Recovery::kAbortHere:
      ZREP_RETURN_IF_ERROR(zfs_.inherit_prop(fs, props::kSwitch));
      break;
    case Recovery::kAbortAndUnfence:
      ZREP_RETURN_IF_ERROR(abort_and_unfence(zfs_, fs, *j, text, peer, peer_has_journal));
      break;
    case Recovery::kWaitForPeer:
      check_later(fs);
      return make_error(ErrorCode::kUnavailable,
                        fs + " stays read-only: " + j->new_host +
                            " cannot be asked whether the failover committed; the agent asks "
                            "again by itself");
  }
  return std::string(recovery_name(decision));
}

void Replicator::check_later(const std::string& fs) {
  std::lock_guard lk(mu_);
  pending_.insert(fs);
}

bool Replicator::sweep(bool everything) {
  std::set<std::string> todo;
  {
    std::lock_guard lk(mu_);
    todo.swap(pending_);
    everything = everything || std::exchange(full_sweep_pending_, false);
  }
  if (todo.empty() && !everything) return false;
  auto found = zfs_.find_local_props(props::filesystem_props());
  if (!found) {
    spdlog::warn("recovery: cannot list filesystems: {}", found.error().message);
    std::lock_guard lk(mu_);
    pending_.insert(todo.begin(), todo.end());
    full_sweep_pending_ = full_sweep_pending_ || everything;
    return true;
  }
  bool unresolved = false;
  for (const auto& [fs, p] : *found) {
    if (sweep_one(fs, p, everything || todo.contains(fs))) unresolved = true;
  }
  return unresolved;
}

bool Replicator::fix_locked(const std::string& fs, const char* what,
                            const std::function<Status()>& fix) {
  auto held = lock(fs, what);
  Status s = held ? fix() : Status(held.error());
  if (!s) {
    spdlog::warn("{} of {}: {}", what, fs, s.message());
    check_later(fs);
    return true;
  }
  return false;
}

bool Replicator::sweep_one(const std::string& fs, const props::PropMap& p, bool check_peer) {
  const bool master = props::get(p, props::kMaster) == "yes";
  const std::string journal = props::get(p, props::kSwitch);
  const std::string fenced = fenced_text(p);
  if (!journal.empty()) {
    // Only this host's side of a switch (several hosts may share one ZFS, as in the tests).
    auto j = parse_journal(journal);
    if (j && j->old_host == config_.host && fs == kept_aside_name(j->old_fs, j->epoch) &&
        recorded_epoch(p) >= j->epoch) {
      // A set-aside (failover at a named snapshot) cut short: finish the old master's part.
      return fix_locked(j->old_fs, "recover", [&] { return finish_old_master(zfs_, *j); });
    }
    if (j && !(j->old_host == config_.host && j->old_fs == fs) &&
        !(j->new_host == config_.host && j->new_fs == fs)) {
      return false;
    }
    return fix_locked(fs, "recover", [&]() -> Status {
      auto r = recover_locked(fs, nullptr);
      if (r) spdlog::info("recovery of {}: {}", fs, *r);
      return r.status();
    });
  }
  if (!fenced.empty()) {
    if (master && parse_fenced(fenced).by != config_.host) {
      return fix_locked(fs, "fence", [&] { return finish_demotion(zfs_, config_.host, fs); });
    }
    return false;
  }
  if (!props::get(p, props::kTakeover).empty() && !master &&
      props::get(p, props::kDestHost) == config_.host) {
    return fix_locked(fs, "takeover",
                      [&] { return finish_forced_takeover(zfs_, config_.host, fs).status(); });
  }
  if (!master || props::get(p, props::kSrcHost) != config_.host) return false;
  if (!check_peer) return false;
  return fence_if_taken_over(fs, p);
}

bool Replicator::fence_if_taken_over(const std::string& fs, const props::PropMap& p) {
  // A master: is the peer at a higher epoch (it took over while this host was away)? Asked
  // without the lock, so a sync or failover started meanwhile is not refused as busy.
  const std::string dest_host = props::get(p, props::kDestHost);
  auto peer = connect(dest_host);
  if (!peer) return false;  // the next sync checks again
  auto remote = describe_pair(**peer, fs, p, props::get(p, props::kDestFs));
  if (!remote || !remote->exists()) return false;
  auto judged = judge_peer_claim(fs, p, *remote, dest_host);
  if (!judged || judged->verdict != ClaimVerdict::kTakenOver) {
    if (judged && judged->verdict == ClaimVerdict::kUnbacked) {
      spdlog::error("REFUSED CLAIM: {}; {} stays the writable master", printable_text(judged->why),
                    fs);
    }
    return false;
  }
  return fix_locked(fs, "fence", [&]() -> Status {
    // Look again under the lock: a failover may have changed the roles meanwhile.
    auto fresh = zfs_.get_props(fs, props::filesystem_props());
    if (!fresh) return fresh.status();
    if (props::get(*fresh, props::kMaster) != "yes" ||
        !props::get(*fresh, props::kSwitch).empty() ||
        props::get(*fresh, props::kEpoch) != props::get(p, props::kEpoch)) {
      return Status::ok();
    }
    Status demoted = fence_locked(fs, *fresh, *remote, dest_host);
    // fence_locked reports a demotion as an error for the caller; here it is the outcome.
    auto after = zfs_.get_props(fs, {props::kFenced});
    return after && !fenced_text(*after).empty() ? Status::ok() : demoted;
  });
}

}  // namespace zrep
