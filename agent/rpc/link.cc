#include "agent/rpc/link.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <thread>

#include "agent/rpc/net.h"
#include "common/sanitize.h"
#include "common/unix_time.h"

namespace zrep {
namespace {

// A dead link is dialled again after this, doubling up to the cap.
constexpr std::chrono::seconds kFirstRedial{1};
constexpr std::chrono::seconds kMaxRedial{30};
// A peer that said it needs no link is asked again after this (its config may change).
constexpr std::chrono::seconds kRecheck{60};
// How many REVERSE sessions one peer may have open here at once.
constexpr int kMaxReverseSessions = 64;
// How many sessions the listener asks one peer for at a time (the rest wait their turn): each
// is a TLS handshake on both sides, and a burst of them must not crowd out other peers.
constexpr int kMaxAsking = 4;
// The REVERSE session's own handshake, on top of connect_timeout.
constexpr std::chrono::seconds kHandshakeAllowance{15};

std::string new_nonce() {
  std::random_device rd;
  std::uniform_int_distribution<uint32_t> dist;
  char buf[33];
  for (int i = 0; i < 4; ++i) std::snprintf(buf + 8 * i, 9, "%08x", dist(rd));
  return std::string(buf, 32);
}

// How long a link may stay silent before it is dead: three heartbeats, at the longer of the two
// sides' intervals. The peer's interval counts only up to the largest any config may set: a peer
// claiming a day would keep a dead link "up" for three.
std::chrono::milliseconds link_silence(std::chrono::seconds beat, uint32_t peer_heartbeat_seconds) {
  const auto theirs = std::chrono::seconds(std::clamp<uint32_t>(
      peer_heartbeat_seconds, 1, static_cast<uint32_t>(kMaxHeartbeatInterval.count())));
  return std::chrono::milliseconds(3 * std::max(beat, theirs));
}

// Heartbeats go out on their own thread, so a slow read never delays them. A failed send closes
// the session; so does a thread that cannot be started (the dialler tries again). stop() ends
// the thread and waits for it.
class Heartbeat {
 public:
  Heartbeat(PeerSession& session, std::chrono::seconds beat, const std::string& peer_name)
      : session_(session), beat_(beat) {
    try {
      thread_ = std::thread([this] { loop(); });
    } catch (const std::system_error& e) {
      session_.stream->close();  // out of threads: drop the link; the dialler tries again
      spdlog::warn("link with {}: cannot start its heartbeat: {}", peer_name, e.what());
    }
  }
  ~Heartbeat() { stop(); }
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

  void stop() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    uint64_t seq = 0;
    std::unique_lock lk(mu_);
    while (!cv_.wait_for(lk, beat_, [this] { return done_; })) {
      lk.unlock();
      peer::LinkMessage m;
      m.mutable_heartbeat()->set_seq(++seq);
      Status sent = send_message(*session_.channel, m);
      lk.lock();
      if (!sent) {
        session_.stream->close();
        break;
      }
    }
  }

  PeerSession& session_;
  const std::chrono::seconds beat_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace

bool valid_link_nonce(const std::string& nonce) {
  return nonce.size() == 32 && std::all_of(nonce.begin(), nonce.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

LinkHub::LinkHub(const Config& config, TlsContext& tls, SessionRegistry& sessions,
                 std::function<peer::Hello()> hello, std::function<void(PeerSession&)> serve)
    : config_(config),
      tls_(tls),
      sessions_(sessions),
      hello_(std::move(hello)),
      serve_(std::move(serve)) {
  for (const auto& p : config_.peers_copy()) {
    LinkState& st = links_[p.name];
    st.dialled = p.address.has_value();
    st.wanted = !p.address;  // the dialler learns it from the listener's HelloReply
  }
}

LinkHub::~LinkHub() { stop(); }

void LinkHub::start() {
  for (const auto& p : config_.peers_copy()) {
    if (p.address) start_keeper(p);
  }
}

void LinkHub::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

bool LinkHub::pause(std::chrono::milliseconds d, const std::string& peer, uint64_t id) {
  std::unique_lock lk(mu_);
  return !cv_.wait_for(lk, d, [&] { return stopping_ || !keeping(peer, id); });
}

void LinkHub::keep(const PeerConfig& peer, uint64_t id) {
  std::chrono::seconds redial = kFirstRedial;
  for (;;) {
    {
      std::lock_guard lk(mu_);
      if (stopping_ || !keeping(peer.name, id)) return;
    }
    peer::Hello hello = hello_();
    hello.set_purpose(peer::PURPOSE_LINK);
    auto dialled = dial_peer(config_, tls_, peer, hello);
    if (!dialled) {
      {
        std::lock_guard lk(mu_);
        LinkState& st = links_[peer.name];
        if (st.last_error != dialled.error().message) {
          // Once per new reason, not at every redial.
          spdlog::log(st.wanted ? spdlog::level::warn : spdlog::level::info,
                      "link to {}: {}; dialling again every {} s at most", peer.name,
                      dialled.error().message, kMaxRedial.count());
        }
        st.last_error = dialled.error().message;
        if (!st.down_since) st.down_since = Clock::now();
      }
      if (!pause(redial, peer.name, id)) return;
      redial = std::min(redial * 2, kMaxRedial);
      continue;
    }
    redial = kFirstRedial;
    if (!(*dialled)->needs_link) {
      {
        std::lock_guard lk(mu_);
        LinkState& st = links_[peer.name];
        st.wanted = false;
        st.last_error.clear();
        st.down_since.reset();
      }
      dialled->reset();  // it dials this host itself: no link needed
      if (!pause(kRecheck, peer.name, id)) return;
      continue;
    }
    std::shared_ptr<PeerSession> session(std::move(*dialled));
    ScopedStream registered(sessions_, session->stream.get());
    Status ended = run_link(session, true, id);
    if (ended.code() != ErrorCode::kConflict) {
      spdlog::warn("link to {} lost: {}; dialling again", peer.name, ended.message());
    }
    if (!pause(kFirstRedial, peer.name, id)) return;
  }
}

void LinkHub::serve_link(std::unique_ptr<PeerSession> session) {
  const std::optional<PeerConfig> entry = config_.find_peer(session->peer_name);
  if (!entry || entry->address) return;  // it was told needs_link = false
  std::shared_ptr<PeerSession> shared(std::move(session));
  ScopedStream registered(sessions_, shared->stream.get());
  Status ended = run_link(shared, false, 0);
  if (ended.code() == ErrorCode::kConflict) {
    spdlog::info("link from {}: {}", shared->peer_name, ended.message());
  } else {
    spdlog::warn("link from {} lost: {}", shared->peer_name, ended.message());
  }
}

Status LinkHub::run_link(const std::shared_ptr<PeerSession>& session, bool dialled,
                         uint64_t keeper) {
  const std::string peer_name = session->peer_name;
  const auto beat = config_.heartbeat_interval;
  const auto silence = link_silence(beat, session->peer_hello.heartbeat_seconds());
  const uint64_t generation = link_up(session, keeper);
  if (generation == 0) {
    return make_error(ErrorCode::kConflict, "its peer entry changed in a reload");
  }
  spdlog::info("link {} {} up (heartbeat every {} s)", dialled ? "to" : "from", peer_name,
               beat.count());
  if (on_up_) on_up_(peer_name);
  Heartbeat heartbeat(*session, beat, peer_name);
  Status ended = read_link(session, dialled, silence);
  session->stream->close();
  heartbeat.stop();
  if (!link_down(peer_name, generation, ended)) {
    return make_error(ErrorCode::kConflict, "replaced by a newer link");
  }
  if (!dialled) {
    fail_waiters(peer_name, "",
                 "peer '" + peer_name +
                     "' is not connected: its link went down while asking it "
                     "for a session: " +
                     ended.message());
  }
  return ended;
}

uint64_t LinkHub::link_up(const std::shared_ptr<PeerSession>& session, uint64_t keeper) {
  std::lock_guard lk(mu_);
  if (keeper != 0 && !keeping(session->peer_name, keeper)) return 0;  // retired by a reload
  LinkState& st = links_[session->peer_name];
  if (st.session) st.session->stream->close();  // a new link replaces a stale one
  st.session = session;
  st.generation = next_generation_++;
  st.wanted = true;
  st.up_since = st.last_heard = Clock::now();
  st.down_since.reset();
  st.last_error.clear();
  return st.generation;
}

Status LinkHub::read_link(const std::shared_ptr<PeerSession>& session, bool dialled,
                          std::chrono::milliseconds silence) {
  const std::string& peer_name = session->peer_name;
  for (;;) {
    peer::LinkMessage m;
    Status got = receive_message(*session->channel, m, silence);
    if (!got) {
      if (got.code() == ErrorCode::kTimeout) {
        return make_error(ErrorCode::kUnavailable, "no heartbeat from " + peer_name + " for " +
                                                       std::to_string(silence.count() / 1000) +
                                                       " s");
      }
      return got;
    }
    {
      std::lock_guard lk(mu_);
      links_[peer_name].last_heard = Clock::now();
    }
    ZREP_RETURN_IF_ERROR(handle_link_message(session, dialled, m));
  }
}

Status LinkHub::handle_link_message(const std::shared_ptr<PeerSession>& session, bool dialled,
                                    const peer::LinkMessage& m) {
  const std::string& peer_name = session->peer_name;
  if (m.has_session_wanted()) {
    if (!dialled) {
      return make_error(ErrorCode::kProtocol, peer_name +
                                                  " asked this host for a session "
                                                  "over a link it dialled itself");
    }
    if (!valid_link_nonce(m.session_wanted().nonce())) {
      return make_error(ErrorCode::kProtocol, peer_name + " sent a malformed session nonce");
    }
    open_reverse(session, m.session_wanted().nonce());
  } else if (m.has_session_refused()) {
    if (dialled) {
      return make_error(ErrorCode::kProtocol, peer_name +
                                                  " refused a session over a link it "
                                                  "asked this host for nothing on");
    }
    fail_waiters(peer_name, m.session_refused().nonce(),
                 peer_name + " could not open the session: " +
                     sanitize_peer_text(m.session_refused().reason()));
  } else if (!m.has_heartbeat()) {
    return make_error(ErrorCode::kProtocol, peer_name + " sent an unknown link message");
  }
  return Status::ok();
}

bool LinkHub::link_down(const std::string& peer_name, uint64_t generation, const Status& ended) {
  std::lock_guard lk(mu_);
  LinkState& st = links_[peer_name];
  if (st.generation != generation) return false;
  st.session.reset();
  st.up_since.reset();
  st.down_since = Clock::now();
  st.last_error = ended.message();
  return true;
}

void LinkHub::fail_waiters(const std::string& peer, const std::string& nonce,
                           const std::string& why) {
  {
    std::lock_guard lk(mu_);
    for (auto& [n, w] : waiters_) {
      if (w.peer == peer && (nonce.empty() || n == nonce) && !w.session) w.failed = why;
    }
  }
  cv_.notify_all();
}

void LinkHub::open_reverse(const std::shared_ptr<PeerSession>& link, const std::string& nonce) {
  const std::optional<PeerConfig> peer = config_.find_peer(link->peer_name);
  if (!peer) return;
  auto refuse = [link, nonce](const std::string& reason) {
    peer::LinkMessage m;
    m.mutable_session_refused()->set_nonce(nonce);
    m.mutable_session_refused()->set_reason(reason);
    (void)send_message(*link->channel, m);
  };
  {
    std::lock_guard lk(mu_);
    int& open = links_[peer->name].reverse_sessions;
    if (open >= kMaxReverseSessions) {
      spdlog::warn("{} asked for a session, but {} are open already: refused", peer->name, open);
      refuse(std::to_string(open) + " sessions are open already");
      return;
    }
    ++open;
  }
  bool started = sessions_.spawn([this, peer, nonce, refuse] {
    peer::Hello hello = hello_();
    hello.set_purpose(peer::PURPOSE_REVERSE);
    hello.set_link_nonce(nonce);
    auto session = dial_peer(config_, tls_, *peer, hello);
    if (!session) {
      spdlog::warn("cannot open the session {} asked for: {}", peer->name, session.error().message);
      refuse(session.error().message);
    } else {
      ScopedStream registered(sessions_, (*session)->stream.get());
      serve_(**session);
    }
    std::lock_guard lk(mu_);
    --links_[peer->name].reverse_sessions;
  });
  if (!started) {
    refuse("the agent is stopping");
    std::lock_guard lk(mu_);
    --links_[peer->name].reverse_sessions;
  }
}

bool LinkHub::hand_over(std::unique_ptr<PeerSession>& session) {
  const std::string& nonce = session->peer_hello.link_nonce();
  {
    std::lock_guard lk(mu_);
    auto it = waiters_.find(nonce);
    if (!valid_link_nonce(nonce) || it == waiters_.end() || it->second.peer != session->peer_name ||
        it->second.session) {
      return false;
    }
    it->second.session = std::move(session);
  }
  cv_.notify_all();
  return true;
}

Result<std::shared_ptr<PeerSession>> LinkHub::live_link(const std::string& peer) {
  std::shared_ptr<PeerSession> link;
  std::string why_down;
  {
    std::lock_guard lk(mu_);
    if (stopping_) return make_error(ErrorCode::kUnavailable, "the agent is stopping");
    auto it = links_.find(peer);
    if (it != links_.end()) {
      link = it->second.session;
      if (!link && it->second.down_since) {
        why_down = "; the link went down " +
                   std::to_string(unix_time(Clock::now()) - unix_time(*it->second.down_since)) +
                   " s ago: " + it->second.last_error;
      }
    }
  }
  if (link) return link;
  if (why_down.empty()) why_down = "; it has not connected since this agent started";
  return make_error(ErrorCode::kUnavailable,
                    "peer '" + peer + "' is not connected: it has no address in " + config_.source +
                        ", so it must dial this host and keep a link open" + why_down +
                        " (is its agent running, with this host's address in its [[peer]] "
                        "entry, and can it reach this host's port?)");
}

Result<std::unique_ptr<PeerSession>> LinkHub::request_session(const std::string& peer) {
  auto live = live_link(peer);
  if (!live) return live.error();
  const std::shared_ptr<PeerSession> link = std::move(*live);
  const auto deadline =
      std::chrono::steady_clock::now() + config_.connect_timeout + kHandshakeAllowance;
  const std::string nonce = new_nonce();
  {
    // A few requests at a time per peer; the others wait their turn.
    std::unique_lock lk(mu_);
    if (!cv_.wait_until(lk, deadline,
                        [&] { return stopping_ || links_[peer].asking < kMaxAsking; }) ||
        stopping_) {
      return make_error(ErrorCode::kUnavailable,
                        "timed out waiting to ask " + peer + " for a session (too many at once)");
    }
    ++links_[peer].asking;
    waiters_[nonce] = Waiter{peer, nullptr, ""};
  }
  peer::LinkMessage m;
  m.mutable_session_wanted()->set_nonce(nonce);
  Status asked = send_message(*link->channel, m);
  std::unique_lock lk(mu_);
  if (asked) {
    cv_.wait_until(lk, deadline, [&] {
      const Waiter& w = waiters_[nonce];
      return stopping_ || w.session != nullptr || !w.failed.empty();
    });
  }
  std::unique_ptr<PeerSession> got = std::move(waiters_[nonce].session);
  std::string failed = waiters_[nonce].failed;
  waiters_.erase(nonce);
  --links_[peer].asking;
  lk.unlock();
  cv_.notify_all();
  if (got) return got;
  if (!asked) return Status(asked.error()).with_context("asking " + peer + " for a session");
  if (!failed.empty()) return make_error(ErrorCode::kUnavailable, failed);
  return make_error(ErrorCode::kUnavailable,
                    "peer '" + peer +
                        "' did not open the session it was asked for over its link "
                        "within " +
                        std::to_string((config_.connect_timeout + kHandshakeAllowance).count()) +
                        " s");
}

bool LinkHub::connected(const std::string& peer) {
  std::lock_guard lk(mu_);
  auto it = links_.find(peer);
  return it != links_.end() && it->second.session != nullptr;
}

std::optional<LinkReport> LinkHub::describe(const std::string& peer) {
  std::lock_guard lk(mu_);
  auto it = links_.find(peer);
  if (it == links_.end() || (!it->second.wanted && !it->second.session)) return std::nullopt;
  const LinkState& st = it->second;
  LinkReport r;
  r.dialled = st.dialled;
  r.up = st.session != nullptr;
  if (st.up_since) r.up_since = unix_time(*st.up_since);
  if (st.down_since) r.down_since = unix_time(*st.down_since);
  if (st.last_heard) r.last_heard = unix_time(*st.last_heard);
  r.last_error = st.last_error;
  return r;
}

}  // namespace zrep
