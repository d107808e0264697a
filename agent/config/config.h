// The daemon's configuration: a TOML file (deploy/zrep-agent.toml.example documents every key).
//
// parse_config() is pure and checks everything it can without touching the system: names,
// addresses, duplicate peers.
//
// Live settings (SIGHUP, agent/daemon/reload.cc): the peers, the schedule, the [[filesystem]]
// entries, the alerts, log_level and the [tls] paths may be replaced while other threads read
// them (apply_reload). Once the daemon runs, they are read only through the accessors below,
// which copy under the shared lock `live_mu`; everything else is immutable once loaded.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace zrep {

inline constexpr const char* kDefaultConfigPath = "/etc/zrep-agent/zrep-agent.toml";
inline constexpr const char* kDefaultControlSocket = "/run/zrep-agent/zrep-agent.sock";
inline constexpr uint16_t kDefaultPort = 7450;
inline constexpr std::chrono::seconds kMaxHeartbeatInterval{300};
inline constexpr std::chrono::seconds kMaxHandshakeTimeout{60};

struct Endpoint {
  std::string host;  // name or address ("::1" without brackets)
  uint16_t port = 0;
  std::string to_string() const;
  bool operator==(const Endpoint&) const = default;
};

// "host:port", "[v6addr]:port", or "host" (default port).
Result<Endpoint> parse_endpoint(std::string_view text);

struct PeerConfig {
  std::string name;                   // the name in the peer's certificate
  std::optional<Endpoint> address;    // absent: this host never dials the peer
  std::vector<std::string> datasets;  // datasets here (and below) the peer may read or write
  // May the peer ask this host to hand over the master role of a filesystem it mirrors
  // (TakeoverRequest: `failover`/`takeover` run on the standby)? Off: only this host's own
  // `failover` moves the role.
  bool allow_takeover = true;
  bool operator==(const PeerConfig&) const = default;
};

// Automatic replication (issue: safe every minute, even with the WAN down).
struct ScheduleConfig {
  std::chrono::seconds interval{0};  // between syncs of each mastered filesystem; 0: off
  uint32_t max_unsent = 2;           // while this many zrep snapshots are unsent, make no new one
  uint64_t min_free_bytes = 0;       // skip a run when the filesystem has less space available
  std::chrono::seconds max_backoff{900};  // cap on the retry delay after failures
  uint32_t max_parallel_syncs = 4;        // scheduled runs at once; the rest wait their turn
  // Retention by age for every filesystem here without its own (agent/logic/retention_grid.h),
  // normalised; "": by zrep:retention, else by count only.
  std::string retention;
  bool operator==(const ScheduleConfig&) const = default;
};

// When `status` and `check` call a filesystem behind (agent/cli/health.h). Unset (0): from its
// sync interval (LagLimits below).
struct AlertConfig {
  std::chrono::seconds warn_lag{0};
  std::chrono::seconds crit_lag{0};
  // A role switch left unfinished (the zrep:switch journal) this long is critical.
  std::chrono::seconds max_switch_age{600};
  bool operator==(const AlertConfig&) const = default;
};

struct LagLimits {
  std::chrono::seconds warn, crit;
};

// The [tls] files, as the config names them now.
struct TlsPaths {
  std::string ca_file, cert_file, key_file, crl_file;
  bool operator==(const TlsPaths&) const = default;
};

struct FilesystemConfig {
  std::string name;
  std::optional<std::chrono::seconds> interval;            // overrides ScheduleConfig::interval
  std::optional<std::chrono::seconds> warn_lag, crit_lag;  // override AlertConfig
  // Raw sends (zfs send -w, OpenZFS): the standby holds the data encrypted, without the key.
  // Unset: raw for encrypted filesystems.
  std::optional<bool> raw;
  std::optional<std::string> retention;  // overrides ScheduleConfig::retention
  bool operator==(const FilesystemConfig&) const = default;
};

struct Config {
  std::string source;  // file the config came from, for messages
  std::string host;    // this host's name; must match its certificate
  std::optional<Endpoint> listen;
  // Prometheus metrics over plain HTTP (GET /metrics), e.g. 127.0.0.1:9811; absent: none.
  std::optional<Endpoint> metrics_listen;
  std::string control_socket = kDefaultControlSocket;
  std::string ca_file, cert_file, key_file;
  std::string crl_file;  // [tls] crl: optional (crypto/tls.h, TlsFiles::crl_file)
  std::string log_level = "info";
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds io_timeout{600};
  // A lock a peer took here lapses when its session shows no request for this long (the
  // connection cut without a word). A session that ends releases its locks at once.
  std::chrono::seconds lock_lease{120};
  // Links (agent/rpc/link.h): how often each side sends a heartbeat; a link silent for three
  // intervals (the longer of the two sides') is dead.
  std::chrono::seconds heartbeat_interval{10};
  // Connections (SECURITY.md, "Connections: which limit protects what").
  // One deadline for a whole handshake, TCP accept (or connect) -> TLS -> Hello, on both sides.
  std::chrono::seconds handshake_timeout{5};
  // A frame (at most 1 MiB) must arrive whole within this long of its first byte.
  std::chrono::seconds frame_timeout{60};
  // A request session on which the peer sends no request for this long is closed. (Transfers
  // and links are not idle: a transfer is a request in progress, a link carries heartbeats.)
  std::chrono::seconds session_idle_timeout{600};
  // Connections in their handshake (not yet authenticated): in all, and from one address.
  int max_handshakes = 64;
  int max_handshakes_per_address = 8;
  // Authenticated sessions of one peer (its certificate name) open at once, and in their Hello.
  int max_sessions_per_peer = 32;
  int max_handshakes_per_peer = 8;
  // Live (see the top): direct reads and writes only before the daemon starts (parsing,
  // tests); afterwards through the accessors and apply_reload.
  std::vector<PeerConfig> peers;
  ScheduleConfig schedule;
  AlertConfig alerts;
  std::vector<FilesystemConfig> filesystems;
  // Guards the live fields. Shared by copies (Config stays copyable); copy only before threads.
  std::shared_ptr<std::shared_mutex> live_mu = std::make_shared<std::shared_mutex>();

  // A copy of the peer's entry, or nothing when it is not (or no longer) configured.
  std::optional<PeerConfig> find_peer(std::string_view name) const;
  std::vector<PeerConfig> peers_copy() const;
  std::vector<std::string> peer_names() const;
  ScheduleConfig schedule_settings() const;
  AlertConfig alert_settings() const;
  TlsPaths tls_paths() const;
  std::string current_log_level() const;
  std::chrono::seconds interval_for(std::string_view fs) const;
  // The filesystem's own warn_lag/crit_lag, else the global ones, else from its interval:
  // warning at 3 intervals (at least 15 min), critical at 10 (at least 1 h); a filesystem
  // without a schedule (synced by cron, say daily): 25 h and 49 h.
  LagLimits lag_limits_for(std::string_view fs) const;
  std::optional<bool> raw_for(std::string_view fs) const;
  // The retention grid this host applies to its side of fs: its [[filesystem]] entry's, else
  // the global one; nothing when neither is set (then zrep:retention on fs decides).
  std::optional<std::string> retention_for(std::string_view fs) const;
  // The [[filesystem]] entries.
  std::vector<FilesystemConfig> filesystems_copy() const;

  // A reload (SIGHUP): takes the live settings of `fresh` (parsed from the same file) under
  // the unique lock. Every other setting that differs (host, listen, control_socket, the
  // timeouts, the connection limits) keeps its running value and is listed, by its key, in
  // `restart_needed`.
  Status apply_reload(const Config& fresh, std::vector<std::string>* restart_needed);
};

// "1024", "512K", "100M", "1G", "2T" (powers of 1024) -> bytes.
Result<uint64_t> parse_size(std::string_view text);

Result<Config> parse_config(std::string_view toml_text, std::string_view source_name);
Result<Config> load_config(const std::string& path);

}  // namespace zrep
