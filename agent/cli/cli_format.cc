#include "agent/cli/cli_format.h"

#include "agent/logic/records.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <vector>

namespace zrep {
namespace {

using nlohmann::json;

std::string str(const json& j, const char* key, const char* fallback = "-") {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (j[key].is_string())
    return j[key].get<std::string>().empty() ? fallback : j[key].get<std::string>();
  return j[key].dump();
}

// Left-aligned columns wide enough for every cell.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()));
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace

std::string human_bytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(kUnits)) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, kUnits[u]);
}

std::string human_duration(int64_t seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 60) return fmt::format("{}s", seconds);
  if (seconds < 3600) return fmt::format("{}m {}s", seconds / 60, seconds % 60);
  if (seconds < 86400) return fmt::format("{}h {}m", seconds / 3600, (seconds % 3600) / 60);
  return fmt::format("{}d {}h", seconds / 86400, (seconds % 86400) / 3600);
}

std::string format_init(const json& r) {
  if (r.is_array()) {  // init -R: one line per filesystem of the tree
    std::string out;
    for (const auto& one : r) out += format_init(one);
    return out;
  }
  if (r.value("adopted", false)) {
    return fmt::format(
        "{} -> {}:{}: the destination already held {} (an earlier init's answer was "
        "lost); adopted it, nothing sent\n",
        str(r, "fs"), str(r, "dest_host"), str(r, "dest_fs"), str(r, "snapshot"));
  }
  std::string replaced;
  if (!str(r, "replaced_as", "").empty()) {
    replaced = "the previous copy is kept as " + str(r, "replaced_as", "") +
               " (destroy it there when no longer needed)\n";
  }
  return replaced + fmt::format("{} -> {}:{}: sent {} ({} in {:.1f} s), GUID verified\n",
                                str(r, "fs"), str(r, "dest_host"), str(r, "dest_fs"),
                                str(r, "snapshot"), human_bytes(r.value("bytes", uint64_t{0})),
                                r.value("seconds", 0.0));
}

std::string format_sync(const json& results) {
  std::string out;
  for (const auto& r : results) {
    if (!r.value("ok", false)) {
      out += fmt::format("{}: FAILED: {}\n", str(r, "fs"), str(r, "error"));
      continue;
    }
    out += fmt::format("{} -> {}:{}: sent {} ({} in {:.2f} s), GUID verified\n", str(r, "fs"),
                       str(r, "dest_host"), str(r, "dest_fs"), str(r, "snapshot"),
                       human_bytes(r.value("bytes", uint64_t{0})), r.value("seconds", 0.0));
  }
  if (results.empty()) out = "nothing to sync: this host masters no zrep filesystem\n";
  return out;
}

std::string format_expire(const json& results) {
  std::string out;
  for (const auto& r : results) {
    size_t here = r.contains("destroyed") ? r["destroyed"].size() : 0;
    size_t there = r.contains("destroyed_on_peer") ? r["destroyed_on_peer"].size() : 0;
    out += fmt::format("{}: kept the newest {} zrep snapshots; destroyed {} here", str(r, "fs"),
                       str(r, "savecount"), here);
    if (r.contains("destroyed_on_peer")) out += fmt::format(", {} on the destination", there);
    out += "\n";
  }
  if (results.empty()) out = "no zrep filesystems on this host\n";
  return out;
}

std::string format_snapshot_list(const json& rows) {
  if (rows.empty()) return "no zrep snapshots\n";
  std::vector<std::vector<std::string>> t{{"SNAPSHOT", "GUID", "SENT"}};
  for (const auto& r : rows) {
    std::string sent = r["sent"].is_null() ? "no" : "yes";
    t.push_back({str(r, "snapshot"), str(r, "guid"), sent});
  }
  return table(t);
}

std::string format_list(const json& rows) {
  if (rows.empty()) return "no zrep filesystems on this host\n";
  std::vector<std::vector<std::string>> t{{"FILESYSTEM", "ROLE", "SOURCE", "DESTINATION"}};
  for (const auto& r : rows) {
    t.push_back({str(r, "fs"), str(r, "role"), str(r, "src_host") + ":" + str(r, "src_fs"),
                 str(r, "dest_host") + ":" + str(r, "dest_fs")});
  }
  return table(t);
}

std::string describe_fenced(const std::string& record, const std::string& fs) {
  // "epoch=5 by=beta peer_fs=... at=... common=zrep_000003 written=1234 kept=zrep-fenced-e5"
  const FenceRecord f = parse_fenced(record);
  return "peer " + f.by + " took over at epoch " + std::to_string(f.epoch) + "; " +
         std::to_string(f.written) + " bytes written here since the common snapshot " + f.common +
         " (kept in @" + f.kept + "). Run 'zrep-agent resync " + fs + "'";
}

std::string describe_kept(const std::string& record) {
  // "aside=pool/fs-kept-e3 epoch=3 base=zrep_000002 at=1700000000"
  const KeptRecord f = parse_kept(record).value_or(KeptRecord{});
  return "what this filesystem held after " + f.base + " when it failed over at it (epoch " +
         std::to_string(f.epoch) + ") is kept in " + f.aside +
         " (read-only, with its snapshots); destroy it when done, then 'zfs inherit zrep:kept' "
         "here";
}

std::string format_status(const json& rows, int64_t now) {
  if (rows.empty()) return "no zrep filesystems on this host\n";
  std::vector<std::vector<std::string>> t{
      {"FILESYSTEM", "ROLE", "PEER", "LAST SYNC", "LAG", "SNAPSHOT", "UNSENT", "NEXT", "STATE"}};
  for (const auto& r : rows) {
    std::string last = "never";
    if (r.contains("last_sync_time")) {
      last = human_duration(now - r["last_sync_time"].get<int64_t>()) + " ago";
    }
    std::string state = "ok";
    if (r.contains("fenced")) {
      state = "DEMOTED: " + describe_fenced(str(r, "fenced"), str(r, "fs"));
    } else if (r.contains("switch")) {
      state = "FAILOVER UNFINISHED (read-only until the agent resolves it): " + str(r, "switch");
    } else if (r.contains("running")) {
      state = "running " + str(r, "running");
    } else if (r.contains("lock")) {
      state = "locked by " + r["lock"].value("host", std::string()) + " for '" +
              r["lock"].value("operation", std::string()) + "' since " +
              human_duration(now - r["lock"].value("since", now)) + " ago";
    } else if (r.contains("last_error")) {
      state = "ERROR";
      if (r.contains("failures_in_a_row")) {
        state += " (" + str(r, "failures_in_a_row") + " in a row)";
      }
      state += ": " + str(r, "last_error");
    } else if (r.contains("kept")) {
      state = "KEPT: " + describe_kept(str(r, "kept"));
    } else if (r.contains("link") && r["link"].value("state", std::string()) == "down") {
      const json& l = r["link"];
      state = l.value("direction", std::string()) == "listens" ? "LINK DOWN: the peer must dial in"
                                                               : "LINK DOWN: cannot reach the peer";
      if (l.contains("down_since")) {
        state += " (since " + human_duration(now - l["down_since"].get<int64_t>()) + " ago)";
      }
      if (l.contains("error")) state += ": " + l["error"].get<std::string>();
    }
    std::string next = "-";
    if (r.contains("next_run")) {
      int64_t in = r["next_run"].get<int64_t>() - now;
      next = in <= 0 ? "now" : "in " + human_duration(in);
    }
    std::string snap = str(r, "last_synced_snapshot");
    if (auto at = snap.find('@'); at != std::string::npos) snap = snap.substr(at + 1);
    std::string lag =
        r.contains("lag_seconds") ? human_duration(r["lag_seconds"].get<int64_t>()) : "-";
    t.push_back({str(r, "fs"), str(r, "role"), str(r, "peer") + ":" + str(r, "peer_fs"), last, lag,
                 snap, str(r, "unsent_snapshots", "0"), next, state});
  }
  return table(t);
}

std::string format_failover(const json& r) {
  if (r.value("forced", false)) {
    return str(r, "fs") + " is now the master on " + str(r, "master") + " (epoch " +
           str(r, "epoch") + "), FORCED at " + str(r, "snapshot") + "; " + str(r, "old_master") +
           " demotes itself when its agent comes back, and keeps what it wrote meanwhile\n";
  }
  if (r.contains("kept_as")) {
    return str(r, "fs") + " is the standby of " + str(r, "master") + ":" + str(r, "master_fs") +
           " again, at " + str(r, "common_snapshot") + "; the data written here after the " +
           "takeover is kept in " + str(r, "kept_as") + " (read-only; destroy it when done)\n";
  }
  if (r.contains("new_master")) {
    std::string out = "failover done: " + str(r, "new_master") + ":" + str(r, "new_master_fs") +
                      " is the master now (epoch " + str(r, "epoch") + "), " +
                      str(r, "old_master") + ":" + str(r, "fs") +
                      " its read-only standby; common snapshot " + str(r, "snapshot") + "\n";
    if (r.contains("newer_kept_in")) {
      out += "what " + str(r, "fs") + " held after " + str(r, "snapshot") + " is kept on " +
             str(r, "old_master") + " in " + str(r, "newer_kept_in") +
             " (read-only; nothing was destroyed)\n";
    }
    return out;
  }
  return str(r, "fs") + " is the master on " + str(r, "master") + " (epoch " + str(r, "epoch") +
         ")\n";
}

}  // namespace zrep
