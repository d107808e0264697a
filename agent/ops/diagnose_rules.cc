// doctor's pure parts (diagnose.h): how an expiry, a key's mode, a clock skew and the daemon's
// `peers` answer become checks.
#include <fmt/format.h>

#include <cstdlib>

#include "agent/ops/diagnose.h"
#include "crypto/pki.h"

namespace zrep {
namespace {

using L = control::Check;

std::string days(int64_t seconds) {
  return fmt::format("{:.1f} days", static_cast<double>(seconds) / 86400.0);
}

control::Check reach_check(const control::PeerView& p, const std::string& host) {
  const std::string name = "peer " + p.name();
  if (p.reachable()) {
    // "openzfs zfs-2.3.2", or "legacy (no 'zfs version')" as the version says it already.
    const std::string zfs = p.zfs_version().starts_with(p.zfs_dialect())
                                ? p.zfs_version()
                                : p.zfs_dialect() + " " + p.zfs_version();
    return make_check(name, L::LEVEL_OK,
                      fmt::format("answers: agent {}, protocol {}, ZFS {}", p.agent_version(),
                                  p.protocol_version(), zfs));
  }
  std::string todo = p.address().empty()
                         ? "start its agent, and check that its [[peer]] entry for " + host +
                               " has this host's address and that it can reach this host's port"
                         : "start its agent, and check that " + p.address() +
                               " is its listen address and " +
                               "that the network and firewalls let this host reach it";
  return make_check(name, L::LEVEL_FAIL, p.error().empty() ? "does not answer" : p.error(), todo);
}

control::Check destination_check(const control::PeerView& p, const control::DestinationView& d,
                                 const std::string& host) {
  const std::string name = "allowance " + p.name() + ":" + d.dest_fs();
  if (d.allowed()) {
    return make_check(name, L::LEVEL_OK,
                      p.name() + " lets " + host + " send " + d.fs() + " to " + d.dest_fs());
  }
  if (d.error_code() != "permission-denied") {
    return make_check(name, L::LEVEL_FAIL,
                      "cannot ask " + p.name() + " about " + d.dest_fs() + ": " + d.error(),
                      "see the error; run doctor again when " + p.name() + " answers");
  }
  return make_check(name, L::LEVEL_FAIL,
                    d.fs() + " replicates to " + p.name() + ":" + d.dest_fs() + ", but " +
                        p.name() + " refuses it: " + d.error(),
                    "on " + p.name() + ", add \"" + d.dest_fs() +
                        "\" (or a parent) to datasets = [...] of its [[peer]] entry for " + host);
}

}  // namespace

control::Check expiry_check(const std::string& name, const std::string& what, int64_t not_after,
                            int64_t now, const std::string& what_to_do) {
  if (not_after == 0) return make_check(name, L::LEVEL_OK, what + ": no expiry");
  const int64_t left = not_after - now;
  if (left <= 0) {
    return make_check(name, L::LEVEL_FAIL, what + " expired " + days(-left) + " ago", what_to_do);
  }
  if (left < kExpiryWarnSeconds) {
    return make_check(name, L::LEVEL_WARN, what + " expires in " + days(left), what_to_do);
  }
  return make_check(name, L::LEVEL_OK, what + " valid for " + days(left));
}

control::Check key_mode_check(const std::string& key_file, uint32_t mode) {
  const uint32_t perms = mode & 0777;
  const std::string text = fmt::format("{} is mode {:04o}", key_file, perms);
  if ((perms & 077) != 0) {
    return make_check("key file mode", L::LEVEL_FAIL,
                      text + ": other users may read the private key",
                      "chmod 600 " + key_file +
                          " (and give this host a new pair if the key may "
                          "have been copied: zrep-agent pki revoke, issue)");
  }
  return make_check("key file mode", L::LEVEL_OK, text);
}

control::Check ca_key_check(const std::string& key_dir, bool ca_key_present) {
  const std::string ca_key = key_dir + "/" + kCaKeyFile;
  if (ca_key_present) {
    return make_check("CA key", L::LEVEL_FAIL,
                      ca_key +
                          " is beside this host's key: whoever takes this host can issue "
                          "certificates for any peer",
                      "move " + ca_key +
                          " off this host (keep it offline, where you issue "
                          "certificates)");
  }
  return make_check("CA key", L::LEVEL_OK, "no CA key in " + key_dir);
}

control::Check clock_check(const std::string& peer, int64_t skew) {
  const std::string name = "clock " + peer;
  const std::string text = fmt::format("{}'s clock is {} s {} this host's", peer, std::llabs(skew),
                                       skew >= 0 ? "ahead of" : "behind");
  const std::string todo = "synchronise both clocks (NTP: timedatectl set-ntp true)";
  if (std::llabs(skew) > kSkewFailSeconds) {
    return make_check(name, L::LEVEL_FAIL, text + ": new certificates are not valid yet there",
                      todo);
  }
  if (std::llabs(skew) > kSkewWarnSeconds) return make_check(name, L::LEVEL_WARN, text, todo);
  return make_check(name, L::LEVEL_OK, text);
}

std::vector<control::Check> peer_checks(const control::PeersResult& peers,
                                        const std::string& host) {
  std::vector<control::Check> out;
  if (peers.peers().empty()) {
    out.push_back(make_check("peers", L::LEVEL_WARN, "no [[peer]] entry: nothing to replicate to",
                             "add a [[peer]] entry for each host this one replicates with"));
  }
  for (const auto& p : peers.peers()) {
    out.push_back(reach_check(p, host));
    if (!p.reachable()) continue;
    if (p.has_clock_skew_seconds()) {
      out.push_back(clock_check(p.name(), p.clock_skew_seconds()));
    } else {
      out.push_back(make_check("clock " + p.name(), L::LEVEL_WARN,
                               "unknown: its agent does not say its time (an older release)",
                               "run the same zrep-agent release on both hosts"));
    }
    for (const auto& d : p.destinations()) out.push_back(destination_check(p, d, host));
  }
  return out;
}

bool any_failed(const control::DoctorResult& result) {
  for (const auto& c : result.checks()) {
    if (c.level() == L::LEVEL_FAIL) return true;
  }
  return false;
}

}  // namespace zrep
