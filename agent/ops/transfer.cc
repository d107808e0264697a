// One transfer of one snapshot to a peer and what surrounds it: the stream (send_snapshot),
// the check of a resume token here, what happens to a snapshot whose transfer failed, and the
// bookmark of a new base.
#include <spdlog/spdlog.h>

#include "agent/logic/peer_trust.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/ops/replicator.h"
#include "agent/zfs/zfs_parse.h"
#include "common/unix_time.h"
#include "sender/stream_sender.h"

namespace zrep {
namespace {

Status write_abort(FrameChannel& ch, const std::string& why) {
  std::string reason = why.substr(0, kMaxAbortPayload);
  return ch.write_frame(
      FrameType::kDataAbort,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(reason.data()), reason.size()));
}

}  // namespace

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

Result<peer::ReceiveReply> Replicator::send_snapshot(PeerClient& peer, const std::string& snapshot,
                                                     const SnapshotInfo* base,
                                                     peer::ReceiveRequest req,
                                                     const ProgressSink& progress) {
  auto guid = zfs_.get_props(snapshot, {"guid"});
  if (!guid) return guid.error();
  req.set_snapshot(std::string(snap_part_of(snapshot)));
  // Local zfs output, but never trusted to be a number: stoull would throw.
  auto guid_value = parse_u64(props::get(*guid, "guid"));
  if (!guid_value || *guid_value == 0) {
    return make_error(ErrorCode::kZfs,
                      "zfs gave no GUID for " + snapshot + ": '" + props::get(*guid, "guid") + "'");
  }
  req.set_guid(*guid_value);
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

}  // namespace zrep
