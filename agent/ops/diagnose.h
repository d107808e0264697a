// `doctor`: checks of this host's setup, each OK, WARN or FAIL with what to do
// (control::Check). The offline part needs no daemon: the config, the PKI (names, chain, expiry,
// key modes, no CA key beside the host key), the ZFS implementation and its features, the
// configured filesystems and min_free. The online part turns the daemon's answer to `peers`
// into checks: each peer answers, its clock, and its allowance for this host's destinations.
// `serve` runs the offline part at start and logs what it finds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "proto/control.pb.h"

namespace zrep {

inline constexpr int64_t kExpiryWarnSeconds = 30 * 86400;  // WARN under 30 days
inline constexpr int64_t kSkewWarnSeconds = 60;
// Certificates start an hour in the past (crypto/pki.cc): a clock further off refuses new ones.
inline constexpr int64_t kSkewFailSeconds = 3600;

control::Check make_check(std::string name, control::Check::Level level, std::string detail,
                          std::string what_to_do = {});

// The pure classifications (unit-tested). `what` names the file or object in the detail.
control::Check expiry_check(const std::string& name, const std::string& what, int64_t not_after,
                            int64_t now, const std::string& what_to_do);
// A private key file readable or writable by group or other fails.
control::Check key_mode_check(const std::string& key_file, uint32_t mode);
control::Check ca_key_check(const std::string& key_dir, bool ca_key_present);
// skew: the peer's clock minus ours.
control::Check clock_check(const std::string& peer, int64_t skew);

// A config that does not load: one FAIL check.
control::Check config_failure(const std::string& path, const std::string& error);
// Everything that needs no daemon (runs `zfs`, reads the PKI files).
std::vector<control::Check> offline_checks(const Config& config, int64_t now);
// The daemon's `peers` answer as checks (pure); `host` is this host's name.
std::vector<control::Check> peer_checks(const control::PeersResult& peers, const std::string& host);
bool any_failed(const control::DoctorResult& result);

}  // namespace zrep
