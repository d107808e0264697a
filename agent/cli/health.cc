#include "agent/cli/health.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "agent/cli/render.h"

namespace zrep {
namespace {

std::string link_down_text(const control::LinkView& l, int64_t now) {
  std::string state = l.direction() == "listens" ? "LINK DOWN: the peer must dial in"
                                                 : "LINK DOWN: cannot reach the peer";
  if (l.has_down_since()) state += " (since " + human_duration(now - l.down_since()) + " ago)";
  if (l.has_error()) state += ": " + l.error();
  return state;
}

void add_switch(std::vector<Finding>& out, const control::FsStatus& r, int64_t now,
                int64_t max_age) {
  if (!r.has_unfinished_switch()) return;
  std::string text = "FAILOVER UNFINISHED (read-only until the agent resolves it): " +
                     or_dash(r.unfinished_switch());
  Severity sev = Severity::kWarning;
  if (r.has_unfinished_switch_since()) {
    const int64_t age = now - r.unfinished_switch_since();
    text += " (seen for " + human_duration(age) + ")";
    if (max_age > 0 && age > max_age) sev = Severity::kCritical;
  }
  out.push_back({sev, text});
}

void add_error(std::vector<Finding>& out, const control::FsStatus& r) {
  if (!r.has_last_error()) return;
  if (r.last_error_code() == "split-brain") {
    out.push_back({Severity::kCritical, r.last_error()});  // "SPLIT BRAIN: ... what to do"
    return;
  }
  std::string text = "ERROR";
  if (r.has_failures_in_a_row())
    text += " (" + std::to_string(r.failures_in_a_row()) + " in a row)";
  out.push_back({Severity::kWarning, text + ": " + or_dash(r.last_error())});
}

// Only the master's lag: it is the side that sends, and the one that knows what was sent.
void add_lag(std::vector<Finding>& out, const control::FsStatus& r, const LagOverride& over) {
  if (r.role() != "master" || r.has_error()) return;
  const int64_t warn = over.warn.value_or(r.warn_lag_seconds());
  const int64_t crit = std::max(over.crit.value_or(r.crit_lag_seconds()), warn);
  if (!r.has_lag_seconds()) {
    if (!r.has_running()) out.push_back({Severity::kWarning, "NEVER SYNCED"});
    return;
  }
  const int64_t lag = r.lag_seconds();
  if (crit > 0 && lag > crit) {
    out.push_back({Severity::kCritical,
                   "LAG " + human_duration(lag) + " (critical over " + human_duration(crit) + ")"});
  } else if (warn > 0 && lag > warn) {
    out.push_back({Severity::kWarning,
                   "LAG " + human_duration(lag) + " (warning over " + human_duration(warn) + ")"});
  }
}

void add_info(std::vector<Finding>& out, const control::FsStatus& r, int64_t now) {
  if (r.has_running()) out.push_back({Severity::kInfo, "running " + or_dash(r.running())});
  if (r.has_lock() && !r.has_running()) {
    out.push_back({Severity::kInfo, "locked by " + r.lock().host() + " for '" +
                                        r.lock().operation() + "' since " +
                                        human_duration(now - r.lock().since()) + " ago"});
  }
  if (r.has_kept()) out.push_back({Severity::kInfo, "KEPT: " + describe_kept(r.kept())});
}

const char* severity_word(Severity s) {
  switch (s) {
    case Severity::kInfo:
    case Severity::kOk:
      return "OK";
    case Severity::kWarning:
      return "WARNING";
    case Severity::kCritical:
      return "CRITICAL";
    case Severity::kUnknown:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

// One line for a monitoring system: no line breaks, and no '|', which starts the perfdata.
std::string one_line(std::string text) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  std::replace(text.begin(), text.end(), '|', '/');
  return text;
}

// A perfdata label: quoted, without the quote and '=' characters Nagios cannot carry.
std::string perf_label(std::string text) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\'' || c == '='; }, '_');
  return "'" + text + "'";
}

}  // namespace

std::vector<Finding> assess(const control::FsStatus& r, int64_t now, int64_t max_switch_age,
                            const LagOverride& lag) {
  std::vector<Finding> out;
  if (r.has_error()) out.push_back({Severity::kCritical, "ERROR: " + r.error()});
  if (r.has_fenced()) {
    out.push_back(
        {Severity::kCritical, "DEMOTED: " + describe_fenced(r.fenced(), or_dash(r.fs()))});
  }
  add_switch(out, r, now, max_switch_age);
  add_error(out, r);
  add_lag(out, r, lag);
  if (r.has_link() && r.link().state() == "down") {
    out.push_back({Severity::kWarning, link_down_text(r.link(), now)});
  }
  add_info(out, r, now);
  std::stable_sort(out.begin(), out.end(),
                   [](const Finding& a, const Finding& b) { return a.severity > b.severity; });
  return out;
}

std::vector<Finding> assess_host(const control::StatusResult& status, int64_t now) {
  if (!status.has_certificate_not_after()) return {};
  const int64_t left = status.certificate_not_after() - now;
  const std::string who = "the certificate of " + or_dash(status.host());
  if (left <= 0) return {{Severity::kCritical, who + " has EXPIRED: peers refuse it"}};
  const std::string text = who + " expires in " + human_duration(left) +
                           " (zrep-agent pki issue on the CA host, then restart or reload)";
  if (left < kCertCritDays * 86400) return {{Severity::kCritical, text}};
  if (left < kCertWarnDays * 86400) return {{Severity::kWarning, text}};
  return {};
}

Severity worst(const std::vector<Finding>& findings) {
  Severity w = Severity::kOk;
  for (const auto& f : findings) w = std::max(w, f.severity);
  return w;
}

bool needs_attention(const control::StatusResult& status, int64_t now) {
  return check_report(status, now).exit_code != static_cast<int>(Severity::kOk);
}

CheckReport check_report(const control::StatusResult& status, int64_t now, const LagOverride& lag) {
  Severity overall = Severity::kOk;
  std::vector<std::string> problems, perf;
  for (const auto& f : assess_host(status, now)) {
    overall = std::max(overall, f.severity);
    problems.push_back(one_line(f.text));
  }
  int healthy = 0;
  for (const auto& fs : status.filesystems()) {
    auto findings = assess(fs, now, status.max_switch_age_seconds(), lag);
    const Severity w = worst(findings);
    overall = std::max(overall, w);
    if (w <= Severity::kOk) ++healthy;
    for (const auto& f : findings) {
      if (f.severity >= Severity::kWarning)
        problems.push_back(one_line(or_dash(fs.fs()) + ": " + f.text));
    }
    if (fs.role() == "master" && fs.has_lag_seconds()) {
      perf.push_back(fmt::format("{}={}s;{};{};0", perf_label(fs.fs() + " lag"), fs.lag_seconds(),
                                 lag.warn.value_or(fs.warn_lag_seconds()),
                                 lag.crit.value_or(fs.crit_lag_seconds())));
    }
    if (fs.has_unsent_snapshots()) {
      perf.push_back(
          fmt::format("{}={};;;0", perf_label(fs.fs() + " unsent"), fs.unsent_snapshots()));
    }
  }
  if (status.has_certificate_not_after()) {
    perf.push_back(fmt::format("'certificate days left'={};{};{}",
                               (status.certificate_not_after() - now) / 86400, kCertWarnDays,
                               kCertCritDays));
  }
  CheckReport report;
  report.exit_code = static_cast<int>(overall);
  std::string summary =
      problems.empty() ? fmt::format("{} filesystem(s) ok", status.filesystems_size())
                       : fmt::format("{}; {} of {} filesystem(s) ok", fmt::join(problems, "; "),
                                     healthy, status.filesystems_size());
  report.line = fmt::format("ZREP {} - {}", severity_word(overall), summary);
  if (!perf.empty()) report.line += " | " + fmt::format("{}", fmt::join(perf, " "));
  return report;
}

}  // namespace zrep
