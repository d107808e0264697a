#include "agent/config/config.h"

#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include <toml++/toml.h>

#include "agent/logic/retention_grid.h"
#include "agent/logic/zfs_names.h"
#include "common/host_name.h"

namespace zrep {
namespace {

Error config_error(std::string_view source, std::string_view what) {
  return make_error(ErrorCode::kInvalidArgument,
                    "config " + std::string(source) + ": " + std::string(what));
}

Result<std::string> required_string(const toml::table& t, std::string_view key,
                                    std::string_view where, std::string_view source) {
  const auto* node = t.get(key);
  if (node == nullptr) {
    return config_error(source, std::string(where) + "'" + std::string(key) + "' is missing");
  }
  auto v = node->value<std::string>();
  if (!v || v->empty()) {
    return config_error(
        source, std::string(where) + "'" + std::string(key) + "' must be a non-empty string");
  }
  return *v;
}

Result<std::optional<std::string>> optional_string(const toml::table& t, std::string_view key,
                                                   std::string_view where,
                                                   std::string_view source) {
  const auto* node = t.get(key);
  if (node == nullptr) return std::optional<std::string>();
  auto v = node->value<std::string>();
  if (!v || v->empty()) {
    return config_error(
        source, std::string(where) + "'" + std::string(key) + "' must be a non-empty string");
  }
  return std::optional<std::string>(*v);
}

// A TOML integer only: toml++ converts a float to an integer without a range check (1e50 is
// undefined behaviour, found by tests/fuzz/config_fuzz.cc), and "60.5 seconds" is no whole number.
std::optional<int64_t> whole_number(const toml::node& node) {
  if (const auto* i = node.as_integer()) return i->get();
  return std::nullopt;
}

Result<std::chrono::seconds> optional_seconds(const toml::table& t, std::string_view key,
                                              std::chrono::seconds fallback,
                                              std::string_view source) {
  const auto* node = t.get(key);
  if (node == nullptr) return fallback;
  auto v = whole_number(*node);
  if (!v || *v <= 0 || *v > 86400) {
    return config_error(source,
                        "'" + std::string(key) + "' must be a whole number of seconds (1-86400)");
  }
  return std::chrono::seconds(*v);
}

Result<int64_t> optional_int(const toml::table& t, std::string_view key, int64_t fallback,
                             int64_t min, int64_t max, std::string_view where,
                             std::string_view source) {
  const auto* node = t.get(key);
  if (node == nullptr) return fallback;
  auto v = whole_number(*node);
  if (!v || *v < min || *v > max) {
    return config_error(source, std::string(where) + "'" + std::string(key) +
                                    "' must be a whole number from " + std::to_string(min) +
                                    " to " + std::to_string(max));
  }
  return *v;
}

Status check_known_keys(const toml::table& t, const std::set<std::string>& known,
                        std::string_view where, std::string_view source) {
  for (const auto& [k, v] : t) {
    if (!known.contains(std::string(k.str()))) {
      return config_error(source, "unknown key " + std::string(where) + "'" + std::string(k.str()) +
                                      "' (check the spelling against zrep-agent.toml.example)");
    }
  }
  return Status::ok();
}

Result<PeerConfig> parse_peer(const toml::table& t, size_t index, std::string_view source) {
  std::string where = "in [[peer]] #" + std::to_string(index + 1) + ": ";
  ZREP_RETURN_IF_ERROR(
      check_known_keys(t, {"name", "address", "datasets", "allow_takeover"}, where, source));
  PeerConfig peer;
  auto name = required_string(t, "name", where, source);
  if (!name) return name.error();
  peer.name = *name;
  if (!is_valid_host_name(peer.name)) {
    return config_error(source, where + "'" + peer.name + "' is not a valid host name");
  }
  where = "in [[peer]] '" + peer.name + "': ";
  auto address = optional_string(t, "address", where, source);
  if (!address) return address.error();
  if (*address) {
    auto ep = parse_endpoint(**address);
    if (!ep) return config_error(source, where + ep.error().message);
    peer.address = *ep;
  }
  const auto* datasets = t.get("datasets");
  if (datasets != nullptr) {
    const auto* arr = datasets->as_array();
    if (arr == nullptr) return config_error(source, where + "'datasets' must be a list of strings");
    for (const auto& item : *arr) {
      auto ds = item.value<std::string>();
      if (!ds) return config_error(source, where + "'datasets' must be a list of strings");
      if (Status s = validate_dataset_name(*ds); !s) {
        return config_error(source, where + s.message());
      }
      peer.datasets.push_back(*ds);
    }
  }
  if (const auto* allow = t.get("allow_takeover"); allow != nullptr) {
    if (!allow->is_boolean()) {
      return config_error(source, where + "'allow_takeover' must be true or false");
    }
    peer.allow_takeover = allow->value<bool>().value_or(true);
  }
  return peer;
}

// `retention = "1x1h(keep=all) | 24x1h | 14x1d"`: checked, kept as its normalised text.
Result<std::optional<std::string>> optional_grid(const toml::table& t, const std::string& where,
                                                 std::string_view source) {
  const auto* node = t.get("retention");
  if (node == nullptr) return std::optional<std::string>();
  auto text = node->value<std::string>();
  if (!text)
    return config_error(source, where + "'retention' must be a string such as \"24x1h | 14x1d\"");
  auto grid = parse_retention_grid(*text);
  if (!grid) return config_error(source, where + "'retention': " + grid.error().message);
  return std::optional<std::string>(grid->text());
}

Result<FilesystemConfig> parse_filesystem(const toml::table& t, size_t index,
                                          std::string_view source) {
  std::string where = "in [[filesystem]] #" + std::to_string(index + 1) + ": ";
  ZREP_RETURN_IF_ERROR(check_known_keys(
      t, {"name", "interval", "raw", "warn_lag", "crit_lag", "retention"}, where, source));
  FilesystemConfig fs;
  auto name = required_string(t, "name", where, source);
  if (!name) return name.error();
  if (Status s = validate_dataset_name(*name); !s) return config_error(source, where + s.message());
  fs.name = *name;
  auto interval = optional_int(t, "interval", -1, 0, 7 * 86400, where, source);
  if (!interval) return interval.error();
  if (*interval >= 0) fs.interval = std::chrono::seconds(*interval);
  for (auto [key, field] : {std::pair{"warn_lag", &fs.warn_lag}, {"crit_lag", &fs.crit_lag}}) {
    auto lag = optional_int(t, key, -1, 1, 365 * 86400, where, source);
    if (!lag) return lag.error();
    if (*lag > 0) *field = std::chrono::seconds(*lag);
  }
  if (const auto* raw = t.get("raw")) {
    if (!raw->is_boolean()) return config_error(source, where + "'raw' must be true or false");
    fs.raw = raw->value<bool>();
  }
  auto grid = optional_grid(t, where, source);
  if (!grid) return grid.error();
  fs.retention = *grid;
  return fs;
}

Status parse_schedule(const toml::table& root, Config& cfg, std::string_view source) {
  auto interval = optional_int(root, "sync_interval", 0, 0, 7 * 86400, "", source);
  if (!interval) return interval.error();
  cfg.schedule.interval = std::chrono::seconds(*interval);
  auto unsent = optional_int(root, "max_unsent", 2, 1, 1000, "", source);
  if (!unsent) return unsent.error();
  cfg.schedule.max_unsent = static_cast<uint32_t>(*unsent);
  auto backoff = optional_int(root, "max_backoff", 900, 1, 86400, "", source);
  if (!backoff) return backoff.error();
  cfg.schedule.max_backoff = std::chrono::seconds(*backoff);
  auto parallel = optional_int(root, "max_parallel_syncs", 4, 1, 256, "", source);
  if (!parallel) return parallel.error();
  cfg.schedule.max_parallel_syncs = static_cast<uint32_t>(*parallel);
  for (auto [key, field] : {std::pair{"warn_lag", &cfg.alerts.warn_lag},
                            {"crit_lag", &cfg.alerts.crit_lag},
                            {"max_switch_age", &cfg.alerts.max_switch_age}}) {
    auto value = optional_int(root, key, field->count(), 0, 365 * 86400, "", source);
    if (!value) return value.error();
    *field = std::chrono::seconds(*value);
  }
  if (const auto* node = root.get("min_free")) {
    auto text = node->value<std::string>();
    auto number = whole_number(*node);
    Result<uint64_t> bytes =
        text     ? parse_size(*text)
        : number ? Result<uint64_t>(static_cast<uint64_t>(std::max<int64_t>(*number, 0)))
                 : Result<uint64_t>(make_error(ErrorCode::kInvalidArgument, "not a size"));
    if (!bytes) return config_error(source, "'min_free': " + bytes.error().message);
    cfg.schedule.min_free_bytes = *bytes;
  }
  auto grid = optional_grid(root, "", source);
  if (!grid) return grid.error();
  cfg.schedule.retention = grid->value_or("");
  if (const auto* list = root.get("filesystem")) {
    const auto* arr = list->as_array();
    if (arr == nullptr)
      return config_error(source, "'filesystem' must be written as [[filesystem]] tables");
    for (size_t i = 0; i < arr->size(); ++i) {
      const auto* t = (*arr)[i].as_table();
      if (t == nullptr) {
        return config_error(source, "'filesystem' must be written as [[filesystem]] tables");
      }
      auto fs = parse_filesystem(*t, i, source);
      if (!fs) return fs.error();
      cfg.filesystems.push_back(std::move(*fs));
    }
  }
  return Status::ok();
}

}  // namespace

namespace {

// Deadlines and caps of connections (SECURITY.md, "Connections: which limit protects what").
Status parse_connection_limits(const toml::table& root, Config& cfg, std::string_view source) {
  auto hs = optional_seconds(root, "handshake_timeout", cfg.handshake_timeout, source);
  if (!hs) return hs.error();
  if (*hs > kMaxHandshakeTimeout) {
    return config_error(source, "'handshake_timeout' must be at most " +
                                    std::to_string(kMaxHandshakeTimeout.count()) +
                                    " seconds: a stranger holds a handshake slot that long");
  }
  cfg.handshake_timeout = *hs;
  auto frame = optional_seconds(root, "frame_timeout", cfg.frame_timeout, source);
  if (!frame) return frame.error();
  cfg.frame_timeout = *frame;
  auto idle = optional_seconds(root, "session_idle_timeout", cfg.session_idle_timeout, source);
  if (!idle) return idle.error();
  cfg.session_idle_timeout = *idle;
  for (auto [key, field, max] :
       {std::tuple{"max_handshakes", &cfg.max_handshakes, 4096},
        std::tuple{"max_handshakes_per_address", &cfg.max_handshakes_per_address, 4096},
        std::tuple{"max_sessions_per_peer", &cfg.max_sessions_per_peer, 4096},
        std::tuple{"max_handshakes_per_peer", &cfg.max_handshakes_per_peer, 4096}}) {
    auto v = optional_int(root, key, *field, 1, max, "", source);
    if (!v) return v.error();
    *field = static_cast<int>(*v);
  }
  if (cfg.max_handshakes_per_address > cfg.max_handshakes) {
    return config_error(source, "'max_handshakes_per_address' must not exceed 'max_handshakes'");
  }
  return Status::ok();
}

// The top-level keys, tables and arrays of tables a config may have.
const std::set<std::string>& top_level_keys() {
  static const std::set<std::string> kKeys = {"host",
                                              "listen",
                                              "metrics_listen",
                                              "control_socket",
                                              "log_level",
                                              "connect_timeout",
                                              "io_timeout",
                                              "lock_lease",
                                              "heartbeat_interval",
                                              "handshake_timeout",
                                              "frame_timeout",
                                              "session_idle_timeout",
                                              "max_handshakes",
                                              "max_handshakes_per_address",
                                              "max_sessions_per_peer",
                                              "max_handshakes_per_peer",
                                              "tls",
                                              "peer",
                                              "sync_interval",
                                              "max_unsent",
                                              "min_free",
                                              "max_backoff",
                                              "max_parallel_syncs",
                                              "warn_lag",
                                              "crit_lag",
                                              "max_switch_age",
                                              "retention",
                                              "filesystem"};
  return kKeys;
}

Result<toml::table> parse_toml(std::string_view toml_text, std::string_view source_name) {
  try {
    return toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << "line " << e.source().begin.line << ", column " << e.source().begin.column;
    return config_error(source_name, where.str() + ": " + std::string(e.description()));
  }
}

// This host: its name, where it listens for peers and for the command line, how much it logs.
Status parse_host_keys(const toml::table& root, Config& cfg, std::string_view source_name) {
  auto host = required_string(root, "host", "", source_name);
  if (!host) return host.error();
  cfg.host = *host;
  if (!is_valid_host_name(cfg.host)) {
    return config_error(source_name, "'host' = '" + cfg.host + "' is not a valid host name");
  }
  auto listen = optional_string(root, "listen", "", source_name);
  if (!listen) return listen.error();
  if (*listen) {
    auto ep = parse_endpoint(**listen);
    if (!ep) return config_error(source_name, "'listen': " + ep.error().message);
    cfg.listen = *ep;
  }
  auto metrics = optional_string(root, "metrics_listen", "", source_name);
  if (!metrics) return metrics.error();
  if (*metrics) {
    auto ep = parse_endpoint(**metrics);
    if (!ep) return config_error(source_name, "'metrics_listen': " + ep.error().message);
    cfg.metrics_listen = *ep;
  }
  auto sock = optional_string(root, "control_socket", "", source_name);
  if (!sock) return sock.error();
  if (*sock) cfg.control_socket = **sock;
  if (cfg.control_socket.front() != '/') {
    return config_error(source_name, "'control_socket' must be an absolute path");
  }
  auto level = optional_string(root, "log_level", "", source_name);
  if (!level) return level.error();
  if (*level) cfg.log_level = **level;
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (!kLevels.contains(cfg.log_level)) {
    return config_error(source_name, "'log_level' must be one of trace, debug, info, warn, error");
  }
  return Status::ok();
}

// Timeouts of dialling and transfers, the lock lease and the link heartbeat.
Status parse_timeouts(const toml::table& root, Config& cfg, std::string_view source_name) {
  auto ct = optional_seconds(root, "connect_timeout", cfg.connect_timeout, source_name);
  if (!ct) return ct.error();
  cfg.connect_timeout = *ct;
  auto io = optional_seconds(root, "io_timeout", cfg.io_timeout, source_name);
  if (!io) return io.error();
  cfg.io_timeout = *io;
  auto lease = optional_seconds(root, "lock_lease", cfg.lock_lease, source_name);
  if (!lease) return lease.error();
  cfg.lock_lease = *lease;
  auto beat = optional_seconds(root, "heartbeat_interval", cfg.heartbeat_interval, source_name);
  if (!beat) return beat.error();
  cfg.heartbeat_interval = *beat;
  if (cfg.heartbeat_interval > kMaxHeartbeatInterval) {
    return config_error(source_name, "'heartbeat_interval' must be at most " +
                                         std::to_string(kMaxHeartbeatInterval.count()) +
                                         " seconds: a dead link would go unnoticed for too long");
  }
  return Status::ok();
}

// [tls]: the CA, this host's certificate and key, and the optional CRL.
Status parse_tls_table(const toml::table& root, Config& cfg, std::string_view source_name) {
  const auto* tls = root.get_as<toml::table>("tls");
  if (tls == nullptr) {
    return config_error(
        source_name, "the [tls] table is missing (ca, cert, key; make them with 'zrep-agent pki')");
  }
  ZREP_RETURN_IF_ERROR(
      check_known_keys(*tls, {"ca", "cert", "key", "crl"}, "in [tls]: ", source_name));
  for (auto [key, field] : {std::pair{"ca", &cfg.ca_file}, std::pair{"cert", &cfg.cert_file},
                            std::pair{"key", &cfg.key_file}}) {
    auto v = required_string(*tls, key, "in [tls]: ", source_name);
    if (!v) return v.error();
    *field = *v;
  }
  if (tls->contains("crl")) {
    auto v = required_string(*tls, "crl", "in [tls]: ", source_name);
    if (!v) return v.error();
    cfg.crl_file = *v;
  }
  return Status::ok();
}

// [[peer]]: each one parsed, then checked against this host and the peers before it.
Status parse_peer_entries(const toml::table& root, Config& cfg, std::string_view source_name) {
  const auto* peers = root.get("peer");
  if (peers == nullptr) return Status::ok();
  const auto* arr = peers->as_array();
  if (arr == nullptr) {
    return config_error(source_name, "'peer' must be written as [[peer]] tables");
  }
  for (size_t i = 0; i < arr->size(); ++i) {
    const auto* t = (*arr)[i].as_table();
    if (t == nullptr) return config_error(source_name, "'peer' must be written as [[peer]] tables");
    auto peer = parse_peer(*t, i, source_name);
    if (!peer) return peer.error();
    if (peer->name == cfg.host) {
      return config_error(source_name, "peer '" + peer->name + "' has this host's own name");
    }
    if (cfg.find_peer(peer->name)) {
      return config_error(source_name, "peer '" + peer->name + "' is listed twice");
    }
    if (!peer->address && !cfg.listen) {
      return config_error(source_name, "peer '" + peer->name +
                                           "' has no address and this host has no 'listen': "
                                           "the two could never connect; give one of them");
    }
    cfg.peers.push_back(std::move(*peer));
  }
  return Status::ok();
}

}  // namespace

Result<Config> parse_config(std::string_view toml_text, std::string_view source_name) {
  auto root = parse_toml(toml_text, source_name);
  if (!root) return root.error();
  ZREP_RETURN_IF_ERROR(check_known_keys(*root, top_level_keys(), "", source_name));
  Config cfg;
  cfg.source = std::string(source_name);
  ZREP_RETURN_IF_ERROR(parse_host_keys(*root, cfg, source_name));
  ZREP_RETURN_IF_ERROR(parse_timeouts(*root, cfg, source_name));
  ZREP_RETURN_IF_ERROR(parse_connection_limits(*root, cfg, source_name));
  ZREP_RETURN_IF_ERROR(parse_schedule(*root, cfg, source_name));
  ZREP_RETURN_IF_ERROR(parse_tls_table(*root, cfg, source_name));
  ZREP_RETURN_IF_ERROR(parse_peer_entries(*root, cfg, source_name));
  return cfg;
}

Result<Config> load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return make_error(
        ErrorCode::kNotFound,
        "cannot read config file " + path +
            " (give another with --config FILE, or see deploy/zrep-agent.toml.example)");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

}  // namespace zrep
