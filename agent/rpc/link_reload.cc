// LinkHub's keepers, and what a config reload changes of them (link.h).
#include <spdlog/spdlog.h>

#include <set>

#include "agent/rpc/link.h"

namespace zrep {

bool LinkHub::keeping(const std::string& peer, uint64_t id) const {
  auto it = keepers_.find(peer);
  return it != keepers_.end() && it->second.id == id;
}

void LinkHub::start_keeper(const PeerConfig& peer) {
  uint64_t id = 0;
  {
    std::lock_guard lk(mu_);
    if (stopping_ || !peer.address) return;
    id = next_keeper_++;
    keepers_[peer.name] = Keeper{id, *peer.address};
  }
  // The keeper holds its own copy of the entry: a reload replaces the config's.
  if (!sessions_.spawn([this, peer, id] { keep(peer, id); })) {
    std::lock_guard lk(mu_);
    if (keeping(peer.name, id)) keepers_.erase(peer.name);
  }
}

void LinkHub::reload() {
  const std::vector<PeerConfig> peers = config_.peers_copy();
  std::vector<PeerConfig> to_start;
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    std::set<std::string> configured;
    for (const auto& p : peers) {
      configured.insert(p.name);
      auto k = keepers_.find(p.name);
      const bool keeps = k != keepers_.end() && p.address && k->second.address == *p.address;
      const bool changed = (k != keepers_.end() || p.address) && !keeps;
      const bool added = !links_.contains(p.name);
      LinkState& st = links_[p.name];
      if (changed || added) {
        st.dialled = p.address.has_value();
        st.wanted = !p.address;
      }
      if (!changed) continue;
      if (k != keepers_.end()) keepers_.erase(k);   // its keeper ends at its next step
      if (st.session) st.session->stream->close();  // a link by the old address
      if (p.address) to_start.push_back(p);
    }
    for (auto it = keepers_.begin(); it != keepers_.end();) {
      it = configured.contains(it->first) ? std::next(it) : keepers_.erase(it);
    }
    for (auto& [name, st] : links_) {
      if (configured.contains(name)) continue;
      st.dialled = st.wanted = false;
      if (st.session) st.session->stream->close();  // a removed peer keeps no link
    }
  }
  cv_.notify_all();
  for (const auto& p : to_start) {
    spdlog::info("link to {}: dialling {} (config reloaded)", p.name, p.address->to_string());
    start_keeper(p);
  }
}

}  // namespace zrep
