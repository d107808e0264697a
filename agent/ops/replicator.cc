#include "agent/ops/replicator.h"
#include "agent/rpc/wire.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "agent/fault/fault.h"
#include "agent/logic/peer_trust.h"
#include "agent/logic/retention.h"
#include "agent/logic/sync_plan.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/roles/switch_steps.h"
#include "agent/zfs/zfs_parse.h"
#include "common/sanitize.h"
#include "common/unix_time.h"
#include "sender/stream_sender.h"

namespace zrep {
namespace {

using Clock = std::chrono::system_clock;
using nlohmann::json;

int64_t to_unix(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

Status write_abort(FrameChannel& ch, const std::string& why) {
  std::string reason = why.substr(0, kMaxAbortPayload);
  return ch.write_frame(
      FrameType::kDataAbort,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(reason.data()), reason.size()));
}

}  // namespace

Replicator::FsLock::~FsLock() {
  if (r_ == nullptr) return;
  std::lock_guard lk(r_->mu_);
  r_->records_[fs_].running.clear();
}

Replicator::LockedPeer::~LockedPeer() {
  if (client) (void)client->lock(fs, "", token, true);
}

Replicator::Replicator(const Config& config, const Zfs& zfs, TlsContext& tls,
                       std::string instance_id, LockTable& locks, SessionRegistry* sessions,
                       LinkHub* links)
    : config_(config),
      zfs_(zfs),
      tls_(tls),
      instance_id_(std::move(instance_id)),
      sessions_(sessions),
      links_(links),
      locks_(locks) {}

Result<Replicator::FsLock> Replicator::lock(const std::string& fs, const std::string& operation) {
  std::string token = locks_.new_token();
  const LockOwner me{config_.host, instance_id_, operation, token};
  Status got = locks_.acquire(fs, me, std::chrono::seconds(0));
  // This daemon's own background checks (recovery, fencing) hold a lock for a moment: wait
  // for them rather than refuse a command as busy. Anything else is refused at once.
  for (int i = 0; !got && i < 100; ++i) {
    auto h = locks_.holder(fs);
    if (!h || h->owner.instance != instance_id_ ||
        (h->owner.operation != "recover" && h->owner.operation != "fence")) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    got = locks_.acquire(fs, me, std::chrono::seconds(0));
  }
  ZREP_RETURN_IF_ERROR(got);
  std::lock_guard lk(mu_);
  FsRecord& rec = records_[fs];
  rec.running = operation;
  rec.running_since = Clock::now();
  return FsLock(this, fs, HeldLock(&locks_, fs, token));
}

Result<Replicator::LockedPeer> Replicator::connect_locked(const std::string& peer_name,
                                                          const std::string& remote_fs,
                                                          const std::string& operation) {
  auto peer = connect(peer_name);
  if (!peer) return peer.error();
  std::string token = instance_id_ + "-" + locks_.new_token();
  ZREP_RETURN_IF_ERROR((*peer)->lock(remote_fs, operation, token));
  return LockedPeer(std::move(*peer), remote_fs, token);
}

Result<peer::DescribeReply> Replicator::describe_pair(PeerClient& peer, const std::string& fs,
                                                      const props::PropMap& p,
                                                      const std::string& remote_fs) {
  peer::DescribeRequest req;
  req.set_fs(remote_fs);
  req.set_requester_fs(fs);
  req.set_requester_epoch(parse_epoch(props::get(p, props::kEpoch)));
  req.set_requester_is_master(props::get(p, props::kMaster) == "yes");
  return peer.describe(req);
}

Result<bool> Replicator::use_raw(const std::string& fs, PeerClient& peer) {
  const bool possible = zfs_.features().raw_send && peer.peer_hello().zfs().raw_send();
  if (auto configured = config_.raw_for(fs)) {
    if (*configured && !possible) {
      return make_error(
          ErrorCode::kInvalidArgument,
          fs + " has raw = true in " + config_.source +
              ", but raw sends need OpenZFS on both hosts (here: " + zfs_.features().version +
              ", " + peer.peer_name() + ": " + peer.peer_hello().zfs().version() + ")");
    }
    return *configured;
  }
  if (!possible) return false;
  auto p = zfs_.get_props(fs, {"encryption"});
  if (!p) return p.error();
  const std::string enc = props::get(*p, "encryption");
  return !enc.empty() && enc != "off" && enc != "-";
}

std::string Replicator::last_error_of(const std::string& fs) {
  std::lock_guard lk(mu_);
  auto it = records_.find(fs);
  return it == records_.end() || it->second.last_error.empty() ? "none recorded"
                                                               : it->second.last_error;
}

void Replicator::bookmark_base(const std::string& snapshot) {
  if (!zfs_.features().bookmarks) return;
  const std::string fs(dataset_of(snapshot));
  const std::string mark = fs + "#" + std::string(snap_part_of(snapshot));
  if (Status s = zfs_.bookmark(snapshot, mark); !s) {
    spdlog::warn("{}: could not bookmark the new base: {}", fs, s.message());
    return;
  }
  // A few recent ones are enough: a bookmark serves when its snapshot was destroyed lately.
  auto marks = zfs_.list_bookmarks(fs);
  if (!marks) return;
  std::vector<std::string> ours;
  for (const auto& b : *marks) {
    auto hash = b.name.find('#');
    if (hash != std::string::npos && parse_zrep_snap(std::string_view(b.name).substr(hash + 1))) {
      ours.push_back(b.name);
    }
  }
  constexpr size_t kKeep = 3;
  for (size_t i = 0; i + kKeep < ours.size(); ++i) {
    if (Status s = zfs_.destroy_bookmark(ours[i]); !s) {
      spdlog::warn("{}: could not destroy the old bookmark {}: {}", fs, ours[i], s.message());
    }
  }
}

void Replicator::record_result(const std::string& fs, const Status& status, uint64_t bytes,
                               double seconds) {
  std::lock_guard lk(mu_);
  FsRecord& rec = records_[fs];
  if (status) {
    rec.last_success = Clock::now();
    rec.last_bytes = bytes;
    rec.last_seconds = seconds;
    rec.last_error.clear();
    rec.last_error_time.reset();
  } else {
    rec.last_error = status.message();
    rec.last_error_time = Clock::now();
  }
}

Result<std::unique_ptr<PeerClient>> Replicator::connect(const std::string& peer_name) {
  const PeerConfig* peer = config_.find_peer(peer_name);
  if (peer == nullptr) {
    return make_error(ErrorCode::kNotFound, "unknown peer '" + peer_name +
                                                "': it has no [[peer]] entry in " + config_.source);
  }
  // A peer this host may not dial is reached over the link it keeps to this host.
  auto session =
      !peer->address && links_ != nullptr
          ? links_->request_session(peer_name)
          : dial_peer(config_, tls_, *peer, make_hello(config_, zfs_.features(), instance_id_));
  if (!session) return session.error();
  return std::make_unique<PeerClient>(std::move(*session), config_.io_timeout, sessions_);
}

Result<peer::ReceiveReply> Replicator::send_snapshot(PeerClient& peer, const std::string& snapshot,
                                                     const SnapshotInfo* base,
                                                     peer::ReceiveRequest req,
                                                     const ProgressSink& progress) {
  auto guid = zfs_.get_props(snapshot, {"guid"});
  if (!guid) return guid.error();
  req.set_snapshot(std::string(snap_part_of(snapshot)));
  req.set_guid(std::stoull(props::get(*guid, "guid")));
  req.set_base_guid(base != nullptr ? base->guid : 0);
  req.set_sent_time(unix_now());

  const std::string fs(dataset_of(snapshot));
  auto raw_wanted = use_raw(fs, peer);
  if (!raw_wanted) return raw_wanted.error();
  const bool raw = *raw_wanted;
  if (!req.resume_token().empty()) {
    // `zfs send -t` sends what the token names, whatever the plan: the peer's token is used
    // only when it names exactly this snapshot, this base and these flags.
    ZREP_RETURN_IF_ERROR(
        check_resume_token_here(req.resume_token(), snapshot, req.guid(), req.base_guid(), raw));
  }
  auto started = std::chrono::steady_clock::now();
  auto stream = [&](FrameChannel& ch) -> Status {
    SendSpec spec;
    spec.snapshot = snapshot;
    // -i, not -I: one plain substream from the base, which the receiver can check (OpenZFS
    // packs -I into a compound stream). Unsent snapshots in between are left to retention.
    if (base != nullptr) spec.from = base->name;
    spec.intermediates = false;
    spec.resume_token = req.resume_token();
    // OpenZFS on both sides: blocks travel as they are compressed on disk (send -c), and lz4
    // does not compress them a second time.
    spec.compressed = zfs_.features().compressed_send && peer.peer_hello().zfs().compressed_send();
    spec.raw = raw;
    if (raw) spec.compressed = false;  // a raw stream carries the blocks as they are on disk
    auto child = zfs_.start_send(spec);
    if (!child) {
      (void)write_abort(ch, child.error().message);
      return child.error();
    }
    SendOptions opts;
    opts.compress = !spec.compressed && !spec.raw;
    opts.before_end = [&] {
      return zfs_.finish(*child, "zfs send " + snapshot, std::chrono::hours(1));
    };
    opts.progress = [&](const TransferProgress& p) {
      if (!progress) return;
      control::Progress msg;
      msg.set_fs(fs);
      msg.set_phase("sending");
      msg.set_raw_bytes(p.raw_bytes);
      msg.set_wire_bytes(p.wire_bytes);
      double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      msg.set_bytes_per_second(secs > 0 ? static_cast<double>(p.raw_bytes) / secs : 0);
      progress(msg);
    };
    auto sent = send_stream(child->stdout_fd(), ch, opts);
    if (!sent) {
      // Closing the pipe ends `zfs send` cleanly (EPIPE). No SIGKILL first: on zfs-fuse a
      // killed `zfs send -I` leaks a hold, and its snapshot stays "busy" until a restart.
      (void)child->wait(std::chrono::seconds(30));
      return sent.error();
    }
    return Status::ok();
  };
  return peer.receive(req, stream, std::chrono::hours(24));
}

Result<std::string> Replicator::choose_snapshot(const std::string& fs,
                                                const std::vector<SnapshotInfo>& local,
                                                const SyncPlan& plan) {
  // Unsent zrep snapshots after the base pile up when transfers keep failing after they start
  // (a flaky WAN). Past max_unsent, send the newest of them instead of making another.
  std::vector<const SnapshotInfo*> unsent;
  for (const auto& s : local) {
    if (s.createtxg > plan.base.createtxg && !s.sent && parse_zrep_snap(snap_part_of(s.name))) {
      unsent.push_back(&s);
    }
  }
  if (!unsent.empty() && unsent.size() >= config_.schedule.max_unsent) {
    spdlog::info(
        "{}: {} unsent snapshot(s) already (max_unsent {}); sending {} instead of making "
        "another",
        fs, unsent.size(), config_.schedule.max_unsent, unsent.back()->name);
    return unsent.back()->name;
  }
  if (config_.schedule.min_free_bytes > 0) {
    auto avail = zfs_.available_bytes(fs);
    if (!avail) return avail.error();
    if (*avail < config_.schedule.min_free_bytes) {
      return make_error(ErrorCode::kNoSpace,
                        fs + " has only " + std::to_string(*avail) +
                            " bytes available, below min_free (" +
                            std::to_string(config_.schedule.min_free_bytes) +
                            "); no snapshot was made. Free space on the pool, or lower min_free "
                            "in " +
                            config_.source);
    }
  }
  const std::string snap = fs + "@" + format_zrep_snap(plan.next_seq);
  ZREP_RETURN_IF_ERROR(zfs_.snapshot(snap));
  return snap;
}

void Replicator::settle_failed_send(const std::string& snap, const std::string& dest_host,
                                    const std::string& dest_fs, bool created_by_this_run,
                                    uint64_t base_guid) {
  if (!created_by_this_run) {
    // Not made by this run (a resumed transfer, or an unsent snapshot sent again): what the
    // destination says of it never makes this host destroy it.
    spdlog::warn("{} stays, unsent: this run did not create it", snap);
    return;
  }
  auto guid = zfs_.get_props(snap, {"guid"});
  auto peer = connect(dest_host);
  Result<peer::DescribeReply> there =
      peer ? (*peer)->describe(dest_fs) : Result<peer::DescribeReply>(peer.error());
  if (!guid || !there) {
    spdlog::warn("{} stays, unsent: cannot tell whether {} holds it ({})", snap, dest_host,
                 !there ? there.error().message : guid.error().message);
    return;
  }
  FailedSendFacts facts;
  facts.snapshot = snap;
  facts.guid = parse_u64(props::get(*guid, "guid")).value_or(0);
  facts.created_by_this_run = created_by_this_run;
  facts.base_guid = base_guid;
  facts.destination_has_partial = !there->resume_token().empty();
  for (const auto& s : there->snapshots()) {
    if (s.guid() == facts.guid) facts.destination_has_guid = true;
  }
  if (facts.destination_has_partial) {
    spdlog::warn("{} stays, unsent: {} holds part of it and the next sync resumes the transfer",
                 snap, dest_host);
    return;
  }
  if (facts.destination_has_guid) {
    spdlog::warn(
        "{} arrived on {} although the transfer reported a failure; the next sync "
        "marks it sent",
        snap, dest_host);
    return;
  }
  if (!may_destroy_after_failed_send(facts)) {
    spdlog::warn("{} stays, unsent: it is not a snapshot this run may remove", snap);
    return;
  }
  // Certainly not there: leave the source as it was before this attempt.
  if (Status st = zfs_.destroy_snapshot(snap); !st) {
    spdlog::warn("could not remove the unsent snapshot {}: {}", snap, st.message());
  }
}

Status Replicator::check_resume_token_here(const std::string& token, const std::string& snapshot,
                                           uint64_t guid, uint64_t base_guid, bool raw) {
  if (!zfs_.features().resumable_receive) {
    return make_error(ErrorCode::kConflict,
                      "this host cannot resume a send (" + zfs_.features().version + ")");
  }
  auto text = zfs_.resume_token_contents(token);
  if (!text) return text.error();
  auto info = parse_resume_token_contents(*text);
  if (!info) return info.error();
  return check_resume_token(*info, snapshot, guid, base_guid, raw);
}

Result<json> Replicator::adopt_replica(const std::string& fs, const control::InitCommand& cmd,
                                       PeerClient& peer, const peer::DescribeReply& remote) {
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
  return json{{"fs", fs},
              {"dest_host", cmd.remote_host()},
              {"dest_fs", cmd.dest_fs()},
              {"snapshot", match->name},
              {"guid", std::to_string(match->guid)},
              {"bytes", 0},
              {"seconds", 0.0},
              {"adopted", true}};
}

Result<json> Replicator::init(const control::InitCommand& cmd, const ProgressSink& progress) {
  if (cmd.recursive()) return init_recursive(cmd, progress);
  return init_with(cmd, progress, "");
}

Result<json> Replicator::init_with(const control::InitCommand& cmd, const ProgressSink& progress,
                                   const std::string& given_snapshot) {
  const std::string& fs = cmd.fs();
  ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  ZREP_RETURN_IF_ERROR(validate_dataset_name(cmd.dest_fs()));
  if (config_.find_peer(cmd.remote_host()) == nullptr) {
    return make_error(ErrorCode::kNotFound, "unknown peer '" + cmd.remote_host() +
                                                "': add a [[peer]] entry for it to " +
                                                config_.source);
  }
  auto held = lock(fs, "init");
  if (!held) return held.error();
  auto started = std::chrono::steady_clock::now();

  auto exists = zfs_.exists(fs);
  if (!exists) return exists.error();
  if (!*exists) {
    return make_error(ErrorCode::kNotFound, fs + " does not exist on " + config_.host);
  }
  auto p = zfs_.get_props(fs, props::filesystem_props());
  if (!p) return p.error();
  if (!props::get(*p, props::kDestFs).empty() && !cmd.force()) {
    return make_error(ErrorCode::kAlreadyExists,
                      fs + " is already replicated to " + props::get(*p, props::kDestHost) + ":" +
                          props::get(*p, props::kDestFs) +
                          "; use 'init --force' to start over or 'zrep-agent clear' first");
  }
  if (!props::get(*p, props::kSrcHost).empty() && props::get(*p, props::kMaster) != "yes" &&
      props::get(*p, props::kSrcHost) != config_.host) {
    return make_error(ErrorCode::kConflict, fs + " is a replica received from " +
                                                props::get(*p, props::kSrcHost) +
                                                "; it cannot be the source of a new pairing");
  }

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
    const SnapshotInfo* candidate = nullptr;
    for (const auto& s : *local) {
      if (!s.sent && parse_zrep_snap(snap_part_of(s.name))) candidate = &s;
    }
    if (candidate != nullptr) {
      auto raw = use_raw(fs, **peer);
      if (!raw) return raw.error();
      Status fits = check_resume_token_here(remote->resume_token(), candidate->name,
                                            candidate->guid, 0, *raw);
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

  std::string snap = resume_snap;
  peer::ReceiveRequest req;
  if (!resume_snap.empty()) {
    req.set_resume_token(remote->resume_token());
    spdlog::info("init {}: resuming the interrupted transfer of {}", fs, resume_snap);
  } else if (!given_snapshot.empty()) {
    snap = given_snapshot;  // a recursive snapshot made by the caller
  } else {
    auto seq = next_zrep_seq(*local, {});
    if (!seq) return seq.error();
    snap = fs + "@" + format_zrep_snap(*seq);
    ZREP_RETURN_IF_ERROR(zfs_.snapshot(snap));
  }
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
  ZREP_RETURN_IF_ERROR(write_master_pairing(req.pairing()));
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(snap, props::kSent, std::to_string(unix_now())));
  if (Status h = hold_base(zfs_, fs, done->received_guid()); !h) {
    spdlog::warn("{}: could not hold the base {}: {}", fs, snap, h.message());
  }
  bookmark_base(snap);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  record_result(fs, Status::ok(), done->raw_bytes(), secs);
  spdlog::info("init {} done: {} bytes in {:.2f} s, GUID verified on {}", fs, done->raw_bytes(),
               secs, cmd.remote_host());
  return json{{"fs", fs},
              {"dest_host", cmd.remote_host()},
              {"dest_fs", cmd.dest_fs()},
              {"snapshot", snap},
              {"guid", std::to_string(done->received_guid())},
              {"bytes", done->raw_bytes()},
              {"seconds", secs},
              {"resumed", !resume_snap.empty()},
              {"replaced_as", sanitize_peer_text(done->replaced_as())}};
}

Result<json> Replicator::sync(const control::SyncCommand& cmd, const ProgressSink& progress) {
  std::vector<std::string> targets(cmd.fs().begin(), cmd.fs().end());
  if (cmd.all()) {
    auto managed = managed_filesystems({});
    if (!managed) return managed.error();
    for (const auto& [name, p] : *managed) {
      if (props::get(p, props::kMaster) == "yes" && props::get(p, props::kMemberOf).empty()) {
        targets.push_back(name);
      }
    }
  }
  if (targets.empty() && !cmd.all()) {
    return make_error(ErrorCode::kInvalidArgument, "name a filesystem to sync, or 'all'");
  }
  json results = json::array();
  std::vector<std::string> failures;
  std::optional<ErrorCode> code;
  for (const auto& fs : targets) {
    auto r = sync_one(fs, progress, "");
    if (r) {
      results.push_back(*r);
    } else {
      failures.push_back(fs + ": " + r.error().message);
      code = code && *code != r.error().code ? ErrorCode::kConflict : r.error().code;
      results.push_back(json{{"fs", fs}, {"ok", false}, {"error", r.error().message}});
    }
  }
  if (!failures.empty()) {
    // One failure keeps its own code (unavailable, no-space, ...); the message lists them all.
    std::string msg = failures.size() == 1 ? failures[0]
                                           : std::to_string(failures.size()) + " of " +
                                                 std::to_string(targets.size()) + " syncs failed";
    if (failures.size() > 1) {
      for (const auto& f : failures) msg += "\n  " + f;
    }
    return make_error(*code, msg);
  }
  return results;
}

Result<json> Replicator::sync_one(const std::string& fs, const ProgressSink& progress,
                                  const std::string& given_snapshot) {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  std::optional<FsLock> held;
  if (auto h = lock(fs, "sync"); h) {
    held.emplace(std::move(*h));
  } else {
    return h.error();
  }
  auto started = std::chrono::steady_clock::now();
  auto fail = [&](const Error& e) -> Error {
    record_result(fs, e, 0, 0);
    return e;
  };
  auto p = zfs_.get_props(fs, props::filesystem_props());
  if (!p) return fail(p.error());
  if (given_snapshot.empty()) {
    // A recursive pairing syncs as a whole, from its root (which locks each member itself).
    if (props::get(*p, props::kRecursive) == "yes") {
      held.reset();
      return sync_recursive(fs, progress);
    }
    if (!props::get(*p, props::kMemberOf).empty()) {
      return make_error(ErrorCode::kConflict, fs + " is part of the recursive pairing of " +
                                                  props::get(*p, props::kMemberOf) +
                                                  "; sync that instead");
    }
  }
  if (props::get(*p, props::kMaster) != "yes") {
    return fail(make_error(ErrorCode::kConflict,
                           fs + " is not a zrep master on " + config_.host +
                               " (zrep:master is not 'yes'); sync runs on the master, or run "
                               "'zrep-agent init' first"));
  }
  const std::string dest_host = props::get(*p, props::kDestHost);
  const std::string dest_fs = props::get(*p, props::kDestFs);
  if (dest_host.empty() || dest_fs.empty()) {
    return fail(make_error(ErrorCode::kConflict, fs + " has no zrep:dest-host/zrep:dest-fs"));
  }
  if (!props::get(*p, props::kFenced).empty()) {
    check_later(fs);
    return fail(demoted_refusal(fs, config_.host, props::get(*p, props::kFenced)));
  }
  if (!props::get(*p, props::kSwitch).empty()) {
    // An interrupted failover: resolve it first; it decides who is master now.
    check_later(fs);
    return fail(make_error(ErrorCode::kConflict,
                           fs + " has an unfinished failover (" + props::get(*p, props::kSwitch) +
                               "); it sends nothing until the agent resolves it with " + dest_host +
                               " (it retries by itself)"));
  }
  auto peer = connect_locked(dest_host, dest_fs, "sync");
  if (!peer) return fail(peer.error());
  auto remote = describe_pair(**peer, fs, *p, dest_fs);
  if (!remote) return fail(remote.error());
  if (Status fenced = fence_locked(fs, *p, *remote, dest_host); !fenced)
    return fail(fenced.error());
  fault_point("sync-locked");
  if (!remote->exists()) {
    return fail(
        make_error(ErrorCode::kNotFound, dest_fs + " does not exist on " + dest_host +
                                             "; run 'zrep-agent init --force' to send it again"));
  }
  if (auto it = remote->props().find(props::kFenced); it != remote->props().end()) {
    return fail(demoted_refusal(dest_fs, dest_host, it->second));
  }
  auto local = zfs_.list_snapshots(fs);
  if (!local) return fail(local.error());
  auto remote_snaps = from_wire(dest_fs, remote->snapshots());
  auto plan = plan_sync(*local, remote_snaps, fs, dest_host + ":" + dest_fs);
  if (!plan && zfs_.features().bookmarks) {
    // The base snapshot is gone here (none in common, or only older ones than the peer's
    // newest), but a bookmark of it can still be the incremental base.
    auto marks = zfs_.list_bookmarks(fs);
    if (marks && !marks->empty()) {
      std::vector<SnapshotInfo> with_marks = *local;
      with_marks.insert(with_marks.end(), marks->begin(), marks->end());
      std::stable_sort(
          with_marks.begin(), with_marks.end(),
          [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.createtxg < b.createtxg; });
      auto from_mark = plan_sync(with_marks, remote_snaps, fs, dest_host + ":" + dest_fs);
      if (from_mark) {
        spdlog::info("{}: the base snapshot is gone; sending incrementally from bookmark {}", fs,
                     from_mark->base.name);
        std::erase_if(from_mark->mark_local,
                      [](const std::string& n) { return n.find('#') != std::string::npos; });
        plan = std::move(from_mark);
      }
    }
  }
  if (!plan) return fail(plan.error());

  // A previous sync whose acknowledgement was lost: the snapshot arrived, only the marks are
  // missing. Mark it; do not send it again.
  const int64_t now = unix_now();
  for (const auto& name : plan->mark_local) {
    spdlog::info("{}: {} is already on {}, marking it sent", fs, name, dest_host);
    if (Status s = zfs_.set_prop(name, props::kSent, std::to_string(now)); !s)
      return fail(s.error());
  }
  if (!plan->mark_remote.empty()) {
    peer::MarkSentRequest mark;
    mark.set_fs(dest_fs);
    mark.set_sent_time(now);
    for (uint64_t g : plan->mark_remote) mark.add_guids(g);
    auto marked = (*peer)->mark_sent(mark);
    if (!marked) return fail(marked.error());
  }

  peer::ReceiveRequest req;
  req.set_dest_fs(dest_fs);
  // An interrupted transfer that the destination can resume: send only the rest of it, when
  // its snapshot is still here. Otherwise the destination drops it and this run starts over.
  Result<std::string> snap = std::string();
  bool discarded_partial = false;
  if (!remote->resume_token().empty()) {
    auto rec = parse_record(props::get(
        props::PropMap(remote->props().begin(), remote->props().end()), props::kReceiving));
    const std::string name = fs + "@" + rec["snap"];
    auto it = std::find_if(local->begin(), local->end(), [&](const SnapshotInfo& s) {
      return s.name == name && std::to_string(s.guid) == rec["guid"];
    });
    // The partial receive and its record are the peer's words: resumed only for an unsent
    // zrep snapshot after the base, and a token that names exactly it (OpenZFS here).
    Status fits = make_error(ErrorCode::kConflict, "that snapshot or its base is gone here");
    if (it != local->end() && std::to_string(plan->base.guid) == rec["base"]) {
      if (!parse_zrep_snap(snap_part_of(it->name)) || it->sent ||
          it->createtxg <= plan->base.createtxg) {
        fits = make_error(ErrorCode::kConflict,
                          it->name + " is not an unsent zrep snapshot after " + plan->base.name);
      } else {
        auto raw = use_raw(fs, **peer);
        fits = raw ? check_resume_token_here(remote->resume_token(), it->name, it->guid,
                                             plan->base.guid, *raw)
                   : Status(raw.error());
      }
    }
    if (fits) {
      spdlog::info("{}: resuming the interrupted transfer of {} to {}", fs, name, dest_host);
      req.set_resume_token(remote->resume_token());
      snap = name;
    } else {
      spdlog::warn("{}: not resuming on {}: {}", fs, dest_host, fits.message());
      spdlog::warn(
          "{}: {}:{} holds a partial receive of {} that cannot be resumed (that "
          "snapshot or its base is gone here); it is discarded and the transfer "
          "starts over from {}",
          fs, dest_host, dest_fs, rec["snap"].empty() ? "?" : name, plan->base.name);
      discarded_partial = true;
    }
  }
  if (req.resume_token().empty()) {
    snap = given_snapshot.empty() ? choose_snapshot(fs, *local, *plan) : given_snapshot;
  }
  if (!snap) return fail(snap.error());
  // Made by this run: a new snapshot (not an unsent one sent again past max_unsent, not the
  // one a resumed transfer names), or the caller's recursive snapshot.
  const bool created = req.resume_token().empty() &&
                       (!given_snapshot.empty() ||
                        std::none_of(local->begin(), local->end(),
                                     [&](const SnapshotInfo& s) { return s.name == *snap; }));
  auto done = send_snapshot(**peer, *snap, &plan->base, req, progress);
  if (!done) {
    // Keep the snapshot only when the peer may have it (the connection broke): the next sync
    // finds it there by GUID. A refusal means it never arrived: leave the source as it was.
    settle_failed_send(*snap, dest_host, dest_fs, created, plan->base.guid);
    return fail(done.error());
  }
  std::set<uint64_t> there;
  for (const auto& s : done->snapshots()) there.insert(s.guid());
  auto after = zfs_.list_snapshots(fs);
  if (!after) return fail(after.error());
  for (const auto& s : *after) {
    if (!s.sent && there.contains(s.guid)) {
      if (Status st = zfs_.set_prop(s.name, props::kSent, std::to_string(now)); !st) {
        return fail(st.error());
      }
    }
  }
  if (Status h = hold_base(zfs_, fs, done->received_guid()); !h) {
    spdlog::warn("{}: could not move the hold to the new base: {}", fs, h.message());
  }
  bookmark_base(*snap);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  record_result(fs, Status::ok(), done->raw_bytes(), secs);
  // Retention after a verified sync, on both sides. A failure here does not undo the sync.
  auto expired = expire_one(fs, peer->client.get(), done->received_guid());
  if (!expired)
    spdlog::warn("{}: retention after the sync failed: {}", fs, expired.error().message);
  spdlog::info("sync {} -> {}:{}: {} from {} ({} bytes, {:.3f} s, GUID verified)", fs, dest_host,
               dest_fs, *snap, plan->base.name, done->raw_bytes(), secs);
  return json{{"fs", fs},
              {"ok", true},
              {"dest_host", dest_host},
              {"dest_fs", dest_fs},
              {"snapshot", *snap},
              {"base", plan->base.name},
              {"guid", std::to_string(done->received_guid())},
              {"bytes", done->raw_bytes()},
              {"seconds", secs},
              {"marked_after_lost_ack", plan->mark_local.size() + plan->mark_remote.size()},
              {"resumed", !req.resume_token().empty()},
              {"discarded_partial", discarded_partial},
              {"expired", expired ? *expired : json{{"error", expired.error().message}}}};
}

Result<json> Replicator::expire_one(const std::string& fs, PeerClient* peer, uint64_t keep_guid) {
  auto p = zfs_.get_props(fs, props::filesystem_props());
  if (!p) return p.error();
  const bool master = props::get(*p, props::kMaster) == "yes";
  auto savecount = parse_savecount(props::get(*p, props::kSavecount));
  if (!savecount) return savecount.error();
  auto snaps = zfs_.list_snapshots(fs);
  if (!snaps) return snaps.error();
  if (keep_guid == 0) {
    // The newest snapshot the other side is known to hold: on the master the newest marked
    // sent, on a destination the newest received.
    for (const auto& s : *snaps) {
      if (!parse_zrep_snap(snap_part_of(s.name))) continue;
      if (!master || s.sent) keep_guid = s.guid;
    }
  }
  json out{{"fs", fs}, {"savecount", *savecount}, {"destroyed", json::array()}};
  for (const auto& name : plan_retention({*snaps, *savecount, keep_guid, master})) {
    // One that cannot go (a clone made from it, an admin's hold) does not stop the others.
    if (Status s = zfs_.destroy_snapshot(name); !s) {
      spdlog::warn("{}: retention could not destroy {}: {}", fs, name, s.message());
      out["not_destroyed"][name] = s.message();
      continue;
    }
    out["destroyed"].push_back(name);
  }
  if (master && peer != nullptr) {
    peer::ExpireRequest req;
    req.set_fs(props::get(*p, props::kDestFs));
    req.set_keep_guid(keep_guid);
    auto remote = peer->expire(req);
    if (!remote) return remote.error();
    out["destroyed_on_peer"] =
        json(std::vector<std::string>(remote->destroyed().begin(), remote->destroyed().end()));
  }
  return out;
}

Result<json> Replicator::expire(const control::ExpireCommand& cmd) {
  std::vector<std::string> targets(cmd.fs().begin(), cmd.fs().end());
  auto managed = managed_filesystems(targets);
  if (!managed) return managed.error();
  if (!cmd.all() && targets.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "name a filesystem to expire, or 'all'");
  }
  json results = json::array();
  for (const auto& [fs, p] : *managed) {
    auto held = lock(fs, "expire");
    if (!held) return held.error();
    std::optional<LockedPeer> peer;
    if (props::get(p, props::kMaster) == "yes") {
      auto connected =
          connect_locked(props::get(p, props::kDestHost), props::get(p, props::kDestFs), "expire");
      if (!connected) {
        return Status(connected.error()).with_context("expire " + fs + " on the destination");
      }
      peer.emplace(std::move(*connected));
    }
    auto r = expire_one(fs, peer ? peer->client.get() : nullptr, 0);
    if (!r) return Status(r.error()).with_context("expire " + fs);
    results.push_back(*r);
  }
  return results;
}

Result<std::map<std::string, std::map<std::string, std::string>>> Replicator::managed_filesystems(
    const std::vector<std::string>& only) {
  for (const auto& fs : only) ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  auto found = zfs_.find_local_props(props::filesystem_props());
  if (!found) return found.error();
  std::map<std::string, std::map<std::string, std::string>> out;
  for (auto& [name, p] : *found) {
    // A filesystem is this host's when it masters it as the source, or holds it as the
    // destination. (Several "hosts" may share one ZFS, as in the tests; and a pairing's
    // properties name both hosts.)
    bool master = props::get(p, props::kMaster) == "yes";
    std::string owner = master ? props::get(p, props::kSrcHost) : props::get(p, props::kDestHost);
    // A demoted old master is this host's whatever a demotion cut short left in its pairing.
    if (!props::get(p, props::kFenced).empty()) {
      owner = parse_record(props::get(p, props::kFenced))["by"] != config_.host ? config_.host : "";
    }
    if (owner != config_.host) continue;
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    out[name] = std::move(p);
  }
  for (const auto& fs : only) {
    if (!out.contains(fs)) {
      return make_error(ErrorCode::kNotFound, fs + " is not replicated by zrep on " + config_.host);
    }
  }
  return out;
}

Result<std::map<std::string, std::string>> Replicator::mastered_filesystems() {
  auto managed = managed_filesystems({});
  if (!managed) return managed.error();
  std::map<std::string, std::string> out;
  for (const auto& [fs, p] : *managed) {
    if (props::get(p, props::kMaster) == "yes" && props::get(p, props::kMemberOf).empty()) {
      out[fs] = props::get(p, props::kDestHost);  // members of a recursive pairing go with it
    }
  }
  return out;
}

bool Replicator::probe_peer(const std::string& peer_name) {
  const PeerConfig* peer = config_.find_peer(peer_name);
  if (peer != nullptr && !peer->address && links_ != nullptr) return links_->connected(peer_name);
  return connect(peer_name).is_ok();
}

void Replicator::note_schedule(const std::string& fs, Clock::time_point next_run, int failures) {
  std::lock_guard lk(mu_);
  FsRecord& rec = records_[fs];
  rec.next_run = next_run;
  rec.failures_in_a_row = failures;
}

peer::Pairing Replicator::make_pairing(const std::string& fs, const std::string& dest_host,
                                       const std::string& dest_fs, const props::PropMap& p) const {
  peer::Pairing pairing;
  pairing.set_src_fs(fs);
  pairing.set_src_host(config_.host);
  pairing.set_dest_fs(dest_fs);
  pairing.set_dest_host(dest_host);
  pairing.set_savecount(parse_savecount(props::get(p, props::kSavecount)).is_ok()
                            ? *parse_savecount(props::get(p, props::kSavecount))
                            : props::kDefaultSavecount);
  pairing.set_epoch(
      std::max<uint64_t>(1, std::strtoull(props::get(p, props::kEpoch).c_str(), nullptr, 10)));
  return pairing;
}

Status Replicator::write_master_pairing(const peer::Pairing& pairing) {
  const std::string& fs = pairing.src_fs();
  const std::pair<const char*, std::string> pairs[] = {
      {props::kSrcFs, fs},
      {props::kSrcHost, pairing.src_host()},
      {props::kDestFs, pairing.dest_fs()},
      {props::kDestHost, pairing.dest_host()},
      {props::kSavecount, std::to_string(pairing.savecount())},
      {props::kEpoch, std::to_string(pairing.epoch())},
      {props::kMaster, "yes"},
  };
  for (const auto& [k, v] : pairs) ZREP_RETURN_IF_ERROR(zfs_.set_prop(fs, k, v));
  return Status::ok();
}

Result<json> Replicator::changedest(const control::ChangeDestCommand& cmd) {
  const std::string& fs = cmd.fs();
  ZREP_RETURN_IF_ERROR(validate_dataset_name(cmd.dest_fs()));
  auto managed = managed_filesystems({fs});
  if (!managed) return managed.error();
  const auto& p = managed->at(fs);
  if (props::get(p, props::kMaster) != "yes") {
    return make_error(ErrorCode::kConflict,
                      fs + " is not a master here; run changedest on its master");
  }
  auto held = lock(fs, "changedest");
  if (!held) return held.error();
  auto peer = connect_locked(cmd.remote_host(), cmd.dest_fs(), "changedest");
  if (!peer) return peer.error();
  auto remote = (*peer)->describe(cmd.dest_fs());
  if (!remote) return remote.error();
  if (!remote->exists()) {
    return make_error(ErrorCode::kNotFound, cmd.dest_fs() + " does not exist on " +
                                                cmd.remote_host() +
                                                "; use 'zrep-agent init' for a new destination");
  }
  auto local = zfs_.list_snapshots(fs);
  if (!local) return local.error();
  auto there = from_wire(cmd.dest_fs(), remote->snapshots());
  auto plan = plan_sync(*local, there, fs, cmd.remote_host() + ":" + cmd.dest_fs());
  if (!plan) return Status(plan.error()).with_context("changedest refused");
  std::set<uint64_t> remote_guids;
  for (const auto& s : there) remote_guids.insert(s.guid);

  const int64_t now = unix_now();
  peer::PairRequest req;
  req.set_dest_fs(cmd.dest_fs());
  *req.mutable_pairing() = make_pairing(fs, cmd.remote_host(), cmd.dest_fs(), p);
  req.set_sent_time(now);
  for (const auto& s : *local) {
    if (remote_guids.contains(s.guid)) req.add_sent_guids(s.guid);
  }
  ZREP_RETURN_IF_ERROR((*peer)->pair(req));
  // Sent marks now speak of the new destination.
  for (const auto& s : *local) {
    if (remote_guids.contains(s.guid)) {
      ZREP_RETURN_IF_ERROR(zfs_.set_prop(s.name, props::kSent, std::to_string(now)));
    } else if (s.sent) {
      ZREP_RETURN_IF_ERROR(zfs_.inherit_prop(s.name, props::kSent));
    }
  }
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(fs, props::kDestHost, cmd.remote_host()));
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(fs, props::kDestFs, cmd.dest_fs()));
  spdlog::info("{} now replicates to {}:{} (common snapshot {})", fs, cmd.remote_host(),
               cmd.dest_fs(), plan->base.name);
  return json{{"fs", fs},
              {"dest_host", cmd.remote_host()},
              {"dest_fs", cmd.dest_fs()},
              {"common_snapshot", plan->base.name},
              {"previous", props::get(p, props::kDestHost) + ":" + props::get(p, props::kDestFs)}};
}

Result<json> Replicator::clear(const control::ClearCommand& cmd) {
  const std::string& fs = cmd.fs();
  auto managed = managed_filesystems({fs});
  if (!managed) return managed.error();
  const auto p = managed->at(fs);
  json out{{"fs", fs}};
  if (props::get(p, props::kRecursive) == "yes") {
    // A recursive pairing: its members first (the root last, so running clear again after a
    // failure finds the tree).
    auto members = zfs_.list_filesystems(fs);
    if (!members) return members.error();
    out["members"] = json::array();
    for (auto it = members->rbegin(); it != members->rend(); ++it) {
      auto mp = zfs_.get_props(*it, {props::kMemberOf});
      if (!mp || props::get(*mp, props::kMemberOf) != fs) continue;
      control::ClearCommand c;
      c.set_fs(*it);
      c.set_remote_host(cmd.remote_host());
      auto r = clear(c);
      if (!r) return Status(r.error()).with_context("clear " + fs + " (its member " + *it + ")");
      out["members"].push_back(*it);
    }
  }
  auto held = lock(fs, "clear");
  if (!held) return held.error();
  if (!cmd.remote_host().empty()) {
    // The replica on the peer first: if that fails, nothing changed here.
    const bool master = props::get(p, props::kMaster) == "yes";
    if (!master) {
      return make_error(ErrorCode::kInvalidArgument,
                        fs + " is a replica here; clear it on its master to clear both sides");
    }
    if (props::get(p, props::kDestHost) != cmd.remote_host()) {
      return make_error(ErrorCode::kInvalidArgument, fs + " is replicated to " +
                                                         props::get(p, props::kDestHost) +
                                                         ", not to " + cmd.remote_host());
    }
    auto peer = connect(cmd.remote_host());
    if (!peer) return peer.error();
    ZREP_RETURN_IF_ERROR((*peer)->clear(props::get(p, props::kDestFs)));
    out["cleared_on_peer"] = props::get(p, props::kDestFs);
  }
  ZREP_RETURN_IF_ERROR(clear_zrep_properties(zfs_, fs));
  spdlog::info("cleared the zrep properties of {}", fs);
  return out;
}

Result<json> Replicator::list_snapshots(const std::string& fs) {
  auto managed = managed_filesystems({fs});
  if (!managed) return managed.error();
  auto snaps = zfs_.list_snapshots(fs);
  if (!snaps) return snaps.error();
  json out = json::array();
  for (const auto& s : *snaps) {
    if (!parse_zrep_snap(snap_part_of(s.name))) continue;
    json e{{"snapshot", s.name}, {"guid", std::to_string(s.guid)}, {"created", s.creation}};
    e["sent"] = s.sent ? json(*s.sent) : json(nullptr);
    out.push_back(std::move(e));
  }
  return out;
}

Result<json> Replicator::list(const control::ListCommand& cmd) {
  if (!cmd.snapshots_of().empty()) return list_snapshots(cmd.snapshots_of());
  auto managed = managed_filesystems({cmd.fs().begin(), cmd.fs().end()});
  if (!managed) return managed.error();
  json out = json::array();
  for (const auto& [name, p] : *managed) {
    bool master = props::get(p, props::kMaster) == "yes";
    // Named filesystems are listed whatever their role; otherwise masters, or with -L replicas.
    if (cmd.fs().empty() && master == cmd.incoming()) continue;
    out.push_back(json{{"fs", name},
                       {"role", master ? "master" : "destination"},
                       {"src_host", props::get(p, props::kSrcHost)},
                       {"src_fs", props::get(p, props::kSrcFs)},
                       {"dest_host", props::get(p, props::kDestHost)},
                       {"dest_fs", props::get(p, props::kDestFs)},
                       {"savecount", props::get(p, props::kSavecount)},
                       {"epoch", props::get(p, props::kEpoch)}});
  }
  return out;
}

Result<json> Replicator::status(const control::StatusCommand& cmd) {
  auto managed = managed_filesystems({cmd.fs().begin(), cmd.fs().end()});
  if (!managed) return managed.error();
  json out = json::array();
  const int64_t now = unix_now();
  for (const auto& [name, p] : *managed) {
    bool master = props::get(p, props::kMaster) == "yes";
    json e{{"fs", name},
           {"role", master ? "master" : "destination"},
           {"peer", master ? props::get(p, props::kDestHost) : props::get(p, props::kSrcHost)},
           {"peer_fs", master ? props::get(p, props::kDestFs) : props::get(p, props::kSrcFs)},
           {"epoch", props::get(p, props::kEpoch)}};
    auto snaps = zfs_.list_snapshots(name);
    if (snaps) {
      const SnapshotInfo* last_sent = nullptr;
      size_t unsent = 0;
      for (const auto& s : *snaps) {
        if (!parse_zrep_snap(snap_part_of(s.name))) continue;
        if (s.sent)
          last_sent = &s;
        else
          ++unsent;
      }
      e["zrep_snapshots"] = snaps->size();
      e["unsent_snapshots"] = unsent;
      if (last_sent != nullptr) {
        e["last_synced_snapshot"] = last_sent->name;
        e["last_sync_time"] = *last_sent->sent;
        // Lag: how old the newest data both sides hold is.
        if (last_sent->creation > 0) e["lag_seconds"] = now - last_sent->creation;
      }
    } else {
      e["error"] = snaps.error().message;
    }
    if (auto h = locks_.holder(name)) {
      e["lock"] = json{{"host", h->owner.host},
                       {"agent", h->owner.instance},
                       {"operation", h->owner.operation},
                       {"since", to_unix(h->since)},
                       {"text", describe_holder(name, config_.host, *h)}};
    }
    if (links_ != nullptr) {
      if (auto link = links_->describe(e["peer"].get<std::string>())) e["link"] = *link;
    }
    if (!props::get(p, props::kFenced).empty()) {
      e["role"] = "demoted";
      e["fenced"] = props::get(p, props::kFenced);
    }
    if (!props::get(p, props::kSwitch).empty()) e["switch"] = props::get(p, props::kSwitch);
    if (!props::get(p, props::kTakeover).empty()) {
      e["forced_takeover"] = props::get(p, props::kTakeover);
    }
    if (!props::get(p, props::kKept).empty()) e["kept"] = props::get(p, props::kKept);
    std::lock_guard lk(mu_);
    if (auto it = records_.find(name); it != records_.end()) {
      const FsRecord& r = it->second;
      if (!r.running.empty()) {
        e["running"] = r.running;
        e["running_since"] = to_unix(r.running_since);
      }
      if (r.last_success) {
        e["last_transfer_bytes"] = r.last_bytes;
        e["last_transfer_seconds"] = r.last_seconds;
      }
      if (r.next_run) e["next_run"] = to_unix(*r.next_run);
      if (r.failures_in_a_row > 0) e["failures_in_a_row"] = r.failures_in_a_row;
      if (!r.last_error.empty()) {
        e["last_error"] = r.last_error;
        e["last_error_time"] = to_unix(*r.last_error_time);
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace zrep
