// init: pairs a filesystem with its destination and sends it in full — the checks of both
// sides, resuming an init cut short, adopting a replica a lost answer left complete, and what
// the master records once the destination verified the snapshot.
#include <spdlog/spdlog.h>

#include "agent/logic/send_choice.h"
#include "agent/logic/sync_plan.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/ops/replicator.h"
#include "common/sanitize.h"
#include "common/unix_time.h"

namespace zrep {
namespace {

// The filesystem an init starts from: it exists here and may be the source of a new pairing
// (not paired already, unless forced; not a replica received from another host). Its
// properties.
Result<props::PropMap> init_source(const Zfs& zfs, const std::string& here,
                                   const control::InitCommand& cmd) {
  const std::string& fs = cmd.fs();
  auto exists = zfs.exists(fs);
  if (!exists) return exists.error();
  if (!*exists) {
    return make_error(ErrorCode::kNotFound, fs + " does not exist on " + here);
  }
  auto p = zfs.get_props(fs, props::filesystem_props());
  if (!p) return p.error();
  if (!props::get(*p, props::kDestFs).empty() && !cmd.force()) {
    return make_error(ErrorCode::kAlreadyExists,
                      fs + " is already replicated to " + props::get(*p, props::kDestHost) + ":" +
                          props::get(*p, props::kDestFs) +
                          "; use 'init --force' to start over or 'zrep-agent clear' first");
  }
  if (!props::get(*p, props::kSrcHost).empty() && props::get(*p, props::kMaster) != "yes" &&
      props::get(*p, props::kSrcHost) != here) {
    return make_error(ErrorCode::kConflict, fs + " is a replica received from " +
                                                props::get(*p, props::kSrcHost) +
                                                "; it cannot be the source of a new pairing");
  }
  return p;
}

// The snapshot an init sends: the one whose interrupted transfer is resumed (its token set in
// `req`), the caller's recursive snapshot, or a new one.
Result<std::string> init_snapshot(const Zfs& zfs, const std::string& fs,
                                  const std::vector<SnapshotInfo>& local,
                                  const std::string& resume_snap, const std::string& given_snapshot,
                                  const peer::DescribeReply& remote, peer::ReceiveRequest& req) {
  if (!resume_snap.empty()) {
    req.set_resume_token(remote.resume_token());
    spdlog::info("init {}: resuming the interrupted transfer of {}", fs, resume_snap);
    return resume_snap;
  }
  if (!given_snapshot.empty()) return given_snapshot;  // a recursive snapshot made by the caller
  auto seq = next_zrep_seq(local, {});
  if (!seq) return seq.error();
  const std::string snap = fs + "@" + format_zrep_snap(*seq);
  ZREP_RETURN_IF_ERROR(zfs.snapshot(snap));
  return snap;
}

}  // namespace

Result<control::Transfer> Replicator::adopt_replica(const std::string& fs,
                                                    const control::InitCommand& cmd,
                                                    PeerClient& peer,
                                                    const peer::DescribeReply& remote) {
  const auto& rp = remote.props();
  auto prop = [&](const char* k) {
    auto it = rp.find(k);
    return it == rp.end() ? std::string() : it->second;
  };
  auto not_ours = make_error(ErrorCode::kNotFound, "not a replica of " + fs);
  if (prop(props::kSrcHost) != config_.host || prop(props::kSrcFs) != fs ||
      remote.snapshots().empty()) {
    return not_ours;
  }
  auto local = zfs_.list_snapshots(fs);
  if (!local) return local.error();
  const auto& newest = *remote.snapshots().rbegin();
  const SnapshotInfo* match = nullptr;
  for (const auto& s : *local) {
    if (s.guid == newest.guid()) match = &s;
  }
  if (match == nullptr) return not_ours;
  const int64_t now = unix_now();
  props::PropMap theirs(rp.begin(), rp.end());
  ZREP_RETURN_IF_ERROR(
      write_master_pairing(make_pairing(fs, cmd.remote_host(), cmd.dest_fs(), theirs)));
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(match->name, props::kSent, std::to_string(now)));
  peer::MarkSentRequest mark;
  mark.set_fs(cmd.dest_fs());
  mark.set_sent_time(now);
  mark.add_guids(match->guid);
  auto marked = peer.mark_sent(mark);
  if (!marked) return marked.error();
  spdlog::info("init {}: {}:{} already holds {} (a previous init's answer was lost); adopted it",
               fs, cmd.remote_host(), cmd.dest_fs(), match->name);
  control::Transfer out =
      sent_transfer(fs, cmd.remote_host(), cmd.dest_fs(), match->name, match->guid, 0, 0.0);
  out.set_full(true);
  out.set_adopted(true);
  return out;
}

Result<control::Transfers> Replicator::init(const control::InitCommand& cmd,
                                            const ProgressSink& progress) {
  if (cmd.recursive()) return init_recursive(cmd, progress);
  auto done = init_with(cmd, progress, "");
  if (!done) return done.error();
  control::Transfers one;
  *one.add_transfers() = std::move(*done);
  return one;
}

Result<std::string> Replicator::resume_init(const control::InitCommand& cmd, PeerClient& peer,
                                            const peer::DescribeReply& remote,
                                            const std::vector<SnapshotInfo>& local) {
  const std::string& fs = cmd.fs();
  std::string resume_snap;
  const SnapshotInfo* candidate = newest_unsent_zrep(local);
  if (candidate != nullptr) {
    auto raw = use_raw(fs, peer);
    if (!raw) return raw.error();
    Status fits =
        check_resume_token_here(remote.resume_token(), candidate->name, candidate->guid, 0, *raw);
    if (fits) {
      resume_snap = candidate->name;
    } else {
      spdlog::warn("init {}: not resuming the partial receive on {}: {}", fs, cmd.remote_host(),
                   fits.message());
    }
  }
  if (resume_snap.empty()) {
    spdlog::warn(
        "init {}: {}:{} holds a partial receive that cannot be resumed (no unsent "
        "init snapshot here); it is discarded and init starts over",
        fs, cmd.remote_host(), cmd.dest_fs());
  }
  return resume_snap;
}

Result<control::Transfer> Replicator::init_with(const control::InitCommand& cmd,
                                                const ProgressSink& progress,
                                                const std::string& given_snapshot) {
  const std::string& fs = cmd.fs();
  ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  ZREP_RETURN_IF_ERROR(validate_dataset_name(cmd.dest_fs()));
  if (!config_.find_peer(cmd.remote_host())) {
    return make_error(ErrorCode::kNotFound, "unknown peer '" + cmd.remote_host() +
                                                "': add a [[peer]] entry for it to " +
                                                config_.source);
  }
  auto held = lock(fs, "init");
  if (!held) return held.error();
  auto started = std::chrono::steady_clock::now();
  auto p = init_source(zfs_, config_.host, cmd);
  if (!p) return p.error();

  auto peer = connect_locked(cmd.remote_host(), cmd.dest_fs(), "init");
  if (!peer) return peer.error();
  auto remote = (*peer)->describe(cmd.dest_fs());
  if (!remote) return remote.error();
  auto local = zfs_.list_snapshots(fs);
  if (!local) return local.error();
  // An init cut short (OpenZFS, resumable): the destination is a partial receive. Resume it
  // with the unsent init snapshot; without one, the destination drops it and init starts over.
  // Only a destination with no snapshot yet is an init's partial receive; a replica with
  // snapshots and a token holds an interrupted *sync*, which the next sync resumes.
  const bool partial_init =
      remote->exists() && !remote->resume_token().empty() && remote->snapshots().empty();
  std::string resume_snap;
  if (partial_init) {
    auto resumable = resume_init(cmd, **peer, *remote, *local);
    if (!resumable) return resumable.error();
    resume_snap = *resumable;
  }
  if (remote->exists() && !cmd.force() && !partial_init) {
    // A previous init whose final answer was lost: the replica is complete there. Adopt it
    // instead of refusing (or resending everything).
    auto adopted = adopt_replica(fs, cmd, **peer, *remote);
    if (adopted) return adopted;
    if (adopted.error().code != ErrorCode::kNotFound) return adopted.error();
    return make_error(ErrorCode::kAlreadyExists,
                      cmd.dest_fs() + " already exists on " + cmd.remote_host() +
                          "; init refuses to overwrite it. Use 'init --force' to replace a "
                          "replica (the old copy is kept there, renamed aside)");
  }
  if (!remote->parent_exists()) {
    return make_error(ErrorCode::kNotFound, "the parent of " + cmd.dest_fs() +
                                                " does not exist on " + cmd.remote_host() +
                                                "; create it first");
  }

  peer::ReceiveRequest req;
  auto chosen = init_snapshot(zfs_, fs, *local, resume_snap, given_snapshot, *remote, req);
  if (!chosen) return chosen.error();
  const std::string snap = *chosen;
  req.set_dest_fs(cmd.dest_fs());
  req.set_force(cmd.force());
  *req.mutable_pairing() = make_pairing(fs, cmd.remote_host(), cmd.dest_fs(), *p);
  spdlog::info("init {} -> {}:{}: full send of {}", fs, cmd.remote_host(), cmd.dest_fs(), snap);
  auto done = send_snapshot(**peer, snap, nullptr, req, progress);
  if (!done) {
    // A snapshot this run made (not a resumed one, nor the caller's recursive snapshot).
    settle_failed_send(snap, cmd.remote_host(), cmd.dest_fs(),
                       resume_snap.empty() && given_snapshot.empty(), 0);
    record_result(fs, done.status(), 0, 0);
    return done.error();
  }
  return finish_init(cmd, snap, req.pairing(), *done, !resume_snap.empty(), started);
}

Result<control::Transfer> Replicator::finish_init(const control::InitCommand& cmd,
                                                  const std::string& snap,
                                                  const peer::Pairing& pairing,
                                                  const peer::ReceiveReply& done, bool resumed,
                                                  std::chrono::steady_clock::time_point started) {
  const std::string& fs = cmd.fs();
  ZREP_RETURN_IF_ERROR(write_master_pairing(pairing));
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(snap, props::kSent, std::to_string(unix_now())));
  if (Status h = hold_base(zfs_, fs, done.received_guid()); !h) {
    spdlog::warn("{}: could not hold the base {}: {}", fs, snap, h.message());
  }
  bookmark_base(snap);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  record_result(fs, Status::ok(), done.raw_bytes(), secs);
  spdlog::info("init {} done: {} bytes in {:.2f} s, GUID verified on {}", fs, done.raw_bytes(),
               secs, cmd.remote_host());
  control::Transfer out = sent_transfer(fs, cmd.remote_host(), cmd.dest_fs(), snap,
                                        done.received_guid(), done.raw_bytes(), secs);
  out.set_full(true);
  out.set_resumed(resumed);
  out.set_replaced_as(sanitize_peer_text(done.replaced_as()));
  return out;
}

}  // namespace zrep
