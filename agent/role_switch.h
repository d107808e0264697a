// The role switch (failover) as pure logic: the journal it writes into ZFS properties, and
// the decisions recovery and fencing take from what both hosts' properties say. No I/O here;
// agent/failover.cc carries the decisions out. The state machine is described in
// agent/FAILOVER.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "agent/zrep_props.h"
#include "common/result.h"

namespace zrep {

// What a switch in progress records, on both filesystems, in `zrep:switch`: the epoch the new
// master gets, who the old and new masters are, and the GUID of the final snapshot both hold
// (the base of the new direction; 0 while the master is fenced and the final snapshot is not
// made yet).
struct SwitchJournal {
  uint64_t epoch = 0;  // the new epoch (the old one plus 1)
  std::string old_host, old_fs;
  std::string new_host, new_fs;
  uint64_t base_guid = 0;
  bool operator==(const SwitchJournal&) const = default;
};

// "v1 epoch=5 old=alpha:pool/fs new=beta:pool/fs base=1234"
std::string format_journal(const SwitchJournal& j);
// Validates every field (it may come from a peer): names, epoch >= 2, two different hosts.
Result<SwitchJournal> parse_journal(const std::string& text);

uint64_t parse_epoch(const std::string& text);  // 0 when unset or garbage

// The key=value words of a zrep:fenced or zrep:takeover record -> {key: value}.
std::map<std::string, std::string> parse_record(const std::string& text);

// What recovery does with a filesystem whose `zrep:switch` journal is set.
enum class Recovery {
  kFinishAsNewMaster,    // the switch committed here: become the writable master
  kFinishAsDestination,  // the switch committed (here or on the peer): become the destination
  kAbortHere,            // not committed on the would-be new master: drop the journal, stay
                         // the destination
  kAbortAndUnfence,      // the old master, and the peer never committed: become writable again
  kWaitForPeer,          // the old master cannot tell whether the peer committed: stay fenced
};

struct RecoveryInput {
  std::string host;       // this host
  SwitchJournal journal;  // as recorded here
  uint64_t local_epoch = 0;
  // The peer's view of its filesystem, when it could be asked (absent: unreachable).
  std::optional<uint64_t> peer_epoch;
};

// The commit point of a switch is the new master writing the new epoch on its filesystem.
// So: committed here -> finish the role the journal gives this host; on the new master and
// not committed -> abort (only the coordinator, under the lock, would commit); on the old
// master -> ask the peer: its epoch says whether it committed; unreachable -> wait fenced.
Recovery decide_recovery(const RecoveryInput& in);
const char* recovery_name(Recovery r);

// Split-brain check made on a filesystem this host masters, against what its peer says of
// the paired filesystem.
enum class Fence {
  kOk,
  kDemote,       // the peer masters at a higher epoch: it took over; this host steps down
  kPeerAhead,    // the peer is at a higher epoch but not (yet) master: send nothing, wait
  kBothMasters,  // same epoch, both masters: refuse to send until an operator resolves it
};
Fence check_fence(uint64_t my_epoch, uint64_t peer_epoch, bool peer_is_master);

}  // namespace zrep
