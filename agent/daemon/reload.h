// SIGHUP (daemon.h): rereads the config file and applies, while serving, what may change.
//
// Applied: the peers (added, removed, their addresses, datasets and allow_takeover), the
// schedule and [[filesystem]] entries, the alerts, log_level, and the [tls] files (reread even
// when their paths stay). The sessions of a peer that is no longer configured are closed (its
// trust is gone); the sessions of every peer still configured go on, and their next requests
// are authorized by the new entry. Other settings need a restart: each one that changed is
// logged and keeps its running value. A file that does not load (syntax, validation, a TLS file
// that does not load) changes nothing.
#pragma once

#include <string>

#include "agent/config/config.h"
#include "agent/daemon/scheduler.h"
#include "agent/rpc/link.h"
#include "agent/rpc/session_registry.h"
#include "crypto/tls.h"

namespace zrep {

struct ReloadTargets {
  Config& config;
  TlsContext& tls;
  SessionRegistry& sessions;
  LinkHub& links;
  Scheduler& scheduler;
};

// On the io thread. False when the file did not load and nothing changed (logged as an error).
bool reload_config(const ReloadTargets& t);

// The notification for systemd as a reload starts: RELOADING=1 with MONOTONIC_USEC.
std::string reloading_notification();

}  // namespace zrep
