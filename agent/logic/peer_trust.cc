#include "agent/logic/peer_trust.h"

#include <fmt/format.h>

#include "agent/logic/zfs_names.h"

namespace zrep {
namespace {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return std::string(s.substr(b, e - b));
}

// "0x1a2b" (nvlist_print's uint64) or decimal.
std::optional<uint64_t> parse_number(const std::string& v) {
  if (v.empty() || v.size() > 20) return std::nullopt;
  size_t pos = 0;
  int base = 10;
  if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
    pos = 2;
    base = 16;
  }
  uint64_t out = 0;
  for (size_t i = pos; i < v.size(); ++i) {
    int d;
    char c = v[i];
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (base == 16 && c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    if (out > (UINT64_MAX - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) {
      return std::nullopt;
    }
    out = out * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  return out;
}

}  // namespace

PeerRelation relation_to_peer(const std::string& fs, const props::PropMap& p,
                              const std::string& peer) {
  const std::string master = props::get(p, props::kMaster);
  if (master == "yes") {
    return props::get(p, props::kDestHost) == peer ? PeerRelation::kMasterForPeer
                                                   : PeerRelation::kUnrelated;
  }
  if (peer.empty() || props::get(p, props::kSrcHost) != peer) return PeerRelation::kUnrelated;
  const std::string dest_fs = props::get(p, props::kDestFs);
  if (!dest_fs.empty() && dest_fs != fs) return PeerRelation::kUnrelated;
  return PeerRelation::kReplicaOfPeer;
}

bool paired_with_peer(const props::PropMap& p, const std::string& peer) {
  return !peer.empty() &&
         (props::get(p, props::kSrcHost) == peer || props::get(p, props::kDestHost) == peer);
}

Status check_replica_of_peer(const std::string& fs, const props::PropMap& p,
                             const std::string& peer, const std::string& host) {
  if (props::get(p, props::kMaster) == "yes") {
    return make_error(ErrorCode::kConflict,
                      fs + " is a master on " + host + "; it does not receive");
  }
  const std::string src_host = props::get(p, props::kSrcHost);
  if (src_host.empty()) {
    return make_error(ErrorCode::kPermissionDenied,
                      fs + " on " + host + " is not a zrep replica (no zrep:src-host); a peer " +
                          "never takes over a dataset zrep does not manage. To make it the " +
                          "destination of '" + peer + "', an operator on " + host +
                          " runs: zfs set zrep:src-host=" + peer + " " + fs);
  }
  if (src_host != peer) {
    return make_error(ErrorCode::kPermissionDenied, fs + " on " + host + " is replicated from '" +
                                                        src_host + "', not from '" + peer + "'");
  }
  const std::string dest_fs = props::get(p, props::kDestFs);
  if (!dest_fs.empty() && dest_fs != fs) {
    return make_error(ErrorCode::kPermissionDenied,
                      fs + " on " + host + " records zrep:dest-fs=" + dest_fs +
                          " (it was renamed or copied); it is not treated as a replica of '" +
                          peer + "' until an operator fixes or clears its zrep properties");
  }
  return Status::ok();
}

Status check_may_pair(const std::string& dest, const props::PropMap& p, const std::string& peer,
                      const std::string& src_fs, const std::string& host) {
  if (props::get(p, props::kMaster) == "yes") {
    return make_error(ErrorCode::kConflict,
                      dest + " is a master on " + host + "; it cannot become a destination");
  }
  ZREP_RETURN_IF_ERROR(check_replica_of_peer(dest, p, peer, host));
  const std::string recorded = props::get(p, props::kSrcFs);
  if (!recorded.empty() && recorded != src_fs) {
    return make_error(ErrorCode::kPermissionDenied, dest + " on " + host + " is the replica of " +
                                                        peer + ":" + recorded + ", not of " + peer +
                                                        ":" + src_fs);
  }
  return Status::ok();
}

bool may_destroy_after_failed_send(const FailedSendFacts& f) {
  if (!f.created_by_this_run) return false;
  auto at = f.snapshot.find('@');
  if (at == std::string::npos) return false;
  if (!parse_zrep_snap(std::string_view(f.snapshot).substr(at + 1))) return false;
  if (f.guid == 0 || f.guid == f.base_guid) return false;
  return !f.destination_has_partial && !f.destination_has_guid;
}

Result<ResumeTokenInfo> parse_resume_token_contents(std::string_view text) {
  auto start = text.find("resume token contents:");
  if (start == std::string_view::npos) {
    return make_error(ErrorCode::kProtocol, "no resume token contents in zfs's output");
  }
  text = text.substr(start);
  ResumeTokenInfo info;
  bool have_toguid = false, have_toname = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    auto eq = line.find(" = ");
    if (eq == std::string_view::npos) continue;
    const std::string key = trim(line.substr(0, eq));
    const std::string value = trim(line.substr(eq + 3));
    auto number = [&](uint64_t& out) -> Status {
      auto n = parse_number(value);
      if (!n) {
        return make_error(ErrorCode::kProtocol,
                          "resume token field " + key + " is not a number: " + value);
      }
      out = *n;
      return Status::ok();
    };
    if (key == "toguid") {
      if (have_toguid) return make_error(ErrorCode::kProtocol, "resume token names two toguids");
      ZREP_RETURN_IF_ERROR(number(info.toguid));
      have_toguid = true;
    } else if (key == "fromguid") {
      ZREP_RETURN_IF_ERROR(number(info.fromguid));
    } else if (key == "toname") {
      if (have_toname) return make_error(ErrorCode::kProtocol, "resume token names two tonames");
      info.toname = value;
      have_toname = true;
    } else if (key == "rawok") {
      info.raw = value != "0";
    } else if (key == "compressok") {
      info.compressed = value != "0";
    }
  }
  if (!have_toguid || !have_toname || info.toguid == 0) {
    return make_error(ErrorCode::kProtocol, "the resume token names no snapshot (toguid/toname)");
  }
  return info;
}

Status check_resume_token(const ResumeTokenInfo& t, const std::string& snapshot,
                          uint64_t snapshot_guid, uint64_t base_guid, bool raw) {
  auto refuse = [](const std::string& why) {
    return make_error(ErrorCode::kConflict, "the resume token " + why);
  };
  if (t.toguid != snapshot_guid || t.toname != snapshot) {
    return refuse(fmt::format("names {} (GUID {}), not the planned {} (GUID {})", t.toname,
                              t.toguid, snapshot, snapshot_guid));
  }
  if (t.fromguid != base_guid) {
    return refuse(
        fmt::format("starts from GUID {}, not the planned base {}", t.fromguid, base_guid));
  }
  if (t.raw != raw) {
    return refuse(raw ? "is not raw, and this pairing sends raw (the data would leave decrypted)"
                      : "is raw, and this pairing does not send raw");
  }
  return Status::ok();
}

}  // namespace zrep
