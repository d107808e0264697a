// The peer request layer (agent/endpoint/peer_service.h), without ZFS: what a peer's control frame
// turns into before any zfs command runs. The input is one protobuf message as a peer sends it:
//   - as a peer::Request (the dispatcher's input): every name in it goes through the name
//     validation (agent/logic/zfs_names.h) and `authorize` against a fixed [[peer]] allowance, as
//     PeerService does first for each request; snapshots from the wire are converted;
//   - as a peer::Reply, peer::HelloReply and peer::LinkMessage (what a dialling agent reads):
//     errors become a Status (from_wire), Hellos are checked (check_hello), and all peer text is
//     sanitized (common/sanitize.h) and must come out printable.
// The dispatcher itself (PeerService::handle) runs zfs programs through the concrete Zfs
// adapter; fuzzing it needs an injectable (recording) adapter, which this target does not have.
#include <cstdint>
#include <string>

#include "agent/config/config.h"
#include "agent/endpoint/peer_service.h"
#include "agent/logic/zfs_names.h"
#include "agent/rpc/link.h"
#include "agent/rpc/peer_session.h"
#include "common/sanitize.h"
#include "tests/fuzz/fuzz_util.h"

using namespace zrep;

namespace {

const Config& fuzz_config() {
  static const Config cfg = [] {
    Config c;
    c.source = "fuzz.toml";
    c.host = "alpha";
    c.peers.push_back({"beta", std::nullopt, {"tank/backup", "tank/data"}});
    c.peers.push_back({"gamma", std::nullopt, {}});
    return c;
  }();
  return cfg;
}

void check_printable(const std::string& s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    ZREP_FUZZ_CHECK(u >= 0x20 && u != 0x7F);
  }
}

void check_text(const std::string& s) {
  std::string out = sanitize_peer_text(s);
  check_printable(out);
  ZREP_FUZZ_CHECK(out.size() <= kMaxPeerTextBytes + 32);
  // Already safe text is left alone.
  std::string twice = sanitize_peer_text(out, out.size());
  ZREP_FUZZ_CHECK(twice == out);
}

// What PeerService does with a dataset name from a peer before anything else.
void check_dataset(const std::string& fs) {
  Status valid = validate_dataset_name(fs);
  if (!valid) return;
  for (const char* peer : {"beta", "gamma", "nobody"}) {
    Status ok = authorize(fuzz_config(), peer, fs);
    if (ok) {
      ZREP_FUZZ_CHECK(std::string(peer) == "beta");
      ZREP_FUZZ_CHECK(dataset_within(fs, "tank/backup") || dataset_within(fs, "tank/data"));
    }
  }
}

void check_snapshot_part(const std::string& fs, const std::string& snap) {
  std::string full = fs + "@" + snap;
  if (validate_snapshot_name(full)) {
    ZREP_FUZZ_CHECK(dataset_of(full) == fs && snap_part_of(full) == snap);
  }
  if (auto seq = parse_zrep_snap(snap)) {
    ZREP_FUZZ_CHECK(*seq <= kMaxZrepSeq && format_zrep_snap(*seq) == snap);
  }
}

void check_request(const peer::Request& req) {
  switch (req.body_case()) {
    case peer::Request::kDescribe:
      check_dataset(req.describe().fs());
      check_dataset(req.describe().requester_fs());
      break;
    case peer::Request::kMarkSent:
      check_dataset(req.mark_sent().fs());
      break;
    case peer::Request::kExpire:
      check_dataset(req.expire().fs());
      break;
    case peer::Request::kClear:
      check_dataset(req.clear().fs());
      break;
    case peer::Request::kPair: {
      check_dataset(req.pair().dest_fs());
      const auto& p = req.pair().pairing();
      check_dataset(p.src_fs());
      check_dataset(p.dest_fs());
      check_text(p.src_host());
      check_text(p.dest_host());
      break;
    }
    case peer::Request::kReceive: {
      const auto& r = req.receive();
      check_dataset(r.dest_fs());
      check_snapshot_part(r.dest_fs(), r.snapshot());
      check_dataset(r.pairing().src_fs());
      check_text(r.pairing().src_host());
      check_text(r.resume_token());
      break;
    }
    case peer::Request::kLock:
      check_dataset(req.lock().fs());
      check_text(req.lock().operation());
      check_text(req.lock().token());
      break;
    case peer::Request::kSwitchStep:
      check_dataset(req.switch_step().fs());
      check_text(req.switch_step().journal());
      break;
    case peer::Request::kTakeover:
      check_dataset(req.takeover().fs());
      check_snapshot_part(req.takeover().fs(), req.takeover().snapshot());
      break;
    default:
      break;
  }
}

void check_reply(const peer::Reply& reply) {
  if (reply.has_error()) {
    Error e = from_wire(reply.error(), "beta");
    check_printable(e.message);
  }
  if (reply.has_describe()) {
    auto snaps = from_wire("tank/backup/data", reply.describe().snapshots());
    for (const auto& s : snaps)
      check_snapshot_part("tank/backup/data", std::string(snap_part_of(s.name)));
    google::protobuf::RepeatedPtrField<peer::Snapshot> wire;
    to_wire(snaps, &wire);
    ZREP_FUZZ_CHECK(wire.size() == reply.describe().snapshots().size());
    for (const auto& [k, v] : reply.describe().props()) {
      check_text(k);
      check_text(v);
    }
  }
  if (reply.has_receive()) check_text(reply.receive().replaced_as());
  if (reply.has_takeover()) {
    const peer::TakeoverReply& t = reply.takeover();
    for (const std::string* s : {&t.fs(), &t.old_master(), &t.new_master(), &t.new_master_fs(),
                                 &t.snapshot(), &t.newer_kept_in()}) {
      check_text(*s);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int n = static_cast<int>(size);
  peer::Request req;
  if (req.ParseFromArray(data, n)) {
    check_request(req);
    // A reply to it stays within what a control frame may carry or is replaced (as handle does).
    peer::Reply reply;
    reply.set_id(req.id());
    *reply.mutable_error() = to_wire(make_error(ErrorCode::kProtocol, "fuzz"));
    std::string out;
    ZREP_FUZZ_CHECK(reply.SerializeToString(&out));
  }
  peer::Reply reply;
  if (reply.ParseFromArray(data, n)) check_reply(reply);
  peer::HelloReply hello;
  if (hello.ParseFromArray(data, n)) {
    if (hello.has_error()) check_printable(from_wire(hello.error(), "beta").message);
    Status s = check_hello(hello.hello(), "beta");
    if (!s) check_printable(s.message());
  }
  peer::LinkMessage link;
  if (link.ParseFromArray(data, n)) {
    if (link.has_session_wanted()) (void)valid_link_nonce(link.session_wanted().nonce());
    if (link.has_session_refused()) check_text(link.session_refused().reason());
  }
  return 0;
}
