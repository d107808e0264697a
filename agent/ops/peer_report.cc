// peers: what this daemon knows of each configured peer, with a session opened to each now
// (its Hello: version, ZFS, clock) and, for each pairing this host masters to it, whether its
// allowance for this host covers the destination.
#include <algorithm>
#include <future>
#include <limits>
#include <system_error>

#include "agent/logic/zrep_props.h"
#include "agent/ops/replicator.h"
#include "agent/ops/replicator_internal.h"
#include "common/sanitize.h"
#include "common/unix_time.h"
#include "crypto/tls.h"

namespace zrep {
namespace {

// The pairings mastered here whose destination is `peer`, with their destination filesystem.
std::vector<std::pair<std::string, std::string>> destinations_on(
    const std::string& peer, const std::map<std::string, props::PropMap>& managed) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [fs, p] : managed) {
    if (props::get(p, props::kMaster) != "yes" || props::get(p, props::kDestHost) != peer) continue;
    if (!props::get(p, props::kDestFs).empty()) out.emplace_back(fs, props::get(p, props::kDestFs));
  }
  return out;
}

// What the peer says of itself in its Hello (untrusted: escaped, the time only displayed).
void note_hello(const peer::Hello& h, int64_t now, control::PeerView& v) {
  v.set_agent_version(sanitize_peer_text(h.agent_version()));
  v.set_protocol_version(h.protocol_version());
  v.set_zfs_dialect(sanitize_peer_text(h.zfs().dialect()));
  v.set_zfs_version(sanitize_peer_text(h.zfs().version()));
  if (h.unix_time() != 0) {
    constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / 2);
    v.set_clock_skew_seconds(static_cast<int64_t>(std::min(h.unix_time(), kMax)) - now);
  }
}

}  // namespace

control::PeerView Replicator::peer_view(const PeerConfig& peer,
                                        const std::map<std::string, props::PropMap>& managed) {
  control::PeerView v;
  v.set_name(peer.name);
  if (peer.address) v.set_address(peer.address->to_string());
  auto client = connect(peer.name);
  const int64_t now = unix_now();
  if (client) {
    v.set_reachable(true);
    note_hello((*client)->peer_hello(), now, v);
    for (const auto& [fs, dest_fs] : destinations_on(peer.name, managed)) {
      auto* d = v.add_destinations();
      d->set_fs(fs);
      d->set_dest_fs(dest_fs);
      auto described = (*client)->describe(dest_fs);
      d->set_allowed(described.is_ok());
      if (!described) {
        d->set_error(described.error().message);
        d->set_error_code(std::string(error_code_name(described.error().code)));
      }
    }
  } else {
    v.set_error(client.error().message);
  }
  std::optional<int64_t> last;
  {
    std::lock_guard lk(mu_);  // connect() noted a session that opened
    if (auto it = last_contact_.find(peer.name); it != last_contact_.end()) last = it->second;
  }
  if (links_ != nullptr) {
    if (auto link = links_->describe(peer.name)) {
      *v.mutable_link() = link_view(*link);
      if (link->last_heard) last = std::max(last.value_or(0), *link->last_heard);
    }
  }
  if (last) v.set_last_contact(*last);
  return v;
}

Result<control::PeersResult> Replicator::peers(const control::PeersCommand& /*cmd*/) {
  auto managed = managed_filesystems({});
  if (!managed) return managed.error();
  // Each peer on a thread of its own: a dead one's connect timeout delays only its own answer.
  std::vector<std::future<control::PeerView>> views;
  const std::vector<PeerConfig> peers = config_.peers_copy();  // a reload may replace them
  for (const PeerConfig& peer : peers) {
    auto view = [this, &peer, &managed](bool own_thread) {
      control::PeerView v = peer_view(peer, *managed);
      if (own_thread) release_thread_tls_state();  // its session is closed
      return v;
    };
    try {
      views.push_back(std::async(std::launch::async, view, true));
    } catch (const std::system_error&) {  // out of threads: on this one, when its turn comes
      views.push_back(std::async(std::launch::deferred, view, false));
    }
  }
  control::PeersResult out;
  for (auto& v : views) *out.add_peers() = v.get();
  return out;
}

}  // namespace zrep
