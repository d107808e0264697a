// Links: replication when only one of two hosts can dial the other (a firewall, a standby
// behind NAT, a peer entry without an address).
//
// The host that can dial keeps one LINK session open to its peer, for as long as both agents
// run. Both sides send a heartbeat every heartbeat_interval; a link silent for three intervals
// (the longer of the two sides') is dead, and the dialler dials again, backing off to 30 s.
//
// When the listening host needs a session to its peer (a sync, a failover step, a probe), it
// sends SessionWanted{nonce} over the link. The dialler opens a fresh session with purpose
// REVERSE and that nonce, and serves the listener's requests on it, exactly as if the listener
// had dialled: same TLS, same authorization of every dataset, same PeerService. So the master
// drives replication and failover wherever it sits, and a peer without an address is never
// dialled; one open TCP port, on the listening host, is enough.
//
// The dialler keeps the link only when the listener says it needs one (HelloReply.needs_link:
// it has no address for the dialler); otherwise it checks again every minute.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/config/config.h"
#include "agent/rpc/peer_session.h"
#include "agent/rpc/session_registry.h"
#include "crypto/tls.h"
#include "proto/peer.pb.h"

namespace zrep {

// A nonce is 32 lowercase hex digits (what LinkHub makes); anything else from the wire is refused.
bool valid_link_nonce(const std::string& nonce);

// What status shows of the link with one peer (unix times).
struct LinkReport {
  bool dialled = false;  // this host dials; else it listens for the peer
  bool up = false;
  std::optional<int64_t> up_since, down_since, last_heard;
  std::string last_error;
};

class LinkHub {
 public:
  // `hello` makes this daemon's Hello; `serve` serves a peer's requests on a session until it
  // ends (the daemon's PeerService loop).
  LinkHub(const Config& config, TlsContext& tls, SessionRegistry& sessions,
          std::function<peer::Hello()> hello, std::function<void(PeerSession&)> serve);
  ~LinkHub();
  LinkHub(const LinkHub&) = delete;
  LinkHub& operator=(const LinkHub&) = delete;

  // Dialler side: one keeper thread (a session thread) per peer with an address.
  void start();
  // Ends the keepers and refuses new requests; links end when the registry closes streams.
  void stop();
  // The config's peers were reloaded: starts keepers for peers that gained an address (or are
  // new), ends those of peers that were removed or whose address changed or went, and closes
  // those peers' links (either direction). Links of unchanged peers stay up.
  void reload();
  // Called (on a link's thread) whenever a link with `peer` comes up.
  void set_on_up(std::function<void(const std::string& peer)> fn) { on_up_ = std::move(fn); }

  // Listener side, on the thread that accepted the session: serves a PURPOSE_LINK session
  // until it dies (at once when this host has the peer's address: no link is needed then).
  void serve_link(std::unique_ptr<PeerSession> session);
  // A PURPOSE_REVERSE session: hands it to the request_session() waiting for its nonce. False
  // when none waits for it from that peer (the caller closes it).
  bool hand_over(std::unique_ptr<PeerSession>& session);

  // A session to `peer` (no address here) that this host drives, asked for over the link.
  Result<std::unique_ptr<PeerSession>> request_session(const std::string& peer);
  // Whether a link with `peer` is up (either direction).
  bool connected(const std::string& peer);
  // The link with `peer` for status: absent when there never was one and none is wanted.
  std::optional<LinkReport> describe(const std::string& peer);

 private:
  using Clock = std::chrono::system_clock;
  struct LinkState {
    std::shared_ptr<PeerSession> session;  // the live link, or null
    uint64_t generation = 0;
    bool dialled = false;  // this host dials it
    bool wanted = false;   // a link with this peer is needed (it cannot dial one of the sides)
    std::optional<Clock::time_point> up_since, down_since, last_heard;
    std::string last_error;    // why it is down
    int reverse_sessions = 0;  // dialler: REVERSE sessions open now
    int asking = 0;            // listener: SessionWanted sent and not yet answered
  };
  struct Waiter {
    std::string peer;
    std::unique_ptr<PeerSession> session;  // set by hand_over
    std::string failed;                    // set when the peer refused or the link died
  };

  struct Keeper {
    uint64_t id = 0;
    Endpoint address;  // what it dials
  };
  // Dialler: keeps the link to `peer` up while keeper `id` is the peer's (keepers_).
  void keep(const PeerConfig& peer, uint64_t id);
  void start_keeper(const PeerConfig& peer);  // registers a keeper and spawns it; mu_ not held
  bool keeping(const std::string& peer, uint64_t id) const;  // with mu_ held
  // Runs a link on either side until it dies; returns why it ended. `keeper`: the dialler's
  // keeper id (the link is refused when a reload retired it), 0 on the listener.
  Status run_link(const std::shared_ptr<PeerSession>& session, bool dialled, uint64_t keeper);
  // run_link's steps. link_up makes `session` the peer's live link (closing a stale one) and
  // returns its generation; read_link reads and handles link messages until the link fails;
  // link_down marks the link down, or returns false when a newer link replaced it.
  uint64_t link_up(const std::shared_ptr<PeerSession>& session, uint64_t keeper);
  Status read_link(const std::shared_ptr<PeerSession>& session, bool dialled,
                   std::chrono::milliseconds silence);
  Status handle_link_message(const std::shared_ptr<PeerSession>& session, bool dialled,
                             const peer::LinkMessage& m);
  bool link_down(const std::string& peer_name, uint64_t generation, const Status& ended);
  // Listener: the peer's live link, or why it is not connected.
  Result<std::shared_ptr<PeerSession>> live_link(const std::string& peer);
  // Dialler: opens the REVERSE session the listener asked for over `link`, and serves it; or
  // tells the listener why not.
  void open_reverse(const std::shared_ptr<PeerSession>& link, const std::string& nonce);
  // Listener: the peer refused (or the link lost) the session asked for with `nonce` ("" for
  // every session asked of `peer`).
  void fail_waiters(const std::string& peer, const std::string& nonce, const std::string& why);
  // Waits up to `d` unless stopping (or keeper `id` of `peer` retired); false then.
  bool pause(std::chrono::milliseconds d, const std::string& peer, uint64_t id);

  const Config& config_;
  TlsContext& tls_;
  SessionRegistry& sessions_;
  std::function<peer::Hello()> hello_;
  std::function<void(PeerSession&)> serve_;
  std::function<void(const std::string&)> on_up_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                   // guarded by mu_
  std::map<std::string, LinkState> links_;  // guarded by mu_; by peer name
  std::map<std::string, Waiter> waiters_;   // guarded by mu_; by nonce
  uint64_t next_generation_ = 1;            // guarded by mu_
  std::map<std::string, Keeper> keepers_;   // guarded by mu_; the current keeper by peer name
  uint64_t next_keeper_ = 1;                // guarded by mu_
};

}  // namespace zrep
