#include "agent/daemon/reload.h"

#include <spdlog/spdlog.h>
#include <time.h>

#include <set>

namespace zrep {
namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

// "peers added: x; removed: y; changed: z", or "" when the peers are as they were.
std::string peer_changes(const std::vector<PeerConfig>& before,
                         const std::vector<PeerConfig>& after) {
  std::vector<std::string> added, removed, changed;
  auto find = [](const std::vector<PeerConfig>& in, const std::string& name) {
    const PeerConfig* hit = nullptr;
    for (const auto& p : in) {
      if (p.name == name) hit = &p;
    }
    return hit;
  };
  for (const auto& p : after) {
    const PeerConfig* old = find(before, p.name);
    if (old == nullptr) {
      added.push_back(p.name);
    } else if (!(*old == p)) {
      changed.push_back(p.name);
    }
  }
  for (const auto& p : before) {
    if (find(after, p.name) == nullptr) removed.push_back(p.name);
  }
  std::vector<std::string> parts;
  if (!added.empty()) parts.push_back("peers added: " + joined(added));
  if (!removed.empty()) parts.push_back("peers removed: " + joined(removed));
  if (!changed.empty()) parts.push_back("peers changed: " + joined(changed));
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

// Closes every peer session (either direction, links too) whose peer `config` no longer lists.
int close_removed_peers(const ReloadTargets& t) {
  std::set<std::string> configured;
  for (const auto& name : t.config.peer_names()) configured.insert(name);
  return t.sessions.close_if([&configured](ByteStream& b) {
    auto* s = dynamic_cast<TlsStream*>(&b);
    return s != nullptr && !configured.contains(s->peer_name());
  });
}

struct Before {
  std::vector<PeerConfig> peers;
  ScheduleConfig schedule;
  AlertConfig alerts;
  std::vector<FilesystemConfig> filesystems;
  TlsPaths tls;
  std::string log_level;
};

Before settings_of(const Config& c) {
  return Before{c.peers_copy(),       c.schedule_settings(), c.alert_settings(),
                c.filesystems_copy(), c.tls_paths(),         c.current_log_level()};
}

// One line of what the reload changed.
std::string summary(const Before& was, const Config& now) {
  std::vector<std::string> parts;
  if (std::string peers = peer_changes(was.peers, now.peers_copy()); !peers.empty()) {
    parts.push_back(peers);
  }
  if (!(was.schedule == now.schedule_settings()) || !(was.filesystems == now.filesystems_copy())) {
    parts.push_back("schedule changed");
  }
  if (!(was.alerts == now.alert_settings())) parts.push_back("alerts changed");
  if (was.log_level != now.current_log_level()) {
    parts.push_back("log_level " + now.current_log_level());
  }
  parts.push_back(was.tls == now.tls_paths() ? "TLS files reread" : "TLS files changed");
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

}  // namespace

std::string reloading_notification() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const long long usec =
      static_cast<long long>(ts.tv_sec) * 1000000LL + static_cast<long long>(ts.tv_nsec / 1000);
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec);
}

bool reload_config(const ReloadTargets& t) {
  const std::string path = t.config.source;
  spdlog::info("SIGHUP: reloading {}", path);
  auto fresh = load_config(path);
  if (!fresh) {
    spdlog::error("reload failed, the running config stays in force: {}", fresh.error().message);
    return false;
  }
  // The TLS files first: when they do not load, nothing at all changes.
  if (Status tls = t.tls.reload(
          TlsFiles{fresh->ca_file, fresh->cert_file, fresh->key_file, fresh->crl_file});
      !tls) {
    spdlog::error("reload failed, the running config stays in force: TLS: {}", tls.message());
    return false;
  }
  const Before was = settings_of(t.config);
  std::vector<std::string> restart_needed;
  if (Status applied = t.config.apply_reload(*fresh, &restart_needed); !applied) {
    spdlog::error("reload failed: {}", applied.message());
    return false;
  }
  spdlog::set_level(spdlog::level::from_str(t.config.current_log_level()));
  spdlog::info("reloaded {}: {}", path, summary(was, t.config));
  for (const auto& key : restart_needed) {
    spdlog::warn(
        "reload: '{}' changed in {}; it takes effect at the next restart (the running "
        "value stays)",
        key, path);
  }
  // A removed peer's trust is gone: none of its sessions stays. Every other peer's sessions
  // go on (a transfer in flight completes); their requests are authorized by the new entries.
  if (int closed = close_removed_peers(t); closed > 0) {
    spdlog::warn("reload: closed {} session(s) of peers no longer configured", closed);
  }
  t.links.reload();
  t.scheduler.settings_changed();
  return true;
}

}  // namespace zrep
