#include "agent/cli/cli.h"

#include <signal.h>
#include <unistd.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "agent/cli/cli_format.h"
#include "agent/config/config.h"
#include "agent/daemon/daemon.h"
#include "agent/rpc/net.h"
#include "agent/rpc/peer_session.h"
#include "crypto/pki.h"
#include "crypto/tls.h"
#include "proto/control.pb.h"

namespace zrep {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNoDaemon = 3;

struct GlobalOptions {
  std::string config_path;
  std::string socket_path;
  bool json = false;
};

int fail(const std::string& message, int code = kExitFailed) {
  std::cerr << "zrep-agent: " << message << "\n";
  return code;
}

std::string default_config_path() {
  const char* env = std::getenv("ZREP_AGENT_CONFIG");
  return env != nullptr && *env != '\0' ? env : kDefaultConfigPath;
}

int serve(const GlobalOptions& g) {
  auto config = load_config(g.config_path);
  if (!config) return fail(config.error().message);
  spdlog::set_default_logger(spdlog::stderr_color_mt("zrep-agent"));
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [" + config->host + "] %v");
  ::signal(SIGPIPE, SIG_IGN);
  auto zfs = Zfs::probe();
  if (!zfs) return fail(zfs.error().message);
  auto tls =
      TlsContext::create({config->ca_file, config->cert_file, config->key_file, config->crl_file});
  if (!tls) return fail(tls.error().message);
  Daemon daemon(std::move(*config), std::move(*zfs), std::move(*tls));
  Status s = daemon.run();
  if (!s) return fail(s.message());
  return 0;
}

// The daemon's control socket: --socket, else the config's control_socket. A config that was
// named (--config or $ZREP_AGENT_CONFIG) must be readable; without one, the default socket.
Result<std::string> control_socket_path(const GlobalOptions& g) {
  if (!g.socket_path.empty()) return g.socket_path;
  auto config = load_config(g.config_path);
  if (config) return config->control_socket;
  if (g.config_path != kDefaultConfigPath) return config.error();
  return std::string(kDefaultControlSocket);
}

void print_progress(const control::Progress& p) {
  static auto last = std::chrono::steady_clock::time_point();
  auto now = std::chrono::steady_clock::now();
  if (now - last < std::chrono::milliseconds(200)) return;
  last = now;
  std::string line = p.fs() + ": " + p.phase() + " " + human_bytes(p.raw_bytes());
  if (p.bytes_per_second() > 0) {
    line += " at " + human_bytes(static_cast<uint64_t>(p.bytes_per_second())) + "/s";
    if (p.estimated_total() > p.raw_bytes()) {
      auto eta = static_cast<int64_t>(static_cast<double>(p.estimated_total() - p.raw_bytes()) /
                                      p.bytes_per_second());
      line += ", " + human_duration(eta) + " left";
    }
  }
  std::cerr << "\r\033[K" << line << std::flush;
}

// Sends one request to the daemon and prints its result. `render` formats a successful result.
int call_daemon(const GlobalOptions& g, control::Request req,
                const std::function<std::string(const nlohmann::json&)>& render) {
  ::signal(SIGPIPE, SIG_IGN);
  auto socket_path = control_socket_path(g);
  if (!socket_path) return fail(socket_path.error().message, kExitUsage);
  const std::string& path = *socket_path;
  auto fd = unix_connect(path);
  if (!fd) {
    if (fd.error().code == ErrorCode::kUnavailable) {
      return fail("the zrep-agent daemon is not running (nothing listens on " + path +
                      "). Start it with 'systemctl start zrep-agent' or 'zrep-agent serve "
                      "--config " +
                      g.config_path + "'",
                  kExitNoDaemon);
    }
    return fail("cannot reach the daemon at " + path + ": " + fd.error().message +
                (fd.error().code == ErrorCode::kPermissionDenied ? " (run as root)" : ""));
  }
  FdStream stream(*fd);
  FrameChannel channel(stream);
  req.set_protocol_version(kProtocolVersion);
  if (Status s = send_message(channel, req); !s) return fail(s.message());
  const bool show_progress = !g.json && ::isatty(STDERR_FILENO);
  bool progress_shown = false;
  for (;;) {
    control::Reply reply;
    // Long transfers send progress at least every second; a day of silence is a hung daemon.
    if (Status s = receive_message(channel, reply, std::chrono::hours(24)); !s) {
      return fail("lost the daemon's answer: " + s.message());
    }
    if (reply.has_progress()) {
      if (show_progress) {
        print_progress(reply.progress());
        progress_shown = true;
      }
      continue;
    }
    if (progress_shown) std::cerr << "\r\033[K" << std::flush;
    const auto& result = reply.result();
    if (!result.ok()) {
      if (g.json) {
        std::cout << nlohmann::json{{"ok", false},
                                    {"error", result.error_code()},
                                    {"message", result.message()}}
                         .dump(2)
                  << "\n";
        return kExitFailed;
      }
      return fail(result.message());
    }
    auto parsed = nlohmann::json::parse(result.json(), nullptr, false);
    if (parsed.is_discarded()) return fail("the daemon sent a malformed result");
    if (g.json) {
      std::cout << parsed.dump(2) << "\n";
    } else {
      std::cout << render(parsed);
    }
    return 0;
  }
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{
      "zrep-agent: replicates ZFS filesystems between paired hosts over mutually authenticated "
      "TLS (planned failover and takeover are not there yet: see the README)."};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand too
  GlobalOptions g;
  g.config_path = default_config_path();
  app.add_option(
      "-c,--config", g.config_path,
      "config file (default: $ZREP_AGENT_CONFIG or " + std::string(kDefaultConfigPath) + ")");
  app.add_option("--socket", g.socket_path,
                 "control socket of the daemon (default: from the config)");
  app.add_flag("--json", g.json, "print the result as JSON");
  app.set_version_flag("--version", std::string("zrep-agent ") + kAgentVersion);

  int rc = 0;
  auto* serve_cmd = app.add_subcommand(
      "serve", "run the daemon (in the foreground; see deploy/zrep-agent.service)");
  serve_cmd->callback([&] { rc = serve(g); });

  control::Request req;
  auto* init_cmd = app.add_subcommand(
      "init", "pair FS with REMOTEHOST:DESTFS and send it in full (DESTFS must not exist yet)");
  auto* init = req.mutable_init();
  std::string fs, remote, dest;
  bool force = false;
  init_cmd->add_option("FS", fs, "local filesystem to replicate")->required();
  init_cmd->add_option("REMOTEHOST", remote, "peer name (a [[peer]] in the config)")->required();
  init_cmd->add_option("DESTFS", dest, "filesystem to create on the peer")->required();
  init_cmd->add_flag("--force", force, "replace DESTFS if it exists (destroys its data there)");
  bool recursive = false;
  init_cmd->add_flag("-R,--recursive", recursive,
                     "FS and every filesystem below it, with one recursive snapshot per run; "
                     "filesystems created below it later are picked up by the next sync");
  init_cmd->callback([&] {
    init->set_fs(fs);
    init->set_remote_host(remote);
    init->set_dest_fs(dest);
    init->set_force(force);
    init->set_recursive(recursive);
    rc = call_daemon(g, req, format_init);
  });

  std::vector<std::string> names;
  auto* sync_cmd =
      app.add_subcommand("sync", "send what changed since the last sync: FS... or 'all'");
  sync_cmd->add_option("FS", names, "filesystems, or 'all' for every filesystem this host masters")
      ->required();
  sync_cmd->callback([&] {
    control::Request r;
    auto* s = r.mutable_sync();
    if (names.size() == 1 && names[0] == "all") {
      s->set_all(true);
    } else {
      for (const auto& n : names) s->add_fs(n);
    }
    rc = call_daemon(g, r, format_sync);
  });

  std::vector<std::string> list_names;
  bool list_incoming = false;
  std::string list_snaps_of;
  auto* list_cmd = app.add_subcommand(
      "list", "filesystems this host masters, with their pairing (-L: replicas held here)");
  list_cmd->add_option("FS", list_names, "only these filesystems (any role)");
  list_cmd->add_flag("-L,--incoming", list_incoming, "the replicas this host holds for peers");
  list_cmd->add_option("-s,--snapshots", list_snaps_of,
                       "the zrep snapshots of FS, with sent state");
  list_cmd->callback([&] {
    control::Request r;
    auto* l = r.mutable_list();
    for (const auto& n : list_names) l->add_fs(n);
    l->set_incoming(list_incoming);
    l->set_snapshots_of(list_snaps_of);
    rc = call_daemon(g, r, list_snaps_of.empty() ? format_list : format_snapshot_list);
  });

  std::vector<std::string> status_names;
  auto* status_cmd =
      app.add_subcommand("status", "last sync, lag, role and errors of each filesystem");
  status_cmd->add_option("FS", status_names, "only these filesystems");
  status_cmd->callback([&] {
    control::Request r;
    for (const auto& n : status_names) r.mutable_status()->add_fs(n);
    r.mutable_status();
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    rc = call_daemon(g, r, [now](const nlohmann::json& j) { return format_status(j, now); });
  });

  std::vector<std::string> expire_names;
  auto* expire_cmd = app.add_subcommand(
      "expire",
      "apply zrep:savecount (default 5) to zrep snapshots here and on the peer: FS... or 'all'");
  expire_cmd->add_option("FS", expire_names, "filesystems, or 'all'")->required();
  expire_cmd->callback([&] {
    control::Request r;
    auto* e = r.mutable_expire();
    if (expire_names.size() == 1 && expire_names[0] == "all") {
      e->set_all(true);
    } else {
      for (const auto& n : expire_names) e->add_fs(n);
    }
    rc = call_daemon(g, r, format_expire);
  });

  std::string cd_fs, cd_host, cd_dest;
  auto* cd_cmd = app.add_subcommand(
      "changedest",
      "replicate FS to REMOTEHOST:DESTFS from now on; DESTFS must exist and share a snapshot "
      "with FS (found by GUID), so no full resend is needed");
  cd_cmd->add_option("FS", cd_fs, "filesystem this host masters")->required();
  cd_cmd->add_option("REMOTEHOST", cd_host, "peer name")->required();
  cd_cmd->add_option("DESTFS", cd_dest, "existing filesystem on the peer")->required();
  cd_cmd->callback([&] {
    control::Request r;
    r.mutable_changedest()->set_fs(cd_fs);
    r.mutable_changedest()->set_remote_host(cd_host);
    r.mutable_changedest()->set_dest_fs(cd_dest);
    rc = call_daemon(g, r, [](const nlohmann::json& j) {
      return j.value("fs", std::string()) + " now replicates to " +
             j.value("dest_host", std::string()) + ":" + j.value("dest_fs", std::string()) +
             " (was " + j.value("previous", std::string()) + "); common snapshot " +
             j.value("common_snapshot", std::string()) + "\n";
    });
  });

  std::string clear_fs, clear_host;
  bool clear_yes = false;
  auto* clear_cmd = app.add_subcommand(
      "clear",
      "remove FS's replication config (zrep properties), here and with REMOTEHOST on the peer "
      "too; never data or snapshots");
  clear_cmd->add_option("FS", clear_fs, "filesystem")->required();
  clear_cmd->add_option("REMOTEHOST", clear_host, "also clear the replica on this peer");
  clear_cmd->add_flag("--yes", clear_yes, "really do it");
  clear_cmd->callback([&] {
    if (!clear_yes) {
      rc = fail("clear stops replication of " + clear_fs +
                    " and removes its zrep properties (data and snapshots stay). Run again "
                    "with --yes to do it",
                kExitUsage);
      return;
    }
    control::Request r;
    r.mutable_clear()->set_fs(clear_fs);
    r.mutable_clear()->set_remote_host(clear_host);
    rc = call_daemon(g, r, [](const nlohmann::json& j) {
      std::string out = "cleared the zrep properties of " + j.value("fs", std::string());
      if (j.contains("cleared_on_peer")) {
        out += " and of its replica " + j["cleared_on_peer"].get<std::string>();
      }
      return out + "; data and snapshots are untouched\n";
    });
  });

  std::string fo_target;
  auto* fo_cmd = app.add_subcommand(
      "failover",
      "planned role switch, from either host: fence the master, send a final snapshot, make "
      "the standby the master (epoch + 1) and the old master its read-only standby");
  fo_cmd
      ->add_option("FS[@SNAP]", fo_target,
                   "filesystem here; with @SNAP, switch at that common snapshot (both sides "
                   "roll back to it)")
      ->required();
  fo_cmd->callback([&] {
    control::Request r;
    auto at = fo_target.find('@');
    r.mutable_failover()->set_fs(fo_target.substr(0, at));
    if (at != std::string::npos) r.mutable_failover()->set_snapshot(fo_target.substr(at + 1));
    rc = call_daemon(g, r, format_failover);
  });

  std::string to_fs;
  bool to_force = false;
  auto* to_cmd = app.add_subcommand(
      "takeover",
      "on the standby: become the master. Asks the master for a planned failover; with --force "
      "(the master is down) promotes the last received snapshot here");
  to_cmd->add_option("FS", to_fs, "the replica on this host")->required();
  to_cmd->add_flag("--force", to_force,
                   "the master is unreachable: take over without it (what it did not send yet "
                   "stays on it; it demotes itself when it comes back)");
  to_cmd->callback([&] {
    control::Request r;
    r.mutable_takeover()->set_fs(to_fs);
    r.mutable_takeover()->set_force(to_force);
    rc = call_daemon(g, r, format_failover);
  });

  std::string rs_fs;
  auto* rs_cmd = app.add_subcommand(
      "resync",
      "on a demoted old master: keep its divergent data aside (FS-diverged-eN) and make FS the "
      "new master's standby again");
  rs_cmd->add_option("FS", rs_fs, "the demoted filesystem here")->required();
  rs_cmd->callback([&] {
    control::Request r;
    r.mutable_resync()->set_fs(rs_fs);
    rc = call_daemon(g, r, format_failover);
  });

  auto* pki_cmd = app.add_subcommand("pki", "make a CA and host certificates, revoke them");
  pki_cmd->require_subcommand(1);
  std::string pki_dir, pki_host;
  auto* pki_init_cmd = pki_cmd->add_subcommand("init", "make a new CA in DIR (ca.key, ca.crt)");
  pki_init_cmd->add_option("DIR", pki_dir, "directory for the CA")->required();
  pki_init_cmd->callback([&] {
    Status s = pki_init(pki_dir);
    rc = s ? 0 : fail(s.message());
    if (s)
      std::cout << "CA written to " << pki_dir << "/ca.crt (key: " << pki_dir
                << "/ca.key, mode 0600)\n";
  });
  auto* pki_issue_cmd =
      pki_cmd->add_subcommand("issue", "issue a key and certificate for HOST from DIR's CA");
  pki_issue_cmd->add_option("DIR", pki_dir, "directory holding the CA")->required();
  pki_issue_cmd->add_option("HOST", pki_host, "host name (as in 'host' of its config)")->required();
  pki_issue_cmd->callback([&] {
    Status s = pki_issue(pki_dir, pki_host);
    rc = s ? 0 : fail(s.message());
    if (s) {
      std::cout << "certificate for " << pki_host << " written to " << pki_dir << "/" << pki_host
                << ".crt (key: " << pki_dir << "/" << pki_host << ".key, mode 0600)\n";
    }
  });
  auto* pki_revoke_cmd = pki_cmd->add_subcommand(
      "revoke",
      "revoke HOST's certificate: add it to DIR/crl.pem (copy that to [tls] crl on "
      "every host) and move HOST.crt/.key aside for a new 'pki issue'");
  pki_revoke_cmd->add_option("DIR", pki_dir, "directory holding the CA")->required();
  pki_revoke_cmd->add_option("HOST", pki_host, "host whose certificate DIR/HOST.crt to revoke")
      ->required();
  pki_revoke_cmd->callback([&] {
    auto r = pki_revoke(pki_dir, pki_host);
    rc = r ? 0 : fail(r.status().message());
    if (r) {
      std::cout << "revoked " << r->cert_file << " (serial " << r->serial << "), moved to "
                << r->moved_to << "\n"
                << r->crl_file << " now lists " << r->revoked << " certificate(s): copy it to "
                << "the file [tls] crl names on every host (agents reread it within 5 s)\n";
    }
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  return rc;
}

}  // namespace zrep
