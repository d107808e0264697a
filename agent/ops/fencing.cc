// Fencing: what the peer says of a pairing, judged against this host's state
// (judge_peer_claim), the refusals it leads to (split brain, an unbacked claim), and the
// demotion of a master whose peer took over while it was away.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "agent/logic/records.h"
#include "agent/logic/role_switch.h"
#include "agent/logic/snapshots.h"
#include "agent/logic/sync_plan.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/ops/replicator.h"
#include "agent/roles/switch_steps.h"
#include "agent/rpc/wire.h"
#include "common/host_name.h"
#include "common/sanitize.h"
#include "common/unix_time.h"

namespace zrep {

Result<ClaimJudgement> Replicator::judge_peer_claim(const std::string& fs, const props::PropMap& p,
                                                    const peer::DescribeReply& remote,
                                                    const std::string& peer_host) {
  props::PropMap rp(remote.props().begin(), remote.props().end());
  PeerClaim claim;
  claim.here_host = config_.host;
  claim.here_fs = fs;
  claim.peer_host = peer_host;
  claim.peer_fs = props::get(p, props::kDestFs);
  claim.my_epoch = effective_epoch(p);
  claim.peer_epoch = recorded_epoch(rp);
  claim.peer_is_master = props::get(rp, props::kMaster) == "yes";
  const PairingRecord theirs = pairing_of(rp);
  claim.peer_src_host = theirs.src_host;
  claim.peer_src_fs = theirs.src_fs;
  claim.peer_dest_host = theirs.dest_host;
  claim.peer_dest_fs = theirs.dest_fs;
  claim.peer_takeover = props::get(rp, props::kTakeover);
  if (claim.peer_epoch <= claim.my_epoch) return ClaimJudgement{};
  const auto takeover = parse_takeover(claim.peer_takeover);
  const std::string at = takeover ? takeover->snapshot : std::string();
  for (const auto& s : remote.snapshots()) {
    if (!at.empty() && s.name() == at) claim.takeover_guid = s.guid();
  }
  auto local = zfs_.list_snapshots(fs);
  if (!local) return local.error();
  std::vector<LocalSnap> mine;
  for (const auto& s : *local) mine.push_back({s.guid, s.sent.has_value()});
  return judge_claim(claim, mine);
}

Status Replicator::fence_locked(const std::string& fs, const props::PropMap& p,
                                const peer::DescribeReply& remote, const std::string& peer_host) {
  if (!remote.exists()) return Status::ok();
  props::PropMap rp(remote.props().begin(), remote.props().end());
  const uint64_t mine = effective_epoch(p);
  const uint64_t theirs = recorded_epoch(rp);
  const bool peer_master = props::get(rp, props::kMaster) == "yes";
  const std::string dest_fs = props::get(p, props::kDestFs);
  auto judged = judge_peer_claim(fs, p, remote, peer_host);
  if (!judged) return judged.error();
  switch (judged->verdict) {
    case ClaimVerdict::kNoClaim:
      if (check_fence(mine, theirs, peer_master) != Fence::kBothMasters) return Status::ok();
      {
        std::string msg = "SPLIT BRAIN: " + fs + " on " + config_.host + " and " + dest_fs +
                          " on " + peer_host + " both claim to be the master at epoch " +
                          std::to_string(mine) +
                          ". Neither sends until an operator decides which copy wins: on the other "
                          "host run 'zrep-agent clear FS --yes' and rename FS aside with 'zfs "
                          "rename' (its data stays), then on the winner 'zrep-agent init' to it "
                          "again";
        spdlog::error("{}", msg);
        return make_error(ErrorCode::kSplitBrain, msg);
      }
    case ClaimVerdict::kPeerAhead:
      return make_error(ErrorCode::kConflict,
                        dest_fs + " on " + peer_host + " is at epoch " + std::to_string(theirs) +
                            ", above " + std::to_string(mine) + " here, but not a master (a " +
                            "takeover there not finished?); nothing is sent until that is clear");
    case ClaimVerdict::kUnbacked: {
      // A claim this host's own state contradicts demotes nothing: fs stays the writable
      // master; only this run's send is refused.
      std::string msg = "REFUSED CLAIM: " + printable_text(judged->why) + ". " + fs + " on " +
                        config_.host +
                        " stays the writable master; nothing is sent to it until its "
                        "properties are consistent again";
      spdlog::error("{}", msg);
      return make_error(ErrorCode::kConflict, msg);
    }
    case ClaimVerdict::kTakenOver:
      break;
  }
  // The peer took over (a forced takeover while this host was away): step down at once.
  return demote_locked(fs, dest_fs, remote, peer_host, mine, theirs);
}

Status Replicator::demote_locked(const std::string& fs, const std::string& dest_fs,
                                 const peer::DescribeReply& remote, const std::string& peer_host,
                                 uint64_t mine, uint64_t theirs) {
  spdlog::error("FENCED: {} on {} is at epoch {}, {} here at {}: demoting {} (read-only, no sends)",
                dest_fs, peer_host, theirs, fs, mine, fs);
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(fs, props::kReadonly, "on"));
  auto local = zfs_.list_snapshots(fs);
  if (!local) return local.error();
  auto there = from_wire(dest_fs, remote.snapshots());
  const SnapshotInfo* common = newest_common(*local, there);
  const int64_t now = unix_now();
  std::string kept = fs + "@zrep-fenced-e" + std::to_string(theirs);
  if (std::any_of(local->begin(), local->end(), [&](const auto& s) { return s.name == kept; })) {
    kept += "-" + std::to_string(now);
  }
  ZREP_RETURN_IF_ERROR(zfs_.snapshot(kept));
  uint64_t written = 0;
  if (common != nullptr) {
    auto size = zfs_.stream_size(common->name, kept);
    if (size) {
      written = *size;
    } else {
      spdlog::warn("{}: cannot measure what was written since {}: {}", fs, common->name,
                   size.error().message);
    }
  }
  const std::string record =
      format_fenced({theirs, peer_host, dest_fs, now,
                     common != nullptr ? std::string(snap_part_of(common->name)) : "none", written,
                     std::string(snap_part_of(kept))});
  // The record first: from then on nothing is sent from or into fs, and the sweep completes
  // the demotion after a crash (finish_demotion).
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(fs, props::kFenced, record));
  ZREP_RETURN_IF_ERROR(finish_demotion(zfs_, config_.host, fs));
  std::string msg = fs + " on " + config_.host + " was demoted: " + peer_host +
                    " took over at epoch " + std::to_string(theirs) + "; " +
                    std::to_string(written) +
                    " bytes were written here since the common snapshot " +
                    (common != nullptr ? common->name : std::string("(none)")) + ", kept in " +
                    kept + ". Run 'zrep-agent resync " + fs + "' to replicate from " + peer_host +
                    " again (the divergent data is kept aside)";
  spdlog::error("{}", msg);
  return make_error(ErrorCode::kConflict, msg);
}

}  // namespace zrep
