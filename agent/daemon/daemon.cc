#include "agent/daemon/daemon.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <asio.hpp>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "agent/daemon/control_server.h"
#include "agent/daemon/metrics_server.h"
#include "agent/daemon/metrics_text.h"
#include "agent/daemon/reload.h"
#include "agent/daemon/scheduler.h"
#include "agent/daemon/sd_notify.h"
#include "agent/endpoint/peer_service.h"
#include "agent/logic/metric_names.h"
#include "agent/ops/replicator.h"
#include "agent/rpc/conn_limits.h"
#include "agent/rpc/link.h"
#include "agent/rpc/net.h"
#include "agent/rpc/session_registry.h"
#include "common/metrics.h"
#include "common/unique_fd.h"
#include "common/unix_time.h"

namespace zrep {
namespace {

std::string random_instance_id() {
  std::random_device rd;
  std::uniform_int_distribution<uint64_t> dist;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(dist(rd)));
  return buf;
}

// Removes a stale control socket, refusing when a live daemon answers on it.
Status prepare_control_socket(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) {
    return make_error(ErrorCode::kInternal,
                      "cannot create the directory of " + path + ": " + ec.message());
  }
  if (!fs::exists(fs::symlink_status(path, ec))) return Status::ok();
  if (auto fd = unix_connect(path)) {
    ::close(*fd);
    return make_error(ErrorCode::kAlreadyExists,
                      "another zrep-agent daemon already serves " + path +
                          "; stop it first, or give this one another control_socket");
  }
  if (!fs::is_socket(fs::symlink_status(path, ec))) {
    return make_error(ErrorCode::kAlreadyExists,
                      path + " exists and is not a socket; refusing to remove it");
  }
  fs::remove(path, ec);
  return Status::ok();
}

bool out_of_resources(const asio::error_code& ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory || ec.value() == ENFILE || ec.value() == EMFILE;
}

}  // namespace

struct Daemon::State {
  Config config;
  Zfs zfs;
  std::shared_ptr<TlsContext> tls;
  std::string instance_id = random_instance_id();
  SessionRegistry sessions;
  LockTable locks{config.host};
  LinkHub links{config, *tls, sessions,
                [this] { return make_hello(config, zfs.features(), instance_id); },
                [this](PeerSession& session) { serve_requests(session); }};
  Replicator replicator{config, zfs, *tls, instance_id, locks, &sessions, &links};
  Scheduler scheduler{config, replicator, sessions};
  asio::io_context io;
  asio::ip::tcp::acceptor peer_acceptor{io};
  asio::local::stream_protocol::acceptor control_acceptor{io};
  asio::signal_set signals{io, SIGINT, SIGTERM};
  asio::signal_set hangups{io, SIGHUP};  // reload (reload.h)
  // Connections in their handshake (accept -> TLS -> Hello), bounded in all and per source
  // address, so idle strangers cannot use up the slots, threads and descriptors that peers
  // need; checked and counted in one step on the io thread, given back when the handshake ends.
  std::shared_ptr<SlotCounter> handshakes =
      SlotCounter::create(config.max_handshakes, config.max_handshakes_per_address);
  // By the peer's certificate name: sessions in their Hello, and sessions open at once.
  std::shared_ptr<SlotCounter> peer_handshakes = SlotCounter::create(
      config.max_handshakes_per_peer * std::max(1, static_cast<int>(config.peers.size())),
      config.max_handshakes_per_peer);
  std::shared_ptr<SlotCounter> peer_sessions = SlotCounter::create(
      config.max_sessions_per_peer * std::max(1, static_cast<int>(config.peers.size())),
      config.max_sessions_per_peer);
  // Commands on the control socket at once: each holds a thread for as long as it runs (a sync
  // of everything may take hours), so a script that loops on `status` cannot use up threads.
  static constexpr int kMaxControlCommands = 64;
  std::shared_ptr<SlotCounter> control_slots =
      SlotCounter::create(kMaxControlCommands, kMaxControlCommands);
  AcceptBackoff accept_backoff, control_backoff;  // io thread only
  asio::steady_timer accept_retry{io}, control_retry{io};
  // With [tls] crl: rereads the CRL file when it changes and ends the sessions of certificates
  // it revokes (handshakes check it too; this catches sessions that were open already).
  asio::steady_timer crl_timer{io};
  TlsContext::CrlState crl_seen;
  LogThrottle accept_log, refusal_log, handshake_log;
  // systemd (Type=notify): READY=1 once the sockets are bound; WATCHDOG=1 from this io loop.
  SystemdNotifier systemd = SystemdNotifier::from_environment();
  asio::steady_timer watchdog_timer{io};
  // metrics_listen: GET /metrics (agent/daemon/metrics_server.h).
  MetricsServer metrics_server{io, sessions, [this] { return scrape(); }};

  State(Config c, Zfs z, std::shared_ptr<TlsContext> t)
      : config(std::move(c)), zfs(std::move(z)), tls(std::move(t)) {
    describe_metrics(metrics::Registry::global());
  }

  // One scrape of the metrics endpoint (on a session thread: it reads every filesystem).
  std::string scrape();
  static constexpr std::chrono::seconds kCrlCheckInterval{5};

  // Every kCrlCheckInterval: rereads the CRL and closes the sessions of revoked certificates.
  void watch_crl();
  // At half the unit's WatchdogSec: tells systemd the io loop still turns. A loop that hangs
  // (or a deadlock on the io thread) stops the pings, and systemd restarts the service.
  void feed_watchdog(std::chrono::microseconds period);
  // SIGINT/SIGTERM: stops accepting, ends every session, lets run() return.
  void stop(int signo);
  // SIGHUP, each time: reloads the config (reload.h), telling systemd RELOADING=1, READY=1.
  void wait_for_hangup();
  // Accepts peer connections on the io thread and starts each one's handshake on a thread.
  void accept_peers();
  // accept_peers' failure path: logs (throttled), then accepts again, or later when out of
  // descriptors.
  void peer_accept_failed(const asio::error_code& ec);
  // Takes a handshake slot for the connection and serves it on a session thread; refuses it
  // when the handshakes in progress are at their limit.
  void start_handshake(asio::ip::tcp::socket socket);
  void accept_control();
  // On a session thread: the TLS handshake and Hello, then the session by its purpose.
  void serve_peer(UniqueFd conn, const std::string& from,
                  std::chrono::steady_clock::time_point deadline,
                  std::shared_ptr<SlotCounter::Slot> slot);
  // Serves a peer's requests on a session (an accepted one, or a REVERSE one this host opened
  // because the peer asked over its link) until the peer hangs up.
  void serve_requests(PeerSession& session);
  void serve_control(UniqueFd conn, std::shared_ptr<SlotCounter::Slot> slot);
  // Answers a control connection with an error at once (on the io thread) and closes it.
  static void refuse_control(UniqueFd conn, const std::string& why);
  // Binds the peer listener (with `listen`) and the control socket.
  Status bind();
};

void Daemon::State::watch_crl() {
  crl_timer.expires_after(kCrlCheckInterval);
  crl_timer.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    TlsContext::CrlState now = tls->refresh_crl();
    if (now.problem != crl_seen.problem && !now.problem.empty()) {
      spdlog::error("TLS: {}; the revocations loaded before stay in force", now.problem);
    }
    if (now.generation != crl_seen.generation) {
      spdlog::info("TLS: reloaded {}: {} certificate(s) revoked", config.tls_paths().crl_file,
                   now.revoked);
      int closed = sessions.close_if([this](ByteStream& b) {
        auto* t = dynamic_cast<TlsStream*>(&b);
        return t != nullptr && tls->is_revoked(t->peer_serial());
      });
      if (closed > 0) {
        spdlog::warn("TLS: closed {} session(s) of revoked certificates", closed);
      }
    }
    crl_seen = std::move(now);
    watch_crl();
  });
}

std::string Daemon::State::scrape() {
  return metrics_text(collect_scrape({config, zfs, replicator, links, *peer_sessions}),
                      metrics::Registry::global());
}

void Daemon::State::feed_watchdog(std::chrono::microseconds period) {
  systemd.notify("WATCHDOG=1");
  watchdog_timer.expires_after(period);
  watchdog_timer.async_wait([this, period](const asio::error_code& ec) {
    if (!ec) feed_watchdog(period);
  });
}

void Daemon::State::wait_for_hangup() {
  hangups.async_wait([this](const asio::error_code& ec, int) {
    if (ec) return;
    systemd.notify(reloading_notification());
    if (reload_config({config, *tls, sessions, links, scheduler})) {
      crl_seen = {};  // the new files: look at the CRL (and the sessions it revokes) afresh
      if (config.tls_paths().crl_file.empty()) {
        crl_timer.cancel();
      } else {
        watch_crl();
      }
    }
    systemd.notify("READY=1\nSTATUS=serving; control on " + config.control_socket);
    wait_for_hangup();
  });
}

void Daemon::State::stop(int signo) {
  spdlog::info("signal {}: stopping", signo);
  systemd.notify("STOPPING=1");
  asio::error_code ignored;
  hangups.cancel(ignored);
  peer_acceptor.close(ignored);
  accept_retry.cancel();
  control_retry.cancel();
  crl_timer.cancel();
  watchdog_timer.cancel();
  metrics_server.stop();
  control_acceptor.close(ignored);
  links.stop();
  sessions.stop();
}

void Daemon::State::accept_peers() {
  peer_acceptor.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      peer_accept_failed(ec);
      return;
    }
    accept_backoff.succeeded();
    start_handshake(std::move(socket));
    accept_peers();
  });
}

void Daemon::State::peer_accept_failed(const asio::error_code& ec) {
  int suppressed = 0;
  if (accept_log.allow(&suppressed)) {
    spdlog::warn("accepting a peer connection failed: {}{}", ec.message(),
                 suppressed > 0 ? fmt::format(" ({} more like it)", suppressed) : "");
  }
  if (out_of_resources(ec)) {
    // Out of descriptors: the pending connection stays queued, and accepting again at once
    // would fail at once, spinning a core. Wait for sessions to end.
    accept_retry.expires_after(accept_backoff.failed());
    accept_retry.async_wait([this](const asio::error_code& timer_ec) {
      if (!timer_ec) accept_peers();
    });
    return;
  }
  accept_peers();
}

void Daemon::State::start_handshake(asio::ip::tcp::socket socket) {
  // The handshake's one deadline starts now, at the TCP accept.
  const auto deadline = std::chrono::steady_clock::now() + config.handshake_timeout;
  asio::error_code addr_ec;
  auto remote = socket.remote_endpoint(addr_ec);  // fails when the client already reset
  std::string from = addr_ec ? std::string("?") : remote.address().to_string();
  asio::error_code opt_ec;
  socket.set_option(asio::socket_base::keep_alive(true), opt_ec);
  SlotCounter::Refusal why = SlotCounter::Refusal::kNone;
  std::shared_ptr<SlotCounter::Slot> slot = handshakes->try_acquire(from, &why);
  if (!slot) {
    int suppressed = 0;
    if (refusal_log.allow(&suppressed)) {
      spdlog::warn("refusing a connection from {}: {}{}", from,
                   why == SlotCounter::Refusal::kPerKey
                       ? fmt::format("{} handshakes from that address in progress already "
                                     "(max_handshakes_per_address)",
                                     handshakes->per_key_limit())
                       : fmt::format("{} handshakes in progress already (max_handshakes)",
                                     handshakes->global_limit()),
                   suppressed > 0
                       ? fmt::format(" ({} more refused since the last message)", suppressed)
                       : "");
    }
    metrics::Registry::global().add(metric::kHandshakeFailures, {{"reason", "limit"}});
    socket.close(opt_ec);
    return;
  }
  // The connection's one owner until the session thread takes it: a refused or failed spawn
  // closes it with the last copy.
  auto conn = std::make_shared<UniqueFd>(socket.release());
  (void)sessions.spawn(
      // Moved on: the thread must not keep a copy of the slot past the handshake.
      [this, conn, from, deadline, slot]() mutable {
        serve_peer(std::move(*conn), from, deadline, std::move(slot));
      });
}

void Daemon::State::accept_control() {
  control_acceptor.async_accept(
      [this](const asio::error_code& ec, asio::local::stream_protocol::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (out_of_resources(ec)) {  // as for peers: wait, do not spin
          control_retry.expires_after(control_backoff.failed());
          control_retry.async_wait([this](const asio::error_code& timer_ec) {
            if (!timer_ec) accept_control();
          });
          return;
        }
        if (!ec) {
          control_backoff.succeeded();
          auto conn = std::make_shared<UniqueFd>(socket.release());
          auto slot = control_slots->try_acquire("control");
          if (!slot) {
            refuse_control(std::move(*conn),
                           std::to_string(kMaxControlCommands) +
                               " commands are running already; try again when one ends");
          } else {
            (void)sessions.spawn([this, conn, slot] { serve_control(std::move(*conn), slot); });
          }
        }
        accept_control();
      });
}

void Daemon::State::serve_peer(UniqueFd conn, const std::string& from,
                               std::chrono::steady_clock::time_point deadline,
                               std::shared_ptr<SlotCounter::Slot> slot) {
  auto session =
      accept_peer(config, *tls, conn.release(), make_hello(config, zfs.features(), instance_id),
                  deadline, AcceptLimits{peer_handshakes.get(), peer_sessions.get()});
  slot.reset();  // the handshake is over: its slot is free for the next one
  if (!session) {
    metrics::Registry::global().add(
        metric::kHandshakeFailures,
        {{"reason", std::string(error_code_name(session.error().code))}});
    int suppressed = 0;
    if (handshake_log.allow(&suppressed)) {
      spdlog::warn("peer connection from {} refused: {}{}", from, session.error().message,
                   suppressed > 0
                       ? fmt::format(" ({} more refused since the last message)", suppressed)
                       : "");
    }
    return;
  }
  PeerSession& peer = **session;
  switch (peer.peer_hello.purpose()) {
    case peer::PURPOSE_LINK:
      links.serve_link(std::move(*session));
      return;
    case peer::PURPOSE_REVERSE:
      if (!links.hand_over(*session)) {
        spdlog::warn("{} opened a session this host did not ask for (from {}): closed",
                     peer.peer_name, from);
      }
      return;
    case peer::PURPOSE_REQUESTS: {
      ScopedStream registered(sessions, peer.stream.get());
      spdlog::info("peer {} connected from {}", peer.peer_name, from);
      serve_requests(peer);
      return;
    }
    default:  // accept_peer refuses other values
      return;
  }
}

void Daemon::State::serve_requests(PeerSession& session) {
  PeerHooks hooks;
  hooks.locks = &locks;
  hooks.takeover = [this](const std::string& fs, const std::string& snapshot,
                          const std::string& peer) -> Result<FailoverOutcome> {
    return replicator.failover_for_peer(fs, snapshot, peer);
  };
  hooks.check_later = [this](const std::string& fs) { replicator.check_later(fs); };
  PeerService service(config, zfs, session, std::move(hooks));
  Status ended = service.serve();
  if (ended.code() == ErrorCode::kUnavailable) {
    spdlog::debug("peer {} disconnected", session.peer_name);
  } else {
    spdlog::warn("peer {} session ended: {}", session.peer_name, ended.message());
  }
}

void Daemon::State::refuse_control(UniqueFd conn, const std::string& why) {
  FdStream stream(conn.release());
  FrameChannel channel(stream);
  control::Reply reply;
  reply.mutable_result()->set_ok(false);
  reply.mutable_result()->set_error_code(std::string(error_code_name(ErrorCode::kBusy)));
  reply.mutable_result()->set_message(why);
  (void)send_message(channel, reply);  // a small reply into an empty socket buffer
  spdlog::warn("refused a command on the control socket: {}", why);
}

void Daemon::State::serve_control(UniqueFd conn, std::shared_ptr<SlotCounter::Slot> slot) {
  (void)slot;  // held until the command ends
  FdStream stream(conn.release());
  ScopedStream registered(sessions, &stream);
  FrameChannel channel(stream);
  serve_control_connection(stream.fd(), channel, replicator);
}

Status Daemon::State::bind() {
  if (config.listen) {
    asio::error_code ec;
    asio::ip::tcp::resolver resolver(io);
    auto results = resolver.resolve(config.listen->host, std::to_string(config.listen->port), ec);
    if (ec || results.empty()) {
      return make_error(
          ErrorCode::kInvalidArgument,
          "cannot resolve listen address " + config.listen->to_string() + ": " + ec.message());
    }
    auto ep = results.begin()->endpoint();
    peer_acceptor.open(ep.protocol(), ec);
    if (!ec) peer_acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) peer_acceptor.bind(ep, ec);
    if (!ec) peer_acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return make_error(ErrorCode::kUnavailable,
                        "cannot listen on " + config.listen->to_string() + ": " + ec.message());
    }
  }
  if (config.metrics_listen) ZREP_RETURN_IF_ERROR(metrics_server.bind(*config.metrics_listen));
  ZREP_RETURN_IF_ERROR(prepare_control_socket(config.control_socket));
  asio::error_code ec;
  asio::local::stream_protocol::endpoint ep(config.control_socket);
  mode_t old = ::umask(0077);  // the socket is born 0600: root only
  control_acceptor.open(ep.protocol(), ec);
  if (!ec) control_acceptor.bind(ep, ec);
  if (!ec) control_acceptor.listen(asio::socket_base::max_listen_connections, ec);
  ::umask(old);
  if (ec) {
    return make_error(ErrorCode::kUnavailable, "cannot listen on control socket " +
                                                   config.control_socket + ": " + ec.message());
  }
  ::chmod(config.control_socket.c_str(), 0600);
  return Status::ok();
}

Daemon::Daemon(Config config, Zfs zfs, std::shared_ptr<TlsContext> tls)
    : state_(std::make_unique<State>(std::move(config), std::move(zfs), std::move(tls))) {}

Daemon::~Daemon() = default;

Status Daemon::run() {
  State& s = *state_;
  ZREP_RETURN_IF_ERROR(s.bind());
  s.signals.async_wait([&s](const asio::error_code& ec, int signo) {
    if (!ec) s.stop(signo);
  });
  s.wait_for_hangup();
  if (s.config.listen) s.accept_peers();
  s.accept_control();
  if (s.config.metrics_listen) s.metrics_server.start();
  if (!s.config.crl_file.empty()) {
    s.crl_seen = s.tls->refresh_crl();
    s.watch_crl();
  }
  spdlog::info("zrep-agent {} on {} ({}): peers on {}, control on {}{}", kAgentVersion,
               s.config.host, s.zfs.features().version,
               s.config.listen ? s.config.listen->to_string() : std::string("(not listening)"),
               s.config.control_socket,
               s.config.metrics_listen
                   ? ", metrics on http://" + s.config.metrics_listen->to_string() + "/metrics"
                   : std::string());
  s.links.set_on_up([&s](const std::string& peer) { s.scheduler.peer_answers(peer); });
  s.scheduler.start();
  s.links.start();
  s.systemd.notify("READY=1\nSTATUS=serving; control on " + s.config.control_socket);
  if (auto period = s.systemd.watchdog_period()) s.feed_watchdog(*period);
  s.io.run();
  s.scheduler.stop();
  // A link keeper may be in the middle of dialling a peer that does not answer: give it the
  // time a dial can take (connect, TLS, Hello), so a stop does not end in a forced exit.
  const auto grace = std::max<std::chrono::seconds>(
      std::chrono::seconds(10), s.config.connect_timeout + std::chrono::seconds(35));
  bool idle = s.sessions.wait_idle(grace);
  std::error_code ec;
  std::filesystem::remove(s.config.control_socket, ec);
  if (!idle) {
    // Session threads still use the daemon's state: leave without destroying it. Their zfs
    // children see their pipes close and stop; a partial receive is discarded by zfs.
    spdlog::warn("some sessions did not end within {} s; exiting anyway", grace.count());
    spdlog::shutdown();
    std::_Exit(1);
  }
  spdlog::info("stopped");
  return Status::ok();
}

}  // namespace zrep
