#include "agent/logic/records.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <string_view>

#include "agent/logic/role_switch.h"
#include "agent/logic/zfs_names.h"
#include "common/host_name.h"

namespace zrep {
namespace {

using Words = std::map<std::string, std::string>;

std::string word(const Words& w, const std::string& key) {
  auto it = w.find(key);
  return it == w.end() ? std::string() : it->second;
}

int64_t parse_time(const std::string& text) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc() && p == text.data() + text.size() ? v : 0;
}

// A number exactly as std::to_string writes it.
std::optional<uint64_t> parse_canonical(const std::string& text) {
  const uint64_t v = parse_epoch(text);
  if (std::to_string(v) != text) return std::nullopt;
  return v;
}

}  // namespace

uint64_t effective_epoch(const props::PropMap& p) {
  return std::max<uint64_t>(1, recorded_epoch(p));
}

uint64_t recorded_epoch(const props::PropMap& p) {
  return parse_epoch(props::get(p, props::kEpoch));
}

std::string format_fenced(const FenceRecord& r) {
  return "epoch=" + std::to_string(r.epoch) + " by=" + r.by + " peer_fs=" + r.peer_fs +
         " at=" + std::to_string(r.at) + " common=" + r.common +
         " written=" + std::to_string(r.written) + " kept=" + r.kept;
}

FenceRecord parse_fenced(const std::string& text) {
  const Words w = parse_record(text);
  FenceRecord r;
  r.epoch = parse_epoch(word(w, "epoch"));
  r.by = word(w, "by");
  r.peer_fs = word(w, "peer_fs");
  r.at = parse_time(word(w, "at"));
  r.common = word(w, "common");
  r.written = parse_epoch(word(w, "written"));
  r.kept = word(w, "kept");
  return r;
}

Status check_fenced(const FenceRecord& r) {
  if (r.epoch == 0 || !is_valid_host_name(r.by) || !validate_dataset_name(r.peer_fs)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a zrep:fenced record needs epoch=, by=HOST and peer_fs=FS");
  }
  return Status::ok();
}

std::string format_takeover(const TakeoverRecord& r) {
  return "forced at=" + std::to_string(r.at) + " epoch=" + std::to_string(r.epoch) +
         " old=" + r.old_host + ":" + r.old_fs + " snapshot=" + r.snapshot;
}

Result<TakeoverRecord> parse_takeover(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kInvalidArgument,
                      "bad zrep:takeover record '" + text.substr(0, 200) + "': " + why);
  };
  const Words w = parse_record(text);
  TakeoverRecord r;
  r.at = parse_time(word(w, "at"));
  r.epoch = parse_epoch(word(w, "epoch"));
  r.snapshot = word(w, "snapshot");
  const std::string old = word(w, "old");
  const auto colon = old.find(':');
  if (r.epoch < 2 || colon == std::string::npos) return bad("expected epoch>=2 and old=HOST:FS");
  r.old_host = old.substr(0, colon);
  r.old_fs = old.substr(colon + 1);
  if (Status s = validate_dataset_name(r.old_fs); !s) return bad(s.message());
  if (!is_valid_host_name(r.old_host)) return bad("'" + r.old_host + "' is not a valid host name");
  return r;
}

std::string format_receiving(const ReceivingRecord& r) {
  return "snap=" + r.snap + " guid=" + std::to_string(r.guid) +
         " base=" + std::to_string(r.base_guid);
}

std::optional<ReceivingRecord> parse_receiving(const std::string& text) {
  const Words w = parse_record(text);
  if (!w.contains("snap")) return std::nullopt;
  auto guid = parse_canonical(word(w, "guid"));
  auto base = parse_canonical(word(w, "base"));
  if (!guid || !base) return std::nullopt;
  return ReceivingRecord{word(w, "snap"), *guid, *base};
}

std::string format_kept(const KeptRecord& r) {
  return "aside=" + r.aside + " epoch=" + std::to_string(r.epoch) + " base=" + r.base +
         " at=" + std::to_string(r.at);
}

std::optional<KeptRecord> parse_kept(const std::string& text) {
  const Words w = parse_record(text);
  if (!w.contains("aside")) return std::nullopt;
  return KeptRecord{word(w, "aside"), parse_epoch(word(w, "epoch")), word(w, "base"),
                    parse_time(word(w, "at"))};
}

PairingRecord pairing_of(const props::PropMap& p) {
  auto text = [&p](const char* key) -> std::optional<std::string> {
    auto it = p.find(key);
    if (it == p.end()) return std::nullopt;
    return it->second;
  };
  return PairingRecord{props::get(p, props::kSrcFs),  props::get(p, props::kSrcHost),
                       props::get(p, props::kDestFs), props::get(p, props::kDestHost),
                       text(props::kSavecount),       text(props::kEpoch)};
}

}  // namespace zrep
