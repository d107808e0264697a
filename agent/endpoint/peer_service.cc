#include "agent/endpoint/peer_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <set>

#include "agent/fault/fault.h"
#include "agent/logic/peer_trust.h"
#include "agent/logic/retention.h"
#include "agent/logic/role_switch.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/roles/switch_steps.h"
#include "agent/rpc/net.h"
#include "common/sanitize.h"
#include "receiver/stream_header.h"
#include "receiver/stream_receiver.h"

namespace zrep {
namespace {

std::string parent_of(const std::string& fs) {
  auto slash = fs.rfind('/');
  return slash == std::string::npos ? std::string() : fs.substr(0, slash);
}

}  // namespace

Status authorize(const Config& config, const std::string& peer_name, const std::string& dataset) {
  const PeerConfig* peer = config.find_peer(peer_name);
  if (peer == nullptr) {
    return make_error(ErrorCode::kPermissionDenied,
                      "peer '" + peer_name + "' is not configured on " + config.host);
  }
  for (const auto& allowed : peer->datasets) {
    if (dataset_within(dataset, allowed)) return Status::ok();
  }
  std::string allowed_list;
  for (const auto& a : peer->datasets) allowed_list += (allowed_list.empty() ? "" : ", ") + a;
  if (allowed_list.empty()) allowed_list = "nothing";
  return make_error(ErrorCode::kPermissionDenied, "peer '" + peer_name + "' may not access '" +
                                                      dataset + "' on " + config.host +
                                                      ": its [[peer]] entry in " + config.source +
                                                      " allows datasets = [" + allowed_list + "]");
}

PeerService::~PeerService() {
  if (hooks_.locks == nullptr || tokens_.empty()) return;
  for (const auto& fs : hooks_.locks->release_all(tokens_)) {
    spdlog::info("peer {}: session ended; its lock on {} is released", session_.peer_name, fs);
    // A failover the peer coordinated may have stopped half-way here.
    if (hooks_.check_later) hooks_.check_later(fs);
  }
}

Status PeerService::serve() {
  for (;;) {
    peer::Request req;
    // A session with no request for session_idle_timeout is closed: it would pin a session
    // slot of its peer (a transfer is a request in progress, never idle here).
    Status got = receive_message(*session_.channel, req, config_.session_idle_timeout);
    if (got.code() == ErrorCode::kTimeout) {
      return got.with_context("waiting for a request (session_idle_timeout " +
                              std::to_string(config_.session_idle_timeout.count()) + " s)");
    }
    if (!got) return got;
    // The session's locks do not lapse while it is busy, and lapse a lease after its last
    // request (a connection cut without a word).
    if (hooks_.locks != nullptr) {
      for (const auto& t : tokens_) hooks_.locks->renew(t, std::chrono::seconds(0));
    }
    Status handled = handle(req);
    if (hooks_.locks != nullptr) {
      for (const auto& t : tokens_) hooks_.locks->renew(t, config_.lock_lease);
    }
    ZREP_RETURN_IF_ERROR(handled);
  }
}

bool PeerService::session_holds(const std::string& fs) {
  if (hooks_.locks == nullptr) return false;
  auto h = hooks_.locks->holder(fs);
  return h && std::find(tokens_.begin(), tokens_.end(), h->owner.token) != tokens_.end();
}

Result<HeldLock> PeerService::hold(const std::string& fs, const char* operation) {
  if (hooks_.locks == nullptr || session_holds(fs)) return HeldLock();
  std::string token = hooks_.locks->new_token();
  LockOwner owner{session_.peer_name, sanitize_peer_text(session_.peer_hello.instance_id(), 64),
                  operation, token};
  ZREP_RETURN_IF_ERROR(hooks_.locks->acquire(fs, owner, std::chrono::seconds(0)));
  return HeldLock(hooks_.locks, fs, token);
}

Status PeerService::lock(const peer::LockRequest& req) {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(req.fs()));
  ZREP_RETURN_IF_ERROR(authorize(config_, session_.peer_name, req.fs()));
  if (hooks_.locks == nullptr) return Status::ok();
  if (req.token().empty() || req.token().size() > 128 || req.operation().size() > 64) {
    return make_error(ErrorCode::kInvalidArgument, "lock request with a bad token or operation");
  }
  // Tokens are the peer's; prefix them with the session so no peer can name another's lock.
  const std::string token =
      session_.peer_name + "/" + session_.peer_hello.instance_id() + "/" + req.token();
  if (req.release()) {
    hooks_.locks->release(req.fs(), token);
    return Status::ok();
  }
  // Only a filesystem paired with this peer (or none yet): never one this host masters for, or
  // receives from, another host. On a master here the lock lasts at most lock_lease.
  auto exists = zfs_.exists(req.fs());
  if (!exists) return exists.status();
  props::PropMap p;
  if (*exists) {
    auto got = zfs_.get_props(req.fs(), props::filesystem_props());
    if (!got) return got.status();
    p = std::move(*got);
  }
  ZREP_RETURN_IF_ERROR(may_peer_lock(session_.peer_name, req.fs(), *exists, p, config_.host));
  const auto max_hold = peer_lock_is_bounded(p) ? config_.lock_lease : std::chrono::seconds(0);
  LockOwner owner{session_.peer_name, sanitize_peer_text(session_.peer_hello.instance_id(), 64),
                  sanitize_peer_text(req.operation(), 64), token};
  ZREP_RETURN_IF_ERROR(hooks_.locks->acquire(req.fs(), owner, std::chrono::seconds(0),
                                             LockTable::Steady::now(), max_hold));
  if (std::find(tokens_.begin(), tokens_.end(), token) == tokens_.end()) tokens_.push_back(token);
  return Status::ok();
}

Status PeerService::handle(const peer::Request& req) {
  peer::Reply reply;
  reply.set_id(req.id());
  Status result;
  switch (req.body_case()) {
    case peer::Request::kDescribe: {
      auto r = describe(req.describe());
      if (r) *reply.mutable_describe() = std::move(*r);
      result = r.status();
      break;
    }
    case peer::Request::kMarkSent: {
      auto r = mark_sent(req.mark_sent());
      if (r) *reply.mutable_mark_sent() = std::move(*r);
      result = r.status();
      break;
    }
    case peer::Request::kClear: {
      const std::string& fs = req.clear().fs();
      result = validate_dataset_name(fs);
      if (result) result = authorize(config_, session_.peer_name, fs);
      Result<HeldLock> held = result ? hold(fs, "clear") : Result<HeldLock>(result.error());
      if (result) result = held.status();
      if (result) {
        auto p = zfs_.get_props(fs, props::filesystem_props());
        result = p ? check_destination_of_peer(fs, *p) : p.status();
      }
      if (result) result = clear_zrep_properties(zfs_, fs);
      if (result) {
        reply.mutable_clear();
        spdlog::info("peer {}: cleared the zrep properties of {}", session_.peer_name, fs);
      }
      break;
    }
    case peer::Request::kPair: {
      auto r = pair(req.pair());
      if (r) *reply.mutable_pair() = std::move(*r);
      result = r.status();
      break;
    }
    case peer::Request::kExpire: {
      auto r = expire(req.expire());
      if (r) *reply.mutable_expire() = std::move(*r);
      result = r.status();
      break;
    }
    case peer::Request::kReceive: {
      auto r = receive(req.id(), req.receive());
      if (r) *reply.mutable_receive() = std::move(*r);
      result = r.status();
      break;
    }
    case peer::Request::kLock: {
      result = lock(req.lock());
      if (result) reply.mutable_lock();
      break;
    }
    case peer::Request::kSwitchStep: {
      auto r = switch_step(req.switch_step());
      if (r) *reply.mutable_switch_step() = std::move(*r);
      result = r.status();
      break;
    }
    case peer::Request::kTakeover: {
      auto r = takeover(req.takeover());
      if (r) *reply.mutable_takeover() = std::move(*r);
      result = r.status();
      break;
    }
    default:
      result = make_error(ErrorCode::kProtocol, "unknown request from peer");
  }
  if (!result) {
    spdlog::warn("peer {}: request {} refused: {}", session_.peer_name, req.id(), result.message());
    *reply.mutable_error() = to_wire(result.error());
  }
  if (reply.ByteSizeLong() > kMaxControlPayload) {
    // Say so rather than hang up: e.g. tens of thousands of snapshots on one filesystem.
    peer::Reply too_big;
    too_big.set_id(req.id());
    *too_big.mutable_error() = to_wire(make_error(
        ErrorCode::kInternal, "the answer is larger than a message may be (" +
                                  std::to_string(reply.ByteSizeLong()) +
                                  " bytes); does the filesystem have tens of thousands of "
                                  "snapshots? Destroy ones that are not needed"));
    return send_message(*session_.channel, too_big);
  }
  return send_message(*session_.channel, reply);
}

Result<peer::DescribeReply> PeerService::describe(const peer::DescribeRequest& req) {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(req.fs()));
  ZREP_RETURN_IF_ERROR(authorize(config_, session_.peer_name, req.fs()));
  peer::DescribeReply reply;
  auto exists = zfs_.exists(req.fs());
  if (!exists) return exists.error();
  reply.set_exists(*exists);
  std::string parent = parent_of(req.fs());
  if (*exists) {
    reply.set_parent_exists(true);
    auto p = zfs_.get_props(req.fs(), props::filesystem_props());
    if (!p) return p.error();
    // A dataset not paired with this peer: it learns that it exists (so init refuses it), not
    // its properties, snapshots (GUIDs) or partial receive (agent/logic/peer_trust.h).
    if (!paired_with_peer(*p, session_.peer_name)) return reply;
    for (const auto& [k, v] : *p) (*reply.mutable_props())[k] = v;
    note_requester(req, *p);
    auto snaps = zfs_.list_snapshots(req.fs());
    if (!snaps) return snaps.error();
    to_wire(*snaps, reply.mutable_snapshots());
    auto token = zfs_.resume_token(req.fs());
    if (token) reply.set_resume_token(*token);
  } else if (!parent.empty()) {
    auto pe = zfs_.exists(parent);
    if (!pe) return pe.error();
    reply.set_parent_exists(*pe);
  }
  std::string space_of = *exists ? req.fs() : parent;
  if (!space_of.empty() && reply.parent_exists()) {
    auto avail = zfs_.available_bytes(space_of);
    if (avail) reply.set_available_bytes(*avail);
  }
  return reply;
}

Result<peer::MarkSentReply> PeerService::mark_sent(const peer::MarkSentRequest& req) {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(req.fs()));
  ZREP_RETURN_IF_ERROR(authorize(config_, session_.peer_name, req.fs()));
  auto held = hold(req.fs(), "mark-sent");
  if (!held) return held.error();
  // Only the replica this peer feeds: marks on a master's snapshots would let retention destroy
  // snapshots that were never sent.
  auto p = zfs_.get_props(req.fs(), props::filesystem_props());
  if (!p) return p.error();
  ZREP_RETURN_IF_ERROR(check_destination_of_peer(req.fs(), *p));
  auto snaps = zfs_.list_snapshots(req.fs());
  if (!snaps) return snaps.error();
  // Each snapshot once, however often the request names its GUID.
  const std::set<uint64_t> guids(req.guids().begin(), req.guids().end());
  peer::MarkSentReply reply;
  for (const auto& s : *snaps) {
    if (s.sent || !guids.contains(s.guid)) continue;
    ZREP_RETURN_IF_ERROR(zfs_.set_prop(s.name, props::kSent, std::to_string(req.sent_time())));
    reply.set_marked(reply.marked() + 1);
  }
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

Status PeerService::check_destination_of_peer(const std::string& dest, const props::PropMap& p) {
  if (props::get(p, props::kMaster) == "yes") {
    return make_error(ErrorCode::kConflict,
                      dest + " is a master on " + config_.host + "; it does not receive");
  }
  if (!props::get(p, props::kFenced).empty()) {
    return demoted_refusal(dest, config_.host, props::get(p, props::kFenced));
  }
  return check_replica_of_peer(dest, p, session_.peer_name, config_.host);
}

Result<peer::ExpireReply> PeerService::expire(const peer::ExpireRequest& req) {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(req.fs()));
  ZREP_RETURN_IF_ERROR(authorize(config_, session_.peer_name, req.fs()));
  auto held = hold(req.fs(), "expire");
  if (!held) return held.error();
  auto p = zfs_.get_props(req.fs(), props::filesystem_props());
  if (!p) return p.error();
  ZREP_RETURN_IF_ERROR(check_destination_of_peer(req.fs(), *p));
  auto savecount = parse_savecount(props::get(*p, props::kSavecount));
  if (!savecount) return savecount.error();
  auto snaps = zfs_.list_snapshots(req.fs());
  if (!snaps) return snaps.error();
  peer::ExpireReply reply;
  for (const auto& name : plan_retention({*snaps, *savecount, req.keep_guid(), false})) {
    // One that cannot go (a clone made from it, an admin's hold) does not stop the others.
    if (Status s = zfs_.destroy_snapshot(name); !s) {
      spdlog::warn("{}: retention could not destroy {}: {}", req.fs(), name, s.message());
      continue;
    }
    reply.add_destroyed(std::string(snap_part_of(name)));
  }
  if (reply.destroyed_size() > 0) {
    spdlog::info("peer {}: expired {} snapshot(s) of {} (savecount {})", session_.peer_name,
                 reply.destroyed_size(), req.fs(), *savecount);
  }
  return reply;
}

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
  bool resuming = false;
  {
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
  }
  // A resumed init continues into the partial filesystem it created.
  if (!(init && resuming)) ZREP_RETURN_IF_ERROR(check_receive(req));
  auto existed = zfs_.exists(dest);
  if (!existed) return existed.error();

  // init --force over an existing replica: the old copy is renamed aside, not destroyed, and
  // comes back if the new one does not arrive whole. The operator removes it when satisfied.
  std::string set_aside;
  if (init && *existed && !resuming) {
    set_aside = dest + "-zrep-replaced-" + std::to_string(std::time(nullptr));
    ZREP_RETURN_IF_ERROR(validate_dataset_name(set_aside));
    ZREP_RETURN_IF_ERROR(zfs_.rename_filesystem(dest, set_aside));
  }
  // Resumable receives (OpenZFS on both sides): an interrupted stream leaves a token on dest,
  // and the sender resumes with `zfs send -t`. For an incremental, zrep:receiving on dest
  // tells the sender which snapshot it was; an init's partial filesystem is new, and the
  // sender resumes it with its unsent init snapshot.
  const bool resumable =
      zfs_.features().resumable_receive && session_.peer_hello.zfs().resumable_receive();
  if (resumable && !init) {
    ZREP_RETURN_IF_ERROR(zfs_.set_prop(dest, props::kReceiving,
                                       "snap=" + req.snapshot() +
                                           " guid=" + std::to_string(req.guid()) +
                                           " base=" + std::to_string(req.base_guid())));
  }
  bool stale = false;  // set when a resumed stream's first record does not match
  auto fail = [&](const Error& e, bool received_something) -> Error {
    if (received_something) undo_receive(req);
    if (resumable && !init) {
      // Kept while a partial receive can be resumed: it tells the sender what it was.
      auto token = zfs_.resume_token(dest);
      if (token && token->empty()) (void)zfs_.inherit_prop(dest, props::kReceiving);
    }
    if (stale) {
      // The resumed stream is not of the snapshot the partial receive was: drop it, so the
      // next attempt starts over instead of trying the same again.
      spdlog::warn(
          "peer {}: the resumed stream does not match the partial receive into {}; "
          "discarding it",
          session_.peer_name, dest);
      (void)zfs_.abort_partial_receive(dest);
    }
    if (resumable && e.code == ErrorCode::kNoSpace) {
      // The receive fails again until space is freed, and meanwhile its partial state holds
      // that space from every other dataset of the pool (a full standby pool is an outage of
      // its own): give it back, so both sides are as they were. The transfer starts over
      // once there is room; what arrived so far is sent again.
      spdlog::warn(
          "peer {}: out of space receiving into {}; discarding the partial receive "
          "(zfs recv -A) to give the space back",
          session_.peer_name, dest);
      (void)zfs_.abort_partial_receive(dest);
      if (!init) (void)zfs_.inherit_prop(dest, props::kReceiving);
    }
    if (!set_aside.empty()) {
      if (Status s = zfs_.rename_filesystem(set_aside, dest); !s) {
        spdlog::error("could not rename {} back to {}: {}", set_aside, dest, s.message());
      }
    }
    return e;
  };

  RecvSpec spec;
  spec.target = dest;
  // Not while an old copy is set aside: a failed receive must leave dest free for it to come
  // back, and a later attempt must know it is there.
  spec.resumable = resumable && set_aside.empty();
  // Received data is inert: setuid binaries and device files of a replica have no effect.
  // setuid=off and devices=off are set before the data is first mounted, and with them the
  // mark that this peer feeds dest (so a partial receive left behind is known as its own).
  if (init && !resuming) {
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
  } else if (!init) {
    // A replica received before this rule (or changed by hand): off again before new data.
    auto cur = zfs_.get_props(dest, {"setuid", "devices"});
    if (!cur) return fail(cur.error(), false);
    for (const char* prop : {"setuid", "devices"}) {
      if (props::get(*cur, prop) == "off") continue;
      if (Status s = zfs_.set_prop(dest, prop, "off"); !s) return fail(s.error(), false);
    }
  }
  auto child = zfs_.start_recv(spec);
  if (!child) return fail(child.error(), false);

  peer::Reply ready;
  ready.set_id(id);
  ready.mutable_receive()->set_ready(true);
  if (Status s = send_message(*session_.channel, ready); !s) return fail(s.error(), false);

  spdlog::info("peer {}: receiving {} ({})", session_.peer_name, target,
               init ? "full" : "incremental");
  ReceiveOptions opts;
  opts.frame_timeout = config_.io_timeout;
  opts.header_size = kStreamHeaderSize;
  opts.check_header = [&req, &stale, resuming](std::span<const uint8_t> header) {
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
  Status zs = zfs_.finish(*child, "zfs receive into " + dest + " on " + config_.host,
                          std::chrono::hours(24));
  if (!got) {
    // zfs recv may have committed what arrived before the stream was found bad: undo it.
    // zfs's own error says more (out of space) than the broken pipe it left behind.
    const bool zfs_says =
        !zs && (zs.error().code == ErrorCode::kNoSpace || got.error().code == ErrorCode::kInternal);
    return fail(zfs_says ? zs.error() : got.error(), zs.is_ok());
  }
  if (!zs) return fail(zs.error(), false);

  auto guid = zfs_.get_props(target, {"guid"});
  if (!guid) return fail(guid.error(), true);
  if (props::get(*guid, "guid") != std::to_string(req.guid())) {
    return fail(
        make_error(ErrorCode::kCorrupt, "received snapshot " + target + " has GUID " +
                                            props::get(*guid, "guid") + ", the sender's has " +
                                            std::to_string(req.guid()) + "; it was removed"),
        true);
  }
  if (init && !zfs_.features().recv_options) {
    for (const char* prop : {"setuid", "devices"}) {
      if (Status s = zfs_.set_prop(dest, prop, "off"); !s) return fail(s.error(), true);
    }
  }
  peer::ReceiveReply reply;
  reply.set_received_guid(req.guid());
  reply.set_raw_bytes(got->raw_bytes);
  reply.set_replaced_as(set_aside);
  ZREP_RETURN_IF_ERROR(after_receive(req, reply));
  if (resumable) (void)zfs_.inherit_prop(dest, props::kReceiving);
  // Mounted only now (received with -u), or mounted again by zfs recv (zfs-fuse, which needs
  // nosuid,nodev put back on the mount). A raw replica without its key stays unmounted.
  if (Status m = zfs_.mount_inert(dest); !m) {
    spdlog::warn("peer {}: {} is not mounted: {}", session_.peer_name, dest, m.message());
  }
  spdlog::info("peer {}: received {} ({} bytes, GUID verified)", session_.peer_name, target,
               got->raw_bytes);
  return reply;
}

Status PeerService::check_pairing(const peer::Pairing& p) {
  // The pairing comes from the network and is written into properties here: check it.
  ZREP_RETURN_IF_ERROR(validate_dataset_name(p.src_fs()).with_context("pairing from peer"));
  if (p.savecount() < 1 || p.savecount() > 100000 || p.epoch() < 1) {
    return make_error(ErrorCode::kInvalidArgument, "pairing from peer has savecount " +
                                                       std::to_string(p.savecount()) +
                                                       " and epoch " + std::to_string(p.epoch()) +
                                                       " (expected 1-100000 and >= 1)");
  }
  return Status::ok();
}

Status PeerService::write_pairing(const std::string& dest, const peer::Pairing& p) {
  // A destination must never be written to: an incremental receive would refuse it.
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(dest, props::kReadonly, "on"));
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(dest, props::kSrcFs, p.src_fs()));
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(dest, props::kSrcHost, session_.peer_name));
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(dest, props::kDestFs, dest));
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(dest, props::kDestHost, config_.host));
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(dest, props::kSavecount, std::to_string(p.savecount())));
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(dest, props::kEpoch, std::to_string(p.epoch())));
  (void)zfs_.inherit_prop(dest, props::kMaster);
  return Status::ok();
}

Result<peer::PairReply> PeerService::pair(const peer::PairRequest& req) {
  const std::string& dest = req.dest_fs();
  ZREP_RETURN_IF_ERROR(validate_dataset_name(dest));
  ZREP_RETURN_IF_ERROR(authorize(config_, session_.peer_name, dest));
  ZREP_RETURN_IF_ERROR(check_pairing(req.pairing()));
  auto held = hold(dest, "changedest");
  if (!held) return held.error();
  auto exists = zfs_.exists(dest);
  if (!exists) return exists.error();
  if (!*exists) {
    return make_error(ErrorCode::kNotFound, dest + " does not exist on " + config_.host +
                                                "; use 'zrep-agent init' for a new destination");
  }
  auto p = zfs_.get_props(dest, props::filesystem_props());
  if (!p) return p.error();
  // Only a replica this peer feeds already (or one the operator here marked for it): the GUIDs
  // the peer echoes never make an unmanaged or another peer's dataset its destination.
  ZREP_RETURN_IF_ERROR(
      check_may_pair(dest, *p, session_.peer_name, req.pairing().src_fs(), config_.host));
  auto snaps = zfs_.list_snapshots(dest);
  if (!snaps) return snaps.error();
  std::vector<const SnapshotInfo*> common;
  for (const auto& s : *snaps) {
    for (uint64_t g : req.sent_guids()) {
      if (s.guid == g) common.push_back(&s);
    }
  }
  if (common.empty()) {
    return make_error(ErrorCode::kNotFound, dest + " on " + config_.host +
                                                " holds no snapshot in common with the source");
  }
  ZREP_RETURN_IF_ERROR(write_pairing(dest, req.pairing()));
  for (const auto* s : common) {
    ZREP_RETURN_IF_ERROR(zfs_.set_prop(s->name, props::kSent, std::to_string(req.sent_time())));
  }
  spdlog::info("peer {}: {} is now the destination of {}:{}", session_.peer_name, dest,
               session_.peer_name, req.pairing().src_fs());
  return peer::PairReply{};
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

Result<peer::SwitchReply> PeerService::switch_step(const peer::SwitchRequest& req) {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(req.fs()));
  ZREP_RETURN_IF_ERROR(authorize(config_, session_.peer_name, req.fs()));
  if (hooks_.locks != nullptr && !session_holds(req.fs())) {
    return make_error(ErrorCode::kConflict, "a switch step on " + req.fs() +
                                                " needs the lock on it, taken on this session");
  }
  auto r = standby_switch_step(config_, zfs_, session_.peer_name, req);
  // Whatever happens next to the session, the journal just written gets looked at.
  if (r && req.step() == peer::SwitchRequest::PREPARE && hooks_.check_later) {
    hooks_.check_later(req.fs());
  }
  return r;
}

Result<peer::TakeoverReply> PeerService::takeover(const peer::TakeoverRequest& req) {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(req.fs()));
  ZREP_RETURN_IF_ERROR(authorize(config_, session_.peer_name, req.fs()));
  const PeerConfig* peer = config_.find_peer(session_.peer_name);
  if (peer == nullptr || !peer->allow_takeover) {
    return make_error(ErrorCode::kPermissionDenied,
                      "peer '" + session_.peer_name + "' may not start a failover of " + req.fs() +
                          " on " + config_.host + ": its [[peer]] entry in " + config_.source +
                          " says allow_takeover = false. Run 'zrep-agent failover " + req.fs() +
                          "' on " + config_.host + " instead");
  }
  if (!req.snapshot().empty()) {
    ZREP_RETURN_IF_ERROR(validate_snapshot_name(req.fs() + "@" + req.snapshot()));
  }
  if (!hooks_.takeover) return make_error(ErrorCode::kInternal, "takeover is not available");
  auto r = hooks_.takeover(req.fs(), req.snapshot(), session_.peer_name);
  if (!r) return r.error();
  peer::TakeoverReply reply;
  reply.set_result_json(*r);
  return reply;
}

void PeerService::note_requester(const peer::DescribeRequest& req, const props::PropMap& p) {
  // The peer masters its side of our pairing at a higher epoch than ours: it took over.
  if (!req.requester_is_master() || props::get(p, props::kMaster) != "yes") return;
  if (props::get(p, props::kDestHost) != session_.peer_name ||
      props::get(p, props::kDestFs) != req.requester_fs()) {
    return;
  }
  // Only a claim that could be true is looked into (the check itself judges it against local
  // state, Replicator::judge_peer_claim): one epoch up, never past kMaxEpoch.
  const uint64_t mine = std::max<uint64_t>(1, parse_epoch(props::get(p, props::kEpoch)));
  if (!is_plausible_epoch(req.requester_epoch()) || req.requester_epoch() != mine + 1) return;
  if (hooks_.check_later) {
    spdlog::warn("peer {} masters {} at epoch {}, above {} here: checking whether to step down",
                 session_.peer_name, req.requester_fs(), req.requester_epoch(),
                 props::get(p, props::kEpoch));
    hooks_.check_later(req.fs());
  }
}

}  // namespace zrep
