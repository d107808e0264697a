// The peer request dispatcher (agent/endpoint/peer_service.h) end to end, with a recording ZFS
// adapter: a sequence of peer::Request messages from a hostile, authenticated peer ("beta") goes
// through PeerService::serve as control frames, and every zfs command the service runs is
// answered from a small in-memory model of this host's datasets and recorded.
//
// The input: up to 8 requests, each a 2-byte big-endian length and that many bytes of a
// serialized peer::Request (tests/fuzz/make_corpus.cc writes seeds with the model's names and
// GUIDs). Invariants, after every input:
//   - nothing the peer does not own changes: no command that modifies ZFS names a dataset
//     outside beta's allowance, an unmanaged dataset inside it (tank/backup/unrelated), another
//     peer's replica (tank/backup/gamma), or a snapshot the operator made (@operator-keep);
//   - on the master of a pairing with beta (tank/data), nothing is destroyed, rolled back or
//     renamed, and no property other than zrep's marks on its snapshots is set;
//   - every frame the service writes is a control frame holding a peer::Reply to one of the
//     requests (or the abort of a receive's stream), within the control frame size.
// Sends and receives would start zfs programs: the model's `zfs` for them is /bin/false, so a
// receive that gets past every check fails at once.
#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "agent/endpoint/peer_service.h"
#include "agent/logic/lock_table.h"
#include "agent/rpc/net.h"
#include "agent/rpc/peer_session.h"
#include "agent/zfs/zfs.h"
#include "proto/frame.h"
#include "tests/fuzz/fuzz_util.h"

using namespace zrep;

namespace {

struct Snap {
  std::string name;  // the part after '@'
  uint64_t guid = 0;
  uint64_t txg = 0;
  std::string sent;  // zrep:sent, "" when unset
};

struct Dataset {
  std::map<std::string, std::string> props;  // locally set
  std::vector<Snap> snaps;
};

// This host ("alpha") as the fuzzed peer finds it.
std::map<std::string, Dataset> scenario() {
  std::map<std::string, Dataset> m;
  m["tank"] = {};
  m["tank/backup"] = {};
  m["tank/backup/data"] = {
      {{"zrep:src-host", "beta"},
       {"zrep:src-fs", "tank/data"},
       {"zrep:dest-host", "alpha"},
       {"zrep:dest-fs", "tank/backup/data"},
       {"zrep:epoch", "3"},
       {"readonly", "on"}},
      {{"zrep_000001", 101, 10, "1700000000"}, {"zrep_000002", 102, 20, "1700000600"}}};
  m["tank/backup/unrelated"] = {{}, {{"operator-keep", 201, 15, ""}}};
  m["tank/backup/gamma"] = {{{"zrep:src-host", "gamma"},
                             {"zrep:src-fs", "tank/g"},
                             {"zrep:dest-host", "alpha"},
                             {"zrep:dest-fs", "tank/backup/gamma"},
                             {"zrep:epoch", "1"},
                             {"readonly", "on"}},
                            {{"zrep_000001", 401, 12, "1700000000"}}};
  m["tank/data"] = {{{"zrep:master", "yes"},
                     {"zrep:src-host", "alpha"},
                     {"zrep:src-fs", "tank/data"},
                     {"zrep:dest-host", "beta"},
                     {"zrep:dest-fs", "tank/backup/data"},
                     {"zrep:epoch", "3"}},
                    {{"zrep_000001", 301, 11, "1700000000"},
                     {"zrep_000002", 302, 21, ""},
                     {"operator-keep", 303, 22, ""}}};
  return m;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

bool within(const std::string& name, const std::string& root) {
  return name == root ||
         (name.size() > root.size() && name.compare(0, root.size(), root) == 0 &&
          (name[root.size()] == '/' || name[root.size()] == '@' || name[root.size()] == '#'));
}

ProcessOutput answer(int code, std::string out, std::string err = "") {
  ProcessOutput p;
  p.exit_code = code;
  p.out = std::move(out);
  p.err = std::move(err);
  return p;
}

// The recording ZFS adapter: answers from the model, records every command.
class FakeZfs {
 public:
  std::map<std::string, Dataset> model = scenario();
  std::vector<std::vector<std::string>> commands;

  Result<ProcessOutput> run(const std::vector<std::string>& argv) {
    commands.push_back(argv);
    if (argv.size() < 2) return answer(0, "");
    const std::string& cmd = argv[1];
    const std::string& last = argv.back();
    if (argv[0] == "mount") return answer(0, "");
    if (cmd == "version") return answer(0, "zfs-2.3.2-1\nzfs-kmod-2.3.2-1\n");
    if (cmd == "list") {
      for (const auto& a : argv)
        if (a == "bookmark") return answer(0, "");
      if (!exists(last)) return missing(last);
      std::string out;
      bool recursive = false;
      for (const auto& a : argv) recursive = recursive || a == "-r";
      for (const auto& [name, ds] : model)
        if (recursive ? within(name, last) : name == last) out += name + "\n";
      return answer(0, out);
    }
    if (cmd == "get") return get(argv);
    if (cmd == "send") return answer(1, "", "cannot resume send: invalid resume token\n");
    // Everything else changes ZFS: apply what the model can show.
    const std::string target = last;
    if (cmd == "set" && argv.size() >= 4) {
      auto eq = argv[2].find('=');
      if (eq != std::string::npos) set_prop(target, argv[2].substr(0, eq), argv[2].substr(eq + 1));
    } else if (cmd == "inherit" && argv.size() >= 4) {
      auto it = model.find(target);
      if (it != model.end()) it->second.props.erase(argv[2]);
    } else if (cmd == "snapshot") {
      auto at = target.find('@');
      auto it = at == std::string::npos ? model.end() : model.find(target.substr(0, at));
      if (it != model.end())
        it->second.snaps.push_back(
            {target.substr(at + 1), 900 + commands.size(), 100 + commands.size(), ""});
    } else if (cmd == "destroy") {
      auto at = target.find('@');
      if (at != std::string::npos) {
        auto it = model.find(target.substr(0, at));
        if (it != model.end()) {
          auto& snaps = it->second.snaps;
          std::erase_if(snaps, [&](const Snap& s) { return s.name == target.substr(at + 1); });
        }
      } else {
        std::erase_if(model, [&](const auto& kv) { return within(kv.first, target); });
      }
    }
    return answer(0, "");
  }

 private:
  bool exists(const std::string& name) const {
    auto at = name.find('@');
    auto it = model.find(name.substr(0, at));
    if (it == model.end()) return false;
    if (at == std::string::npos) return true;
    for (const auto& s : it->second.snaps)
      if (s.name == name.substr(at + 1)) return true;
    return false;
  }
  static ProcessOutput missing(const std::string& name) {
    return answer(1, "", "cannot open '" + name + "': dataset does not exist\n");
  }
  void set_prop(const std::string& target, const std::string& prop, const std::string& value) {
    auto at = target.find('@');
    auto it = model.find(target.substr(0, at));
    if (it == model.end()) return;
    if (at == std::string::npos) {
      it->second.props[prop] = value;
      return;
    }
    for (auto& s : it->second.snaps)
      if (s.name == target.substr(at + 1) && prop == "zrep:sent") s.sent = value;
  }

  ProcessOutput get(const std::vector<std::string>& argv) {
    // get -H -p [-s SOURCES] -o FIELDS PROPS [-d 1] DATASET
    std::string fields, props;
    bool depth = false;
    for (size_t i = 2; i + 1 < argv.size(); ++i) {
      if (argv[i] == "-o") fields = argv[i + 1];
      if (argv[i] == "-d") depth = true;
    }
    for (size_t i = 2; i + 1 < argv.size(); ++i) {
      if (argv[i] == "-o" || argv[i] == "-s" || argv[i] == "-d") {
        ++i;
        continue;
      }
      if (!argv[i].empty() && argv[i][0] != '-') {
        props = argv[i];
        break;
      }
    }
    const std::string& target = argv.back();
    if (!exists(target)) return missing(target);
    std::string out;
    if (depth) {  // the snapshot listing: name, property, value
      const Dataset& ds = model.at(target);
      for (const auto& s : ds.snaps) {
        const std::string n = target + "@" + s.name;
        out += n + "\tguid\t" + std::to_string(s.guid) + "\n";
        out += n + "\tcreatetxg\t" + std::to_string(s.txg) + "\n";
        out += n + "\tcreation\t" + std::to_string(1700000000 + s.txg) + "\n";
        out += n + "\tzrep:sent\t" + (s.sent.empty() ? "-" : s.sent) + "\n";
      }
      return answer(0, out);
    }
    auto at = target.find('@');
    const Dataset& ds = model.at(target.substr(0, at));
    const bool with_name = fields.rfind("name,", 0) == 0;
    for (const std::string& p : split(props, ',')) {
      std::string value = "-", source = "-";
      auto it = ds.props.find(p);
      if (at == std::string::npos && it != ds.props.end()) {
        value = it->second;
        source = "local";
      } else if (p == "type") {
        value = at == std::string::npos ? "filesystem" : "snapshot";
        source = "-";
      } else if (p == "available") {
        value = "1000000000";
      } else if (p == "mounted") {
        value = "yes";
      } else if (p == "mountpoint") {
        value = "/" + target;
        source = "default";
      } else if (p == "guid" && at != std::string::npos) {
        for (const auto& s : ds.snaps)
          if (s.name == target.substr(at + 1)) value = std::to_string(s.guid);
      }
      out += (with_name ? target + "\t" : "") + p + "\t" + value + "\t" + source + "\n";
    }
    return answer(0, out);
  }
};

const Config& fuzz_config() {
  static const Config cfg = [] {
    Config c;
    c.source = "fuzz.toml";
    c.host = "alpha";
    c.peers.push_back({"beta", std::nullopt, {"tank/backup", "tank/data"}});
    c.peers.push_back({"gamma", std::nullopt, {"tank/backup/gamma"}});
    c.session_idle_timeout = std::chrono::seconds(1);
    return c;
  }();
  return cfg;
}

// Framing into a string.
class Sink : public ByteStream {
 public:
  Status write_all(std::span<const uint8_t> data) override {
    bytes.append(reinterpret_cast<const char*>(data.data()), data.size());
    return Status::ok();
  }
  Status read_exact(std::span<uint8_t>, std::chrono::milliseconds) override {
    return make_error(ErrorCode::kUnavailable, "write only");
  }
  bool readable_now() override { return false; }
  void close() override {}
  std::string bytes;
};

bool modifies(const std::vector<std::string>& argv) {
  if (!argv.empty() && argv[0] == "mount") return true;
  if (argv.size() < 2) return false;
  static const std::set<std::string> reads = {"version", "list", "get", "send"};
  return reads.count(argv[1]) == 0;
}

void check_commands(const FakeZfs& fake) {
  static const std::map<std::string, Dataset> before = scenario();
  for (const auto& argv : fake.commands) {
    if (!modifies(argv)) continue;
    const std::string& cmd = argv[1];
    if (cmd == "destroy") {
      // Only zrep's own snapshots, or a filesystem a failed init made: never one that was here.
      const std::string& what = argv.back();
      if (what.find('@') != std::string::npos) {
        ZREP_FUZZ_CHECK(what.find("@zrep_") != std::string::npos);
      } else {
        ZREP_FUZZ_CHECK(before.count(what) == 0);
      }
    }
    for (size_t i = 2; i < argv.size(); ++i) {
      const std::string& a = argv[i];
      if (a.rfind("tank", 0) != 0 && a.find("/tank") == std::string::npos) continue;
      std::string name = a.substr(a.find('=') == std::string::npos ? 0 : a.find('=') + 1);
      if (name.rfind("/", 0) == 0) name = name.substr(1);  // a mountpoint
      ZREP_FUZZ_CHECK(within(name, "tank/backup") || within(name, "tank/data"));
      ZREP_FUZZ_CHECK(name != "tank/backup");  // the folder of replicas itself is no replica
      ZREP_FUZZ_CHECK(!within(name, "tank/backup/unrelated"));
      ZREP_FUZZ_CHECK(!within(name, "tank/backup/gamma"));
      ZREP_FUZZ_CHECK(name.find("@operator-keep") == std::string::npos);
      if (within(name, "tank/data")) {
        // The master: only zrep:sent marks on its snapshots (MarkSent).
        ZREP_FUZZ_CHECK(cmd == "set" && name.find('@') != std::string::npos &&
                        argv[2].rfind("zrep:sent=", 0) == 0);
      }
    }
  }
}

void check_replies(const std::string& out, const std::set<uint64_t>& ids) {
  fuzz::InputStream in(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(out.data()), out.size()));
  FrameChannel channel(in);
  for (;;) {
    auto frame = channel.read_frame(std::chrono::milliseconds(0));
    if (!frame) break;
    ZREP_FUZZ_CHECK(frame->payload.size() <= kMaxControlPayload);
    if (frame->type == FrameType::kDataAbort) continue;  // a receive gives up on its stream
    ZREP_FUZZ_CHECK(frame->type == FrameType::kControl);
    peer::Reply reply;
    ZREP_FUZZ_CHECK(
        reply.ParseFromArray(frame->payload.data(), static_cast<int>(frame->payload.size())));
    ZREP_FUZZ_CHECK(ids.count(reply.id()) != 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // The service logs every refusal, protobuf every string that is not UTF-8: both are noise
  // here, and slow.
  spdlog::set_level(spdlog::level::off);
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Requests from the input, framed as the peer would send them.
  Sink framed;
  FrameChannel writer(framed);
  std::set<uint64_t> ids;
  size_t pos = 0;
  for (int n = 0; n < 8 && pos + 2 <= size; ++n) {
    size_t len = (size_t{data[pos]} << 8) | data[pos + 1];
    pos += 2;
    len = std::min(len, size - pos);
    peer::Request req;
    if (req.ParseFromArray(data + pos, static_cast<int>(len))) {
      ids.insert(req.id());
      (void)send_message(writer, req);
    }
    pos += len;
  }
  if (ids.empty()) return 0;

  FakeZfs fake;
  Zfs::Options options;
  options.zfs_program = "/bin/false";
  options.runner = [&fake](const std::vector<std::string>& argv, std::chrono::milliseconds) {
    return fake.run(argv);
  };
  auto zfs = Zfs::probe(options);
  ZREP_FUZZ_CHECK(zfs.is_ok());

  fuzz::InputStream stream(std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(framed.bytes.data()), framed.bytes.size()));
  PeerSession session;
  session.channel = std::make_unique<FrameChannel>(stream);
  session.peer_name = "beta";
  session.peer_hello.set_host("beta");
  session.peer_hello.set_instance_id("fuzz");
  LockTable locks("alpha");
  PeerHooks hooks;
  hooks.locks = &locks;
  hooks.takeover = [](const std::string&, const std::string&,
                      const std::string&) -> Result<FailoverOutcome> {
    return make_error(ErrorCode::kUnavailable, "no takeover while fuzzing");
  };
  hooks.check_later = [](const std::string&) {};
  {
    PeerService service(fuzz_config(), *zfs, session, hooks);
    (void)service.serve();
  }
  check_commands(fake);
  check_replies(stream.output(), ids);
  return 0;
}
