// Text for a person from the typed results (render.h). The JSON of --json is render_json.cc.
#include "agent/cli/render.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <vector>

#include "agent/cli/health.h"
#include "agent/logic/records.h"

namespace zrep {

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

std::string text_table(const std::vector<std::vector<std::string>>& rows) {
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

namespace {

std::string init_text(const control::Transfer& t) {
  if (t.adopted()) {
    return fmt::format(
        "{} -> {}:{}: the destination already held {} (an earlier init's answer was "
        "lost); adopted it, nothing sent\n",
        or_dash(t.fs()), or_dash(t.dest_host()), or_dash(t.dest_fs()), or_dash(t.snapshot()));
  }
  std::string replaced;
  if (!t.replaced_as().empty()) {
    replaced = "the previous copy is kept as " + t.replaced_as() +
               " (destroy it there when no longer needed)\n";
  }
  return replaced + fmt::format("{} -> {}:{}: sent {} ({} in {:.1f} s), GUID verified\n",
                                or_dash(t.fs()), or_dash(t.dest_host()), or_dash(t.dest_fs()),
                                or_dash(t.snapshot()), human_bytes(t.bytes()), t.seconds());
}

std::string transfer_text(const control::Transfer& t) {
  if (!t.ok()) return fmt::format("{}: FAILED: {}\n", or_dash(t.fs()), or_dash(t.error()));
  if (t.full()) return init_text(t);  // a filesystem new in a recursive tree: sent in full
  return fmt::format("{} -> {}:{}: sent {} ({} in {:.2f} s), GUID verified\n", or_dash(t.fs()),
                     or_dash(t.dest_host()), or_dash(t.dest_fs()), or_dash(t.snapshot()),
                     human_bytes(t.bytes()), t.seconds());
}

std::string init_text(const control::Transfers& r) {
  std::string out;
  for (const auto& t : r.transfers()) out += t.ok() ? init_text(t) : transfer_text(t);
  return out;
}

std::string sync_text(const control::Transfers& r) {
  if (r.transfers().empty()) return "nothing to sync: this host masters no zrep filesystem\n";
  std::string out;
  for (const auto& t : r.transfers()) out += transfer_text(t);
  return out;
}

std::string expire_text(const control::ExpireResult& r) {
  if (r.filesystems().empty()) return "no zrep filesystems on this host\n";
  std::string out;
  for (const auto& e : r.filesystems()) {
    out += fmt::format("{}: kept the newest {} zrep snapshots; destroyed {} here", or_dash(e.fs()),
                       e.savecount(), e.destroyed_size());
    if (e.on_peer()) out += fmt::format(", {} on the destination", e.destroyed_on_peer_size());
    out += "\n";
  }
  return out;
}

std::string snapshots_text(const control::SnapshotList& r) {
  if (r.snapshots().empty()) return "no zrep snapshots\n";
  std::vector<std::vector<std::string>> t{{"SNAPSHOT", "GUID", "SENT", "RETENTION"}};
  for (const auto& s : r.snapshots()) {
    t.push_back({or_dash(s.snapshot()), std::to_string(s.guid()), s.has_sent() ? "yes" : "no",
                 or_dash(s.retention())});
  }
  return text_table(t) + fmt::format("retention: savecount {}, grid {}\n", r.savecount(),
                                     r.grid().empty() ? "none" : r.grid());
}

std::string list_text(const control::ListResult& r) {
  if (r.pairings().empty()) return "no zrep filesystems on this host\n";
  std::vector<std::vector<std::string>> t{{"FILESYSTEM", "ROLE", "SOURCE", "DESTINATION"}};
  for (const auto& p : r.pairings()) {
    t.push_back({or_dash(p.fs()), or_dash(p.role()),
                 or_dash(p.src_host()) + ":" + or_dash(p.src_fs()),
                 or_dash(p.dest_host()) + ":" + or_dash(p.dest_fs())});
  }
  return text_table(t);
}

// The STATE column: every finding that applies (agent/cli/health.h), worst first; "ok" when none.
std::string state_text(const control::FsStatus& r, int64_t now, int64_t max_switch_age) {
  std::vector<std::string> parts;
  for (const auto& f : assess(r, now, max_switch_age)) parts.push_back(f.text);
  return parts.empty() ? "ok" : fmt::format("{}", fmt::join(parts, "; "));
}

std::string host_text(const control::StatusResult& rows, int64_t now) {
  std::string out;
  for (const auto& f : assess_host(rows, now)) {
    out += (f.severity == Severity::kCritical ? "CRITICAL: " : "WARNING: ") + f.text + "\n";
  }
  return out;
}

std::string status_text(const control::StatusResult& rows, int64_t now) {
  if (rows.filesystems().empty())
    return "no zrep filesystems on this host\n" + host_text(rows, now);
  std::vector<std::vector<std::string>> t{
      {"FILESYSTEM", "ROLE", "PEER", "LAST SYNC", "LAG", "SNAPSHOT", "UNSENT", "NEXT", "STATE"}};
  for (const auto& r : rows.filesystems()) {
    std::string last = "never";
    if (r.has_last_sync_time()) last = human_duration(now - r.last_sync_time()) + " ago";
    std::string next = "-";
    if (r.has_next_run()) {
      int64_t in = r.next_run() - now;
      next = in <= 0 ? "now" : "in " + human_duration(in);
    }
    std::string snap = or_dash(r.last_synced_snapshot());
    if (auto at = snap.find('@'); at != std::string::npos) snap = snap.substr(at + 1);
    std::string lag = r.has_lag_seconds() ? human_duration(r.lag_seconds()) : "-";
    t.push_back({or_dash(r.fs()), or_dash(r.role()), or_dash(r.peer()) + ":" + or_dash(r.peer_fs()),
                 last, lag, snap, std::to_string(r.unsent_snapshots()), next,
                 state_text(r, now, rows.max_switch_age_seconds())});
  }
  return text_table(t) + host_text(rows, now);
}

std::string failover_text(const control::FailoverResult& r) {
  std::string out = "failover done: " + or_dash(r.new_master()) + ":" + or_dash(r.new_master_fs()) +
                    " is the master now (epoch " + std::to_string(r.epoch()) + "), " +
                    or_dash(r.old_master()) + ":" + or_dash(r.fs()) +
                    " its read-only standby; common snapshot " + or_dash(r.snapshot()) + "\n";
  if (r.has_newer_kept_in()) {
    out += "what " + or_dash(r.fs()) + " held after " + or_dash(r.snapshot()) + " is kept on " +
           or_dash(r.old_master()) + " in " + or_dash(r.newer_kept_in()) +
           " (read-only; nothing was destroyed)\n";
  }
  return out;
}

std::string takeover_text(const control::TakeoverResult& r) {
  if (r.forced()) {
    return or_dash(r.fs()) + " is now the master on " + or_dash(r.master()) + " (epoch " +
           std::to_string(r.epoch()) + "), FORCED at " + or_dash(r.snapshot()) + "; " +
           or_dash(r.old_master()) +
           " demotes itself when its agent comes back, and keeps what it wrote meanwhile\n";
  }
  return or_dash(r.fs()) + " is the master on " + or_dash(r.master()) + " (epoch " +
         std::to_string(r.epoch()) + ")\n";
}

std::string resync_text(const control::ResyncResult& r) {
  return or_dash(r.fs()) + " is the standby of " + or_dash(r.master()) + ":" +
         or_dash(r.master_fs()) + " again, at " + or_dash(r.common_snapshot()) +
         "; the data written here after the takeover is kept in " + or_dash(r.kept_as()) +
         " (read-only; destroy it when done)\n";
}

std::string clear_text(const control::ClearResult& r) {
  std::string out = "cleared the zrep properties of " + r.fs();
  if (!r.cleared_on_peer().empty()) out += " and of its replica " + r.cleared_on_peer();
  return out + "; data and snapshots are untouched\n";
}

std::string changedest_text(const control::ChangeDestResult& r) {
  return r.fs() + " now replicates to " + r.dest_host() + ":" + r.dest_fs() + " (was " +
         r.previous() + "); common snapshot " + r.common_snapshot() + "\n";
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

std::string render_text(const control::Result& result, int64_t now) {
  using R = control::Result;
  switch (result.value_case()) {
    case R::kInit:
      return init_text(result.init());
    case R::kSync:
      return sync_text(result.sync());
    case R::kList:
      return list_text(result.list());
    case R::kSnapshots:
      return snapshots_text(result.snapshots());
    case R::kStatus:
      return status_text(result.status(), now);
    case R::kExpire:
      return expire_text(result.expire());
    case R::kClear:
      return clear_text(result.clear());
    case R::kChangedest:
      return changedest_text(result.changedest());
    case R::kFailover:
      return failover_text(result.failover());
    case R::kTakeover:
      return takeover_text(result.takeover());
    case R::kResync:
      return resync_text(result.resync());
    case R::kPeers:
      return peers_text(result.peers(), now);
    case R::VALUE_NOT_SET:
      break;
  }
  return std::string();
}

}  // namespace zrep
