#include "agent/logic/role_switch.h"

#include <charconv>
#include <sstream>
#include <vector>

#include "agent/logic/zfs_names.h"
#include "common/host_name.h"

namespace zrep {
namespace {

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// "host:pool/fs" -> host, fs; both validated.
Status parse_endpoint_fs(std::string_view text, std::string& host, std::string& fs) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "expected HOST:FS, got '" + std::string(text) + "'");
  }
  host = std::string(text.substr(0, colon));
  fs = std::string(text.substr(colon + 1));
  if (!is_valid_host_name(host)) {
    return make_error(ErrorCode::kInvalidArgument, "'" + host + "' is not a valid host name");
  }
  return validate_dataset_name(fs);
}

}  // namespace

std::string format_journal(const SwitchJournal& j) {
  return "v1 epoch=" + std::to_string(j.epoch) + " old=" + j.old_host + ":" + j.old_fs +
         " new=" + j.new_host + ":" + j.new_fs + " base=" + std::to_string(j.base_guid);
}

Result<SwitchJournal> parse_journal(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kInvalidArgument,
                      "bad zrep:switch journal '" + text.substr(0, 200) + "': " + why);
  };
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  if (words.size() != 5 || words[0] != "v1") return bad("expected 'v1 epoch= old= new= base='");
  SwitchJournal j;
  const char* keys[] = {"epoch=", "old=", "new=", "base="};
  for (size_t i = 0; i < 4; ++i) {
    std::string_view w = words[i + 1];
    std::string_view key = keys[i];
    if (w.substr(0, key.size()) != key) return bad("expected " + std::string(key));
    std::string_view value = w.substr(key.size());
    if (i == 0 || i == 3) {
      auto v = parse_u64(value);
      if (!v) return bad(std::string(key) + " is not a number");
      (i == 0 ? j.epoch : j.base_guid) = *v;
    } else {
      Status s = i == 1 ? parse_endpoint_fs(value, j.old_host, j.old_fs)
                        : parse_endpoint_fs(value, j.new_host, j.new_fs);
      if (!s) return bad(s.message());
    }
  }
  if (j.epoch < 2) return bad("epoch must be at least 2");
  if (j.epoch > kMaxEpoch) return bad("epoch above " + std::to_string(kMaxEpoch));
  if (j.old_host == j.new_host) return bad("old and new master are the same host");
  return j;
}

uint64_t parse_epoch(const std::string& text) { return parse_u64(text).value_or(0); }

std::map<std::string, std::string> parse_record(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;) {
    if (auto eq = w.find('='); eq != std::string::npos) out[w.substr(0, eq)] = w.substr(eq + 1);
  }
  return out;
}

Recovery decide_recovery(const RecoveryInput& in) {
  const bool new_master_here = in.journal.new_host == in.host;
  if (in.local_epoch >= in.journal.epoch) {
    return new_master_here ? Recovery::kFinishAsNewMaster : Recovery::kFinishAsDestination;
  }
  if (new_master_here) return Recovery::kAbortHere;
  // No base yet: the master never got as far as sending the final snapshot, so the peer was
  // never asked to prepare, let alone commit. (A higher epoch there is a forced takeover,
  // which fencing handles once this host is a master again.)
  if (in.journal.base_guid == 0) return Recovery::kAbortAndUnfence;
  if (!in.peer_epoch) return Recovery::kWaitForPeer;
  return *in.peer_epoch >= in.journal.epoch ? Recovery::kFinishAsDestination
                                            : Recovery::kAbortAndUnfence;
}

const char* recovery_name(Recovery r) {
  switch (r) {
    case Recovery::kFinishAsNewMaster:
      return "finish as the new master";
    case Recovery::kFinishAsDestination:
      return "finish as the destination";
    case Recovery::kAbortHere:
      return "abort (stay the destination)";
    case Recovery::kAbortAndUnfence:
      return "abort (stay the master, writable again)";
    case Recovery::kWaitForPeer:
      return "wait for the peer (stay fenced)";
  }
  return "?";
}

Fence check_fence(uint64_t my_epoch, uint64_t peer_epoch, bool peer_is_master) {
  if (peer_epoch > my_epoch) return peer_is_master ? Fence::kDemote : Fence::kPeerAhead;
  if (peer_is_master && peer_epoch == my_epoch) return Fence::kBothMasters;
  return Fence::kOk;
}

bool is_plausible_epoch(uint64_t epoch) { return epoch >= 1 && epoch <= kMaxEpoch; }

Result<uint64_t> next_epoch(uint64_t epoch) {
  if (epoch >= kMaxEpoch) {
    return make_error(ErrorCode::kConflict,
                      "the epoch " + std::to_string(epoch) + " is at or above the limit " +
                          std::to_string(kMaxEpoch) +
                          "; no role change is made (an operator must look at zrep:epoch)");
  }
  return epoch + 1;
}

ClaimJudgement judge_claim(const PeerClaim& c, const std::vector<LocalSnap>& local) {
  if (c.peer_epoch <= c.my_epoch) return {};
  auto unbacked = [&](const std::string& why) {
    return ClaimJudgement{ClaimVerdict::kUnbacked,
                          c.peer_fs + " on " + c.peer_host + " claims epoch " +
                              std::to_string(c.peer_epoch) + " (" + std::to_string(c.my_epoch) +
                              " here), but " + why};
  };
  if (!is_plausible_epoch(c.peer_epoch) || c.peer_epoch != c.my_epoch + 1) {
    return unbacked("a takeover moves the epoch up by exactly one, never above " +
                    std::to_string(kMaxEpoch));
  }
  if (!c.peer_is_master) return {ClaimVerdict::kPeerAhead, ""};
  if (c.peer_src_host != c.peer_host || c.peer_src_fs != c.peer_fs ||
      c.peer_dest_host != c.here_host || c.peer_dest_fs != c.here_fs) {
    return unbacked("its pairing (" + c.peer_src_host + ":" + c.peer_src_fs + " -> " +
                    c.peer_dest_host + ":" + c.peer_dest_fs + ") is not this pairing reversed");
  }
  auto rec = parse_record(c.peer_takeover);
  if (c.peer_takeover.empty() || parse_epoch(rec["epoch"]) != c.peer_epoch ||
      rec["old"] != c.here_host + ":" + c.here_fs || rec["snapshot"].empty()) {
    return unbacked("it has no takeover record of this pairing at that epoch");
  }
  size_t at = local.size();
  for (size_t i = 0; i < local.size(); ++i) {
    if (c.takeover_guid != 0 && local[i].guid == c.takeover_guid) at = i;
  }
  if (at == local.size()) {
    return unbacked("the snapshot it took over at (" + rec["snapshot"] +
                    ") is not one this host sent");
  }
  for (size_t i = at + 1; i < local.size(); ++i) {
    if (local[i].sent) {
      return unbacked("it received a snapshot newer than the one it took over at (" +
                      rec["snapshot"] + ")");
    }
  }
  return {ClaimVerdict::kTakenOver, ""};
}

Status may_peer_lock(const std::string& peer, const std::string& fs, bool exists,
                     const props::PropMap& p, const std::string& here) {
  if (!exists) return Status::ok();
  const std::string src_host = props::get(p, props::kSrcHost);
  const std::string dest_host = props::get(p, props::kDestHost);
  const bool master = props::get(p, props::kMaster) == "yes";
  // Paired with the peer: it feeds this replica, or it is this master's standby (a master that
  // names the peer as its source is a split brain, which the sync then reports).
  if (src_host == peer || dest_host == peer) return Status::ok();
  if (!master && src_host.empty()) return Status::ok();  // not replicated at all
  return make_error(ErrorCode::kPermissionDenied,
                    fs + " on " + here + " is " +
                        (master ? "a master replicating to '" + dest_host + "'"
                                : "replicated from '" + src_host + "'") +
                        ", not paired with '" + peer + "'; " + peer + " may not lock it");
}

bool peer_lock_is_bounded(const props::PropMap& p) {
  return props::get(p, props::kMaster) == "yes";
}

std::string kept_aside_name(const std::string& fs, uint64_t epoch) {
  return fs + "-kept-e" + std::to_string(epoch);
}

std::string kept_snapshot_name(const std::string& fs, uint64_t epoch) {
  return fs + "@zrep-kept-e" + std::to_string(epoch);
}

}  // namespace zrep
