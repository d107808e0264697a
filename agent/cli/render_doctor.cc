// Text and JSON of `peers` and `doctor` (render.h).
#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "agent/cli/render.h"

namespace zrep {
namespace {

using nlohmann::json;

const char* level_name(control::Check::Level level) {
  switch (level) {
    case control::Check::LEVEL_OK:
      return "ok";
    case control::Check::LEVEL_WARN:
      return "warn";
    default:
      return "fail";
  }
}

std::string link_cell(const control::PeerView& p) {
  if (!p.has_link()) return "-";
  return p.link().direction() + " " + p.link().state();
}

std::string skew_cell(const control::PeerView& p) {
  if (!p.has_clock_skew_seconds()) return "-";
  return fmt::format("{:+d}s", p.clock_skew_seconds());
}

// The rows of the table, then what is wrong with each peer, one line each.
std::string peer_notes(const control::PeerView& p) {
  std::string out;
  if (!p.reachable()) out += "  " + p.name() + ": " + or_dash(p.error()) + "\n";
  if (p.has_link() && p.link().has_error()) {
    out += "  " + p.name() + ": link down: " + p.link().error() + "\n";
  }
  for (const auto& d : p.destinations()) {
    if (!d.allowed()) {
      out += "  " + p.name() + ":" + d.dest_fs() + " (from " + d.fs() +
             ") refused: " + or_dash(d.error()) + "\n";
    }
  }
  return out;
}

}  // namespace

std::string peers_text(const control::PeersResult& peers, int64_t now) {
  if (peers.peers().empty()) return "no [[peer]] entries in the config\n";
  std::vector<std::vector<std::string>> rows{
      {"PEER", "ADDRESS", "LINK", "REACHABLE", "VERSION", "ZFS", "LAST CONTACT", "CLOCK"}};
  std::string notes;
  for (const auto& p : peers.peers()) {
    std::string last = "never";
    if (p.has_last_contact()) last = human_duration(now - p.last_contact()) + " ago";
    std::string zfs = "-";
    if (p.reachable()) {  // "openzfs zfs-2.3.2"; "legacy (no 'zfs version')" says it already
      zfs = p.zfs_version().starts_with(p.zfs_dialect())
                ? or_dash(p.zfs_version())
                : or_dash(p.zfs_dialect()) + " " + or_dash(p.zfs_version());
    }
    rows.push_back({p.name(), p.address().empty() ? "(reached over its link)" : p.address(),
                    link_cell(p), p.reachable() ? "yes" : "NO",
                    p.reachable() ? or_dash(p.agent_version()) : "-", zfs, last, skew_cell(p)});
    notes += peer_notes(p);
  }
  return text_table(rows) + notes;
}

json peers_json(const control::PeersResult& peers) {
  json out = json::array();
  for (const auto& p : peers.peers()) {
    json e{{"name", p.name()}, {"address", p.address()}, {"reachable", p.reachable()}};
    if (p.has_link()) e["link"] = link_json(p.link());
    if (!p.error().empty()) e["error"] = p.error();
    if (p.reachable()) {
      e["agent_version"] = p.agent_version();
      e["protocol_version"] = p.protocol_version();
      e["zfs"] = json{{"dialect", p.zfs_dialect()}, {"version", p.zfs_version()}};
    }
    if (p.has_last_contact()) e["last_contact"] = p.last_contact();
    if (p.has_clock_skew_seconds()) e["clock_skew_seconds"] = p.clock_skew_seconds();
    json dests = json::array();
    for (const auto& d : p.destinations()) {
      json de{{"fs", d.fs()}, {"dest_fs", d.dest_fs()}, {"allowed", d.allowed()}};
      if (!d.allowed()) de["error"] = d.error();
      dests.push_back(de);
    }
    e["destinations"] = dests;
    out.push_back(e);
  }
  return out;
}

std::string doctor_text(const control::DoctorResult& result) {
  std::string out;
  for (const auto& c : result.checks()) {
    const char* label = c.level() == control::Check::LEVEL_OK     ? "OK"
                        : c.level() == control::Check::LEVEL_WARN ? "WARN"
                                                                  : "FAIL";
    out += fmt::format("{:<4} {}: {}", label, c.name(), c.detail());
    if (c.level() != control::Check::LEVEL_OK && !c.what_to_do().empty()) {
      out += " \u2014 " + c.what_to_do();
    }
    out += "\n";
  }
  return out;
}

json doctor_json(const control::DoctorResult& result) {
  json out = json::array();
  for (const auto& c : result.checks()) {
    json e{{"name", c.name()}, {"level", level_name(c.level())}, {"detail", c.detail()}};
    if (!c.what_to_do().empty()) e["what_to_do"] = c.what_to_do();
    out.push_back(e);
  }
  return out;
}

}  // namespace zrep
