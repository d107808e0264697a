// The live settings of a Config (config.h): the accessors other threads read them through, and
// apply_reload, which replaces them on a SIGHUP.
#include <algorithm>
#include <mutex>

#include "agent/config/config.h"

namespace zrep {
namespace {

std::chrono::seconds interval_locked(const Config& c, std::string_view fs) {
  for (const auto& f : c.filesystems) {
    if (f.name == fs && f.interval) return *f.interval;
  }
  return c.schedule.interval;
}

// The settings a reload does not change: each one that differs in `fresh`, by its key.
std::vector<std::string> fixed_settings_changed(const Config& now, const Config& fresh) {
  std::vector<std::string> out;
  auto note = [&out](bool changed, const char* key) {
    if (changed) out.emplace_back(key);
  };
  note(now.host != fresh.host, "host");
  note(now.listen != fresh.listen, "listen");
  note(now.metrics_listen != fresh.metrics_listen, "metrics_listen");
  note(now.control_socket != fresh.control_socket, "control_socket");
  note(now.connect_timeout != fresh.connect_timeout, "connect_timeout");
  note(now.io_timeout != fresh.io_timeout, "io_timeout");
  note(now.lock_lease != fresh.lock_lease, "lock_lease");
  note(now.heartbeat_interval != fresh.heartbeat_interval, "heartbeat_interval");
  note(now.handshake_timeout != fresh.handshake_timeout, "handshake_timeout");
  note(now.frame_timeout != fresh.frame_timeout, "frame_timeout");
  note(now.session_idle_timeout != fresh.session_idle_timeout, "session_idle_timeout");
  note(now.max_handshakes != fresh.max_handshakes, "max_handshakes");
  note(now.max_handshakes_per_address != fresh.max_handshakes_per_address,
       "max_handshakes_per_address");
  note(now.max_sessions_per_peer != fresh.max_sessions_per_peer, "max_sessions_per_peer");
  note(now.max_handshakes_per_peer != fresh.max_handshakes_per_peer, "max_handshakes_per_peer");
  return out;
}

}  // namespace

std::optional<PeerConfig> Config::find_peer(std::string_view name) const {
  std::shared_lock lk(*live_mu);
  for (const auto& p : peers) {
    if (p.name == name) return p;
  }
  return std::nullopt;
}

std::vector<PeerConfig> Config::peers_copy() const {
  std::shared_lock lk(*live_mu);
  return peers;
}

std::vector<std::string> Config::peer_names() const {
  std::shared_lock lk(*live_mu);
  std::vector<std::string> names;
  for (const auto& p : peers) names.push_back(p.name);
  return names;
}

std::vector<FilesystemConfig> Config::filesystems_copy() const {
  std::shared_lock lk(*live_mu);
  return filesystems;
}

ScheduleConfig Config::schedule_settings() const {
  std::shared_lock lk(*live_mu);
  return schedule;
}

AlertConfig Config::alert_settings() const {
  std::shared_lock lk(*live_mu);
  return alerts;
}

TlsPaths Config::tls_paths() const {
  std::shared_lock lk(*live_mu);
  return TlsPaths{ca_file, cert_file, key_file, crl_file};
}

std::string Config::current_log_level() const {
  std::shared_lock lk(*live_mu);
  return log_level;
}

std::optional<bool> Config::raw_for(std::string_view fs) const {
  std::shared_lock lk(*live_mu);
  for (const auto& f : filesystems) {
    if (f.name == fs && f.raw) return f.raw;
  }
  return std::nullopt;
}

std::optional<std::string> Config::retention_for(std::string_view fs) const {
  std::shared_lock lk(*live_mu);
  for (const auto& f : filesystems) {
    if (f.name == fs && f.retention) return f.retention;
  }
  if (!schedule.retention.empty()) return schedule.retention;
  return std::nullopt;
}

std::chrono::seconds Config::interval_for(std::string_view fs) const {
  std::shared_lock lk(*live_mu);
  return interval_locked(*this, fs);
}

LagLimits Config::lag_limits_for(std::string_view fs) const {
  using std::chrono::seconds;
  std::shared_lock lk(*live_mu);
  const FilesystemConfig* own = nullptr;
  for (const auto& f : filesystems) {
    if (f.name == fs) own = &f;
  }
  const seconds interval = interval_locked(*this, fs);
  LagLimits derived = interval.count() > 0 ? LagLimits{std::max(3 * interval, seconds(900)),
                                                       std::max(10 * interval, seconds(3600))}
                                           : LagLimits{seconds(25 * 3600), seconds(49 * 3600)};
  auto pick = [](std::optional<seconds> mine, seconds global, seconds fallback) {
    if (mine) return *mine;
    return global.count() > 0 ? global : fallback;
  };
  LagLimits out{pick(own ? own->warn_lag : std::nullopt, alerts.warn_lag, derived.warn),
                pick(own ? own->crit_lag : std::nullopt, alerts.crit_lag, derived.crit)};
  out.crit = std::max(out.crit, out.warn);
  return out;
}

Status Config::apply_reload(const Config& fresh, std::vector<std::string>* restart_needed) {
  if (&fresh == this) return Status::ok();
  std::vector<std::string> fixed = fixed_settings_changed(*this, fresh);
  // `fresh` is a value of the caller's alone (just parsed): read without its lock.
  std::unique_lock lk(*live_mu);
  peers = fresh.peers;
  schedule = fresh.schedule;
  alerts = fresh.alerts;
  filesystems = fresh.filesystems;
  log_level = fresh.log_level;
  ca_file = fresh.ca_file;
  cert_file = fresh.cert_file;
  key_file = fresh.key_file;
  crl_file = fresh.crl_file;
  lk.unlock();
  if (restart_needed != nullptr) *restart_needed = std::move(fixed);
  return Status::ok();
}

}  // namespace zrep
