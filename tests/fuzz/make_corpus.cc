// Writes the seed corpora of the fuzz targets: real frames and messages as the agent encodes
// them. usage: fuzz_make_corpus DIR   (writes DIR/<target>/<name>; deploy/fuzz.sh --seeds)
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "agent/rpc/peer_session.h"
#include "proto/data_block.h"
#include "proto/frame.h"
#include "proto/peer.pb.h"
#include "receiver/stream_header.h"

using namespace zrep;
namespace fs = std::filesystem;

namespace {

fs::path root;

void put(const std::string& target, const std::string& name, const std::vector<uint8_t>& b) {
  fs::create_directories(root / target);
  std::ofstream(root / target / name, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
void put(const std::string& target, const std::string& name, const std::string& s) {
  put(target, name, std::vector<uint8_t>(s.begin(), s.end()));
}

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

std::vector<uint8_t> frame(FrameType type, const std::vector<uint8_t>& payload) {
  auto h = encode_frame_header(type, static_cast<uint32_t>(payload.size()));
  std::vector<uint8_t> out(h.begin(), h.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::string text(size_t n) {
  std::string s;
  for (size_t i = 0; s.size() < n; ++i)
    s += "zfs send stream block " + std::to_string(i % 17) + "\n";
  s.resize(n);
  return s;
}

// DRR_BEGIN as zfs send writes it (little-endian host), cut to what the check reads.
std::vector<uint8_t> stream_header(uint64_t versioninfo, uint32_t flags, uint64_t to, uint64_t from,
                                   const char* name, bool swap) {
  std::vector<uint8_t> b(kStreamHeaderSize, 0);
  auto put32 = [&](size_t off, uint32_t v) {
    if (swap) v = __builtin_bswap32(v);
    std::memcpy(b.data() + off, &v, 4);
  };
  auto put64 = [&](size_t off, uint64_t v) {
    if (swap) v = __builtin_bswap64(v);
    std::memcpy(b.data() + off, &v, 8);
  };
  put32(0, 0);
  put64(8, 0x2F5bacbacULL);
  put64(16, versioninfo);
  put32(32, 2);
  put32(36, flags);
  put64(40, to);
  put64(48, from);
  std::memcpy(b.data() + 56, name, std::strlen(name));
  return b;
}

std::string ser(const google::protobuf::MessageLite& m) { return m.SerializeAsString(); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  root = argv[1];

  // data_block: stored, lz4, empty.
  std::vector<uint8_t> lz4, stored, empty;
  auto raw = bytes(text(4096));
  encode_block(raw, true, lz4);
  encode_block(bytes(text(300)), false, stored);
  encode_block({}, true, empty);
  put("data_block", "lz4-4k", lz4);
  put("data_block", "stored-300", stored);
  put("data_block", "empty", empty);
  std::vector<uint8_t> random(512);
  for (size_t i = 0; i < random.size(); ++i)
    random[i] = static_cast<uint8_t>(i * 2654435761u >> 13);
  std::vector<uint8_t> incompressible;
  encode_block(random, true, incompressible);
  put("data_block", "incompressible", incompressible);

  // stream_header: full, incremental, other byte order, compound, clone.
  put("stream_header", "full", stream_header(0x11, 0, 77, 0, "pool/fs@zrep_000000", false));
  put("stream_header", "incremental", stream_header(0x11, 0, 78, 77, "pool/fs@zrep_000001", false));
  put("stream_header", "big-endian", stream_header(0x11, 0, 78, 77, "pool/fs@zrep_000001", true));
  put("stream_header", "compound", stream_header(0x12, 0, 78, 77, "pool/fs@pkg", false));
  put("stream_header", "clone", stream_header(0x11, 1, 78, 77, "pool/clone@x", false));

  // peer_request: one message of each kind a peer sends.
  peer::Request r;
  r.set_id(1);
  r.mutable_describe()->set_fs("tank/backup/data");
  r.mutable_describe()->set_requester_fs("tank/data");
  put("peer_request", "describe", ser(r));
  const std::string describe = ser(r);
  r.Clear();
  r.set_id(2);
  auto* rr = r.mutable_receive();
  rr->set_dest_fs("tank/backup/data");
  rr->set_snapshot("zrep_000001");
  rr->set_guid(78);
  rr->set_base_guid(77);
  rr->set_sent_time(1700000000);
  auto* p = rr->mutable_pairing();
  p->set_src_fs("tank/data");
  p->set_src_host("alpha");
  p->set_dest_fs("tank/backup/data");
  p->set_dest_host("beta");
  p->set_savecount(5);
  p->set_epoch(3);
  put("peer_request", "receive", ser(r));
  r.Clear();
  r.set_id(3);
  r.mutable_lock()->set_fs("tank/backup/data");
  r.mutable_lock()->set_operation("failover");
  r.mutable_lock()->set_token("0123456789abcdef");
  put("peer_request", "lock", ser(r));
  r.Clear();
  r.set_id(4);
  r.mutable_mark_sent()->set_fs("tank/data");
  r.mutable_mark_sent()->add_guids(77);
  r.mutable_mark_sent()->add_guids(78);
  put("peer_request", "mark-sent", ser(r));
  r.Clear();
  r.set_id(5);
  r.mutable_takeover()->set_fs("tank/data");
  r.mutable_takeover()->set_snapshot("zrep_000001");
  put("peer_request", "takeover", ser(r));
  r.Clear();
  r.set_id(6);
  r.mutable_switch_step()->set_step(peer::SwitchRequest::PREPARE);
  r.mutable_switch_step()->set_fs("tank/backup/data");
  r.mutable_switch_step()->set_journal("epoch=4 base=78 by=alpha");
  put("peer_request", "switch", ser(r));
  peer::Reply reply;
  reply.set_id(1);
  reply.mutable_error()->set_code("conflict");
  reply.mutable_error()->set_message("tank/backup/data is locked by \x1b[31mbeta\x1b[0m\nforged");
  put("peer_request", "error-reply", ser(reply));
  reply.Clear();
  reply.set_id(1);
  auto* d = reply.mutable_describe();
  d->set_exists(true);
  (*d->mutable_props())["zrep:src-host"] = "alpha";
  auto* s = d->add_snapshots();
  s->set_name("zrep_000001");
  s->set_guid(78);
  s->set_createtxg(100);
  s->set_has_sent(true);
  s->set_sent(1700000000);
  put("peer_request", "describe-reply", ser(reply));
  peer::HelloReply hello;
  hello.mutable_hello()->set_protocol_version(kProtocolVersion);
  hello.mutable_hello()->set_host("beta");
  hello.mutable_hello()->set_agent_version(kAgentVersion);
  hello.mutable_hello()->set_instance_id("6f1c2a9e");
  put("peer_request", "hello-reply", ser(hello));

  // peer_dispatch: sequences of requests (2-byte length, then the message) against the
  // dispatcher's model of this host (tests/fuzz/peer_dispatch_fuzz.cc: alpha, peer beta).
  auto seq = [](const std::vector<peer::Request>& reqs) {
    std::string out;
    for (const auto& q : reqs) {
      std::string b = ser(q);
      out += static_cast<char>((b.size() >> 8) & 0xff);
      out += static_cast<char>(b.size() & 0xff);
      out += b;
    }
    return out;
  };
  auto req = [](uint64_t id) {
    peer::Request q;
    q.set_id(id);
    return q;
  };
  auto pairing = [](peer::Pairing* pp, const std::string& dest) {
    pp->set_src_fs("tank/data");
    pp->set_src_host("beta");
    pp->set_dest_fs(dest);
    pp->set_dest_host("alpha");
    pp->set_savecount(5);
    pp->set_epoch(3);
  };
  {
    std::vector<peer::Request> all;
    for (const char* fs : {"tank/backup/data", "tank/backup/unrelated", "tank/backup/gamma",
                           "tank/data", "tank/backup/new"}) {
      peer::Request q = req(all.size() + 1);
      q.mutable_describe()->set_fs(fs);
      q.mutable_describe()->set_requester_fs("tank/data");
      all.push_back(q);
    }
    put("peer_dispatch", "describe", seq(all));
  }
  {
    peer::Request lock = req(1);
    lock.mutable_lock()->set_fs("tank/backup/data");
    lock.mutable_lock()->set_operation("sync");
    lock.mutable_lock()->set_token("0123456789abcdef");
    peer::Request recv = req(2);
    auto* rq = recv.mutable_receive();
    rq->set_dest_fs("tank/backup/data");
    rq->set_snapshot("zrep_000003");
    rq->set_guid(103);
    rq->set_base_guid(102);
    rq->set_sent_time(1700001200);
    pairing(rq->mutable_pairing(), "tank/backup/data");
    peer::Request mark = req(3);
    mark.mutable_mark_sent()->set_fs("tank/backup/data");
    mark.mutable_mark_sent()->add_guids(101);
    mark.mutable_mark_sent()->add_guids(102);
    mark.mutable_mark_sent()->set_sent_time(1700001200);
    peer::Request expire = req(4);
    expire.mutable_expire()->set_fs("tank/backup/data");
    expire.mutable_expire()->set_keep_guid(102);
    put("peer_dispatch", "sync", seq({lock, recv, mark, expire}));
  }
  {
    // The attacks of the trust-boundary issue: adopt an unrelated dataset, init --force over
    // it, resume into another peer's replica, clear it, mark the master's operator snapshot.
    peer::Request pair = req(1);
    pair.mutable_pair()->set_dest_fs("tank/backup/unrelated");
    pairing(pair.mutable_pair()->mutable_pairing(), "tank/backup/unrelated");
    pair.mutable_pair()->add_sent_guids(201);
    peer::Request force = req(2);
    auto* f = force.mutable_receive();
    f->set_dest_fs("tank/backup/unrelated");
    f->set_snapshot("zrep_000001");
    f->set_guid(501);
    f->set_force(true);
    pairing(f->mutable_pairing(), "tank/backup/unrelated");
    peer::Request resume = req(3);
    auto* rs = resume.mutable_receive();
    rs->set_dest_fs("tank/backup/gamma");
    rs->set_snapshot("zrep_000002");
    rs->set_guid(402);
    rs->set_resume_token("1-abcdef-0123");
    pairing(rs->mutable_pairing(), "tank/backup/gamma");
    peer::Request clear = req(4);
    clear.mutable_clear()->set_fs("tank/backup/gamma");
    peer::Request mark = req(5);
    mark.mutable_mark_sent()->set_fs("tank/data");
    mark.mutable_mark_sent()->add_guids(303);
    mark.mutable_mark_sent()->add_guids(302);
    mark.mutable_mark_sent()->add_guids(302);
    peer::Request init = req(6);
    auto* in = init.mutable_receive();
    in->set_dest_fs("tank/backup/new");
    in->set_snapshot("zrep_000001");
    in->set_guid(601);
    pairing(in->mutable_pairing(), "tank/backup/new");
    put("peer_dispatch", "attacks", seq({pair, force, resume, clear, mark, init}));
  }
  {
    peer::Request lock = req(1);
    lock.mutable_lock()->set_fs("tank/data");
    lock.mutable_lock()->set_operation("failover");
    lock.mutable_lock()->set_token("feedface");
    peer::Request step = req(2);
    step.mutable_switch_step()->set_step(peer::SwitchRequest::PREPARE);
    step.mutable_switch_step()->set_fs("tank/backup/data");
    step.mutable_switch_step()->set_journal("epoch=4 base=102 by=beta");
    peer::Request take = req(3);
    take.mutable_takeover()->set_fs("tank/data");
    take.mutable_takeover()->set_snapshot("zrep_000001");
    put("peer_dispatch", "switch", seq({lock, step, take}));
  }

  // frame: what a session carries, one stream of frames each.
  put("frame", "control", frame(FrameType::kControl, bytes(describe)));
  put("frame", "data-lz4", frame(FrameType::kData, lz4));
  DataEnd end;
  end.total_bytes = 4096;
  for (size_t i = 0; i < end.sha256.size(); ++i) end.sha256[i] = static_cast<uint8_t>(i);
  put("frame", "data-end", frame(FrameType::kDataEnd, encode_data_end(end)));
  put("frame", "abort", frame(FrameType::kDataAbort, bytes("receiver out of space")));
  std::vector<uint8_t> session = frame(FrameType::kControl, bytes(describe));
  for (const auto& f : {frame(FrameType::kData, lz4), frame(FrameType::kData, stored),
                        frame(FrameType::kDataEnd, encode_data_end(end))}) {
    session.insert(session.end(), f.begin(), f.end());
  }
  put("frame", "stream", session);

  // config: the shipped example and small variants.
  put("config", "minimal",
      "host = \"alpha\"\nlisten = \"127.0.0.1:7450\"\n[tls]\nca = \"/ca.crt\"\ncert = "
      "\"/a.crt\"\nkey = \"/a.key\"\n[[peer]]\nname = \"beta\"\naddress = \"beta:7450\"\n"
      "datasets = [\"tank/backup\"]\n");
  put("config", "schedule",
      "host = \"beta\"\nlisten = \"[::1]:7450\"\nsync_interval = 60\nmax_unsent = 2\nmin_free = "
      "\"1G\"\nmax_backoff = 900\nheartbeat_interval = 10\n[tls]\nca = \"/ca.crt\"\ncert = "
      "\"/b.crt\"\nkey = \"/b.key\"\n[[peer]]\nname = \"alpha\"\ndatasets = []\n[[filesystem]]\n"
      "name = \"tank/data\"\ninterval = 10\nraw = true\n");
  return 0;
}
