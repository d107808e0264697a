// Receiving a send stream into a replica: the checks first (name, authorization, lock,
// ownership of dest, a partial receive's token, the incremental base), then the target
// (init --force sets the old copy aside), then zfs recv fed from the session, then the GUID
// check, the marks and the mount; a failure undoes what the receive changed.
#include <spdlog/spdlog.h>

#include <ctime>
#include <span>

#include "agent/endpoint/endpoint_internal.h"
#include "agent/endpoint/peer_service.h"
#include "agent/fault/fault.h"
#include "agent/logic/metric_names.h"
#include "agent/logic/records.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/rpc/net.h"
#include "common/metrics.h"
#include "receiver/stream_header.h"
#include "receiver/stream_receiver.h"

namespace zrep {

using endpoint_internal::parent_of;

// One receive, from its checks to its end: what the steps share.
struct PeerService::ReceiveAttempt {
  const peer::ReceiveRequest& req;
  const std::string& dest;
  const std::string& target;
  const bool init;
  const bool resuming;
  std::string set_aside = {};  // where init --force put the old copy, until the new one is whole
  bool resumable = false;      // recv -s, and zrep:receiving on an incremental's dest
  bool stale = false;          // set when a resumed stream's first record does not match
};

Result<peer::ReceiveReply> PeerService::receive(uint64_t id, const peer::ReceiveRequest& req) {
  const std::string& dest = req.dest_fs();
  const std::string target = dest + "@" + req.snapshot();
  ZREP_RETURN_IF_ERROR(validate_dataset_name(dest));
  ZREP_RETURN_IF_ERROR(validate_snapshot_name(target));
  ZREP_RETURN_IF_ERROR(authorize(config_, session_.peer_name, dest));
  auto held = hold(dest, "receive");
  if (!held) return held.error();
  const bool init = req.base_guid() == 0;
  if (init) ZREP_RETURN_IF_ERROR(check_pairing(req.pairing()));
  // Ownership first: nothing below (not even discarding a partial receive) touches a dataset
  // that this peer does not feed, whichever path the request takes (init, init --force, a
  // resumed init, an incremental, a resumed incremental).
  auto resuming = check_owner_and_partial(req, target);
  if (!resuming) return resuming.error();
  // A resumed init continues into the partial filesystem it created.
  if (!(init && *resuming)) ZREP_RETURN_IF_ERROR(check_receive(req));
  ReceiveAttempt a{.req = req, .dest = dest, .target = target, .init = init, .resuming = *resuming};
  ZREP_RETURN_IF_ERROR(prepare_target(a));
  auto spec = recv_spec(a);
  if (!spec) return spec.error();
  auto raw_bytes = run_stream(id, a, *spec);
  if (!raw_bytes) return raw_bytes.error();
  metrics::Registry::global().add(metric::kReceivedBytes,
                                  {{"fs", dest}, {"peer", session_.peer_name}},
                                  static_cast<double>(*raw_bytes));
  return finish_receive(a, *raw_bytes);
}

Result<bool> PeerService::check_owner_and_partial(const peer::ReceiveRequest& req,
                                                  const std::string& target) {
  const std::string& dest = req.dest_fs();
  const bool init = req.base_guid() == 0;
  bool resuming = false;
  auto there = zfs_.exists(dest);
  if (!there) return there.error();
  std::string token;
  if (*there) {
    auto p = zfs_.get_props(dest, props::filesystem_props());
    if (!p) return p.error();
    Status mine = check_destination_of_peer(dest, *p);
    if (!mine && init) return mine.with_context("init refuses to replace it");
    ZREP_RETURN_IF_ERROR(mine);
    auto t = zfs_.resume_token(dest);
    if (!t) return t.error();
    token = *t;
  }
  // A partial receive that an interrupted stream left (OpenZFS, `recv -s`): resumed when the
  // sender asks with its token; otherwise discarded first (the sender starts over).
  if (!req.resume_token().empty()) {
    if (req.resume_token() != token) {
      return make_error(ErrorCode::kConflict, "the partial receive into " + dest + " on " +
                                                  config_.host +
                                                  " is not the one the sender resumes; try "
                                                  "again");
    }
    resuming = true;
    spdlog::info("peer {}: resuming the interrupted receive of {}", session_.peer_name, target);
  } else if (!token.empty()) {
    spdlog::warn(
        "peer {}: discarding the partial receive into {} (zfs recv -A): the sender starts "
        "over",
        session_.peer_name, dest);
    ZREP_RETURN_IF_ERROR(zfs_.abort_partial_receive(dest));
  }
  return resuming;
}

Status PeerService::prepare_target(ReceiveAttempt& a) {
  const peer::ReceiveRequest& req = a.req;
  const std::string& dest = a.dest;
  auto existed = zfs_.exists(dest);
  if (!existed) return existed.status();

  // init --force over an existing replica: the old copy is renamed aside, not destroyed, and
  // comes back if the new one does not arrive whole. The operator removes it when satisfied.
  if (a.init && *existed && !a.resuming) {
    a.set_aside = dest + "-zrep-replaced-" + std::to_string(std::time(nullptr));
    ZREP_RETURN_IF_ERROR(validate_dataset_name(a.set_aside));
    ZREP_RETURN_IF_ERROR(zfs_.rename_filesystem(dest, a.set_aside));
  }
  // Resumable receives (OpenZFS on both sides): an interrupted stream leaves a token on dest,
  // and the sender resumes with `zfs send -t`. For an incremental, zrep:receiving on dest
  // tells the sender which snapshot it was; an init's partial filesystem is new, and the
  // sender resumes it with its unsent init snapshot.
  a.resumable = zfs_.features().resumable_receive && session_.peer_hello.zfs().resumable_receive();
  if (a.resumable && !a.init) {
    ZREP_RETURN_IF_ERROR(zfs_.set_prop(
        dest, props::kReceiving, format_receiving({req.snapshot(), req.guid(), req.base_guid()})));
  }
  return Status::ok();
}

Error PeerService::fail_receive(const ReceiveAttempt& a, const Error& e, bool received_something) {
  const std::string& dest = a.dest;
  if (received_something) undo_receive(a.req);
  if (a.resumable && !a.init) {
    // Kept while a partial receive can be resumed: it tells the sender what it was.
    auto token = zfs_.resume_token(dest);
    if (token && token->empty()) (void)zfs_.inherit_prop(dest, props::kReceiving);
  }
  if (a.stale) {
    // The resumed stream is not of the snapshot the partial receive was: drop it, so the
    // next attempt starts over instead of trying the same again.
    spdlog::warn(
        "peer {}: the resumed stream does not match the partial receive into {}; "
        "discarding it",
        session_.peer_name, dest);
    (void)zfs_.abort_partial_receive(dest);
  }
  if (a.resumable && e.code == ErrorCode::kNoSpace) {
    // The receive fails again until space is freed, and meanwhile its partial state holds
    // that space from every other dataset of the pool (a full standby pool is an outage of
    // its own): give it back, so both sides are as they were. The transfer starts over
    // once there is room; what arrived so far is sent again.
    spdlog::warn(
        "peer {}: out of space receiving into {}; discarding the partial receive "
        "(zfs recv -A) to give the space back",
        session_.peer_name, dest);
    (void)zfs_.abort_partial_receive(dest);
    if (!a.init) (void)zfs_.inherit_prop(dest, props::kReceiving);
  }
  if (!a.set_aside.empty()) {
    if (Status s = zfs_.rename_filesystem(a.set_aside, dest); !s) {
      spdlog::error("could not rename {} back to {}: {}", a.set_aside, dest, s.message());
    }
  }
  return e;
}

Result<RecvSpec> PeerService::recv_spec(const ReceiveAttempt& a) {
  const std::string& dest = a.dest;
  RecvSpec spec;
  spec.target = dest;
  // Not while an old copy is set aside: a failed receive must leave dest free for it to come
  // back, and a later attempt must know it is there.
  spec.resumable = a.resumable && a.set_aside.empty();
  // Received data is inert: setuid binaries and device files of a replica have no effect.
  // setuid=off and devices=off are set before the data is first mounted, and with them the
  // mark that this peer feeds dest (so a partial receive left behind is known as its own).
  if (a.init && !a.resuming) {
    const std::vector<std::pair<std::string, std::string>> inert = {
        {"setuid", "off"},
        {"devices", "off"},
        {props::kSrcHost, session_.peer_name},
        {props::kDestFs, dest}};
    if (zfs_.features().recv_options) {
      spec.no_mount = true;  // mounted below, once verified
      spec.props = inert;
    }
    // Without recv -u and -o (zfs-fuse) the properties are set right after the receive, and
    // mount_inert below puts nosuid,nodev on the mount (zfs-fuse ignores both properties).
  } else if (!a.init) {
    // A replica received before this rule (or changed by hand): off again before new data.
    auto cur = zfs_.get_props(dest, {"setuid", "devices"});
    if (!cur) return fail_receive(a, cur.error(), false);
    for (const char* prop : {"setuid", "devices"}) {
      if (props::get(*cur, prop) == "off") continue;
      if (Status s = zfs_.set_prop(dest, prop, "off"); !s) return fail_receive(a, s.error(), false);
    }
  }
  return spec;
}

Result<uint64_t> PeerService::run_stream(uint64_t id, ReceiveAttempt& a, const RecvSpec& spec) {
  const peer::ReceiveRequest& req = a.req;
  const bool resuming = a.resuming;
  auto child = zfs_.start_recv(spec);
  if (!child) return fail_receive(a, child.error(), false);

  peer::Reply ready;
  ready.set_id(id);
  ready.mutable_receive()->set_ready(true);
  if (Status s = send_message(*session_.channel, ready); !s) {
    return fail_receive(a, s.error(), false);
  }

  spdlog::info("peer {}: receiving {} ({})", session_.peer_name, a.target,
               a.init ? "full" : "incremental");
  ReceiveOptions opts;
  opts.frame_timeout = config_.io_timeout;
  opts.header_size = kStreamHeaderSize;
  opts.check_header = [&req, &stale = a.stale, resuming](std::span<const uint8_t> header) {
    Status s = check_stream_header(header, req.guid(), req.base_guid());
    if (!s && resuming) stale = true;
    return s;
  };
  opts.progress = [](const TransferProgress& p) {
    // Test hook: an agent killed half-way through a large transfer (agent/fault/fault.h).
    if (p.raw_bytes >= (uint64_t{16} << 20)) fault_point("received-16m");
  };
  // receive_stream owns the pipe from here and closes it, so zfs recv sees the end.
  auto got = receive_stream(*session_.channel, child->release_stdin(), opts);
  Status zs = zfs_.finish(*child, "zfs receive into " + a.dest + " on " + config_.host,
                          std::chrono::hours(24));
  if (!got) {
    // zfs recv may have committed what arrived before the stream was found bad: undo it.
    // zfs's own error says more (out of space) than the broken pipe it left behind.
    const bool zfs_says =
        !zs && (zs.error().code == ErrorCode::kNoSpace || got.error().code == ErrorCode::kInternal);
    return fail_receive(a, zfs_says ? zs.error() : got.error(), zs.is_ok());
  }
  if (!zs) return fail_receive(a, zs.error(), false);
  return got->raw_bytes;
}

Result<peer::ReceiveReply> PeerService::finish_receive(const ReceiveAttempt& a,
                                                       uint64_t raw_bytes) {
  const peer::ReceiveRequest& req = a.req;
  const std::string& dest = a.dest;
  const std::string& target = a.target;
  auto guid = zfs_.get_props(target, {"guid"});
  if (!guid) return fail_receive(a, guid.error(), true);
  if (props::get(*guid, "guid") != std::to_string(req.guid())) {
    return fail_receive(
        a,
        make_error(ErrorCode::kCorrupt, "received snapshot " + target + " has GUID " +
                                            props::get(*guid, "guid") + ", the sender's has " +
                                            std::to_string(req.guid()) + "; it was removed"),
        true);
  }
  if (a.init && !zfs_.features().recv_options) {
    for (const char* prop : {"setuid", "devices"}) {
      if (Status s = zfs_.set_prop(dest, prop, "off"); !s) return fail_receive(a, s.error(), true);
    }
  }
  peer::ReceiveReply reply;
  reply.set_received_guid(req.guid());
  reply.set_raw_bytes(raw_bytes);
  reply.set_replaced_as(a.set_aside);
  ZREP_RETURN_IF_ERROR(after_receive(req, reply));
  if (a.resumable) (void)zfs_.inherit_prop(dest, props::kReceiving);
  // Mounted only now (received with -u), or mounted again by zfs recv (zfs-fuse, which needs
  // nosuid,nodev put back on the mount). A raw replica without its key stays unmounted.
  if (Status m = zfs_.mount_inert(dest); !m) {
    spdlog::warn("peer {}: {} is not mounted: {}", session_.peer_name, dest, m.message());
  }
  spdlog::info("peer {}: received {} ({} bytes, GUID verified)", session_.peer_name, target,
               raw_bytes);
  return reply;
}

Status PeerService::check_receive(const peer::ReceiveRequest& req) {
  const std::string& dest = req.dest_fs();
  auto exists = zfs_.exists(dest);
  if (!exists) return exists.status();
  if (req.base_guid() == 0) {
    if (*exists && !req.force()) {
      return make_error(ErrorCode::kAlreadyExists,
                        dest + " already exists on " + config_.host +
                            "; init refuses to overwrite it. Use 'init --force' to replace a "
                            "replica (the old copy is kept, renamed aside)");
    }
    if (*exists) {
      // --force replaces only a replica this peer feeds, never an unrelated dataset.
      auto p = zfs_.get_props(dest, props::filesystem_props());
      if (!p) return p.status();
      ZREP_RETURN_IF_ERROR(
          check_destination_of_peer(dest, *p).with_context("init --force refuses to replace it"));
    }
    std::string parent = parent_of(dest);
    if (!parent.empty()) {
      auto pe = zfs_.exists(parent);
      if (!pe) return pe.status();
      if (!*pe) {
        return make_error(ErrorCode::kNotFound, "the parent " + parent + " of " + dest +
                                                    " does not exist on " + config_.host +
                                                    "; create it first");
      }
    }
    return Status::ok();
  }
  if (!*exists) {
    return make_error(ErrorCode::kNotFound, dest + " does not exist on " + config_.host +
                                                "; run 'zrep-agent init' first");
  }
  auto p = zfs_.get_props(dest, props::filesystem_props());
  if (!p) return p.status();
  ZREP_RETURN_IF_ERROR(check_destination_of_peer(dest, *p));
  auto snaps = zfs_.list_snapshots(dest);
  if (!snaps) return snaps.status();
  if (snaps->empty() || snaps->back().guid != req.base_guid()) {
    return make_error(ErrorCode::kConflict,
                      "the newest snapshot of " + dest + " on " + config_.host +
                          " is not the incremental base the sender chose; sync again");
  }
  if (zfs_.features().written_property) {
    auto w = zfs_.get_props(dest, {"written"});
    if (w && props::get(*w, "written") != "0" && !props::get(*w, "written").empty()) {
      return make_error(ErrorCode::kModified,
                        dest + " on " + config_.host + " was modified since its last snapshot (" +
                            props::get(*w, "written") +
                            " bytes written); a destination must stay read-only. Nothing was "
                            "changed");
    }
  }
  return Status::ok();
}

Status PeerService::after_receive(const peer::ReceiveRequest& req, peer::ReceiveReply& reply) {
  const std::string& dest = req.dest_fs();
  if (req.base_guid() == 0) {
    ZREP_RETURN_IF_ERROR(write_pairing(dest, req.pairing()));
  }
  auto snaps = zfs_.list_snapshots(dest);
  if (!snaps) return snaps.status();
  bool after_base = req.base_guid() == 0;
  for (auto& s : *snaps) {
    if (after_base && !s.sent) {
      ZREP_RETURN_IF_ERROR(zfs_.set_prop(s.name, props::kSent, std::to_string(req.sent_time())));
      s.sent = req.sent_time();
    }
    if (s.guid == req.base_guid()) after_base = true;
  }
  to_wire(*snaps, reply.mutable_snapshots());
  if (Status h = hold_base(zfs_, dest, req.guid()); !h) {
    spdlog::warn("{}: could not move the hold to the new base: {}", dest, h.message());
  }
  return Status::ok();
}

void PeerService::undo_receive(const peer::ReceiveRequest& req) {
  const std::string& dest = req.dest_fs();
  Status s;
  if (req.base_guid() == 0) {
    // A full receive created dest (an existing one was renamed aside first).
    s = zfs_.destroy_filesystem(dest, true);
  } else {
    auto snaps = zfs_.list_snapshots(dest);
    if (snaps) {
      for (const auto& snap : *snaps) {
        if (snap.guid == req.base_guid()) s = zfs_.rollback(snap.name, true);
      }
    }
  }
  if (!s) spdlog::error("could not undo the unverified receive into {}: {}", dest, s.message());
}

}  // namespace zrep
