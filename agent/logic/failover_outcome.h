// The result of a planned failover, as the master that ran it reports it: to its own CLI, and
// to the standby that asked for it (peer::TakeoverReply on the wire). A plain record, shared by
// agent/ops/ (which runs the failover and renders it) and agent/endpoint/ (which answers the
// standby), neither of which may include the other.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace zrep {

struct FailoverOutcome {
  std::string fs;             // the old master's filesystem, its read-only standby now
  std::string old_master;     // the host that ran the failover
  std::string new_master;     // the destination host, the master now
  std::string new_master_fs;  // its filesystem
  uint64_t epoch = 0;         // the new epoch
  std::string snapshot;       // the common snapshot (full name) the switch happened at
  uint64_t bytes = 0;         // raw bytes of the final incremental (0 at a named snapshot)
  double seconds = 0;         // how long it took
  // At a named snapshot: where the old master kept what it held after it.
  std::optional<std::string> newer_kept_in;
};

}  // namespace zrep
