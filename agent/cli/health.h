// What needs a person's attention in a status answer: the findings behind status's STATE
// column and exit code, and behind `check` (a Nagios/Icinga plugin). Pure functions,
// unit-tested (tests/unit/health_test.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proto/control.pb.h"

namespace zrep {

// In the order of the plugin exit codes (OK 0, WARNING 1, CRITICAL 2, UNKNOWN 3). kInfo is
// shown but is not a problem (a sync running, a lock held, a kept copy).
enum class Severity { kInfo = -1, kOk = 0, kWarning = 1, kCritical = 2, kUnknown = 3 };

struct Finding {
  Severity severity = Severity::kOk;
  std::string text;  // "DEMOTED: ...", "LAG 2h 3m (critical over 1h)", ...
};

// --warn-lag/--crit-lag of `check`: override the daemon's limits for every filesystem.
struct LagOverride {
  std::optional<int64_t> warn, crit;
};

// Below this many days to its expiry, the host's certificate is a warning, then critical.
constexpr int64_t kCertWarnDays = 30;
constexpr int64_t kCertCritDays = 14;

// Everything that applies to one filesystem, worst first; empty when it is ok.
std::vector<Finding> assess(const control::FsStatus& fs, int64_t now, int64_t max_switch_age,
                            const LagOverride& lag = {});
// The host's own findings: its certificate's expiry.
std::vector<Finding> assess_host(const control::StatusResult& status, int64_t now);

Severity worst(const std::vector<Finding>& findings);  // kOk when there are none

// Whether a filesystem of `status`, or the host's certificate, needs attention (status exit 4).
bool needs_attention(const control::StatusResult& status, int64_t now);

// The `check` plugin's one line ("ZREP CRITICAL - ... | perfdata") and its exit code.
struct CheckReport {
  int exit_code = 3;
  std::string line;
};
CheckReport check_report(const control::StatusResult& status, int64_t now,
                         const LagOverride& lag = {});

}  // namespace zrep
