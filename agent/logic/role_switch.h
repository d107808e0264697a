// The role switch (failover) as pure logic: the journal it writes into ZFS properties, and
// the decisions recovery and fencing take from what both hosts' properties say. No I/O here;
// agent/roles/switch_steps.cc and agent/ops/failover.cc carry the decisions out. The state
// machine is described in agent/FAILOVER.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/logic/zrep_props.h"
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

// The key=value words of a record -> {key: value} (words without '=' are ignored, the last of a
// repeated key wins). The typed records read through it: agent/logic/records.h.
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

// Epochs grow by one per role change; no real pairing gets near 2^32 of them. An epoch above
// kMaxEpoch (from a property or a peer) is garbage or a lie, and this host never writes one: a
// role change from kMaxEpoch is refused rather than wrapping.
inline constexpr uint64_t kMaxEpoch = uint64_t{1} << 32;
bool is_plausible_epoch(uint64_t epoch);  // 1 <= epoch <= kMaxEpoch
// The epoch after `epoch`; kConflict at kMaxEpoch and above (never wraps).
Result<uint64_t> next_epoch(uint64_t epoch);

// What a peer says of the paired filesystem (its DescribeReply), as a claim to be judged
// against what this host knows. agent/FAILOVER.md "What a peer's claims decide".
struct PeerClaim {
  std::string here_host, here_fs;  // this host and its filesystem (the master here)
  std::string peer_host, peer_fs;  // the paired standby, as zrep:dest-* here names it
  uint64_t my_epoch = 1;
  // The peer's properties of peer_fs:
  uint64_t peer_epoch = 0;
  bool peer_is_master = false;
  std::string peer_src_host, peer_src_fs, peer_dest_host, peer_dest_fs;
  std::string peer_takeover;  // its zrep:takeover record ("" when none)
  // The GUID its record names as the takeover snapshot, in its own snapshot list (0: not there).
  uint64_t takeover_guid = 0;
};

// Local facts the claim must agree with: this host's snapshots, oldest first.
struct LocalSnap {
  uint64_t guid = 0;
  bool sent = false;
};

enum class ClaimVerdict {
  kNoClaim,    // the peer claims no higher epoch (check_fence decides as before)
  kTakenOver,  // backed by local state: the peer took over (demote)
  kPeerAhead,  // a higher epoch, not master: send nothing, wait
  kUnbacked,   // a higher epoch that local state does not back: no demotion, nothing sent
};
struct ClaimJudgement {
  ClaimVerdict verdict = ClaimVerdict::kNoClaim;
  std::string why;  // for kUnbacked: which part of the claim local state contradicts
};

// A peer's higher epoch demotes this host only when it is the one claim a forced takeover
// makes: exactly one epoch above ours (never above kMaxEpoch); the peer masters the reversed
// pairing (its src = itself:peer_fs, its dest = this host:here_fs); its zrep:takeover record
// names that epoch, this host:here_fs as the old master, and a snapshot whose GUID this host
// holds; and no snapshot of ours newer than that one was acknowledged as received (a takeover
// rolls back to the newest snapshot received, so one received later contradicts it).
ClaimJudgement judge_claim(const PeerClaim& claim, const std::vector<LocalSnap>& local);

// Which of this host's filesystems a peer may lock (LockRequest): one it may create (absent),
// one not replicated at all (init --force and changedest check ownership themselves), one
// whose pairing names this peer (zrep:src-host: a replica it feeds; zrep:dest-host: a master
// whose standby it is). Never a filesystem this host masters for, or receives from, another.
Status may_peer_lock(const std::string& peer, const std::string& fs, bool exists,
                     const props::PropMap& p, const std::string& here);
// A peer's lock on a filesystem this host masters is held at most this long however often the
// peer renews it (its legitimate uses there, recovery of a switch, take seconds); locks on
// replicas it feeds last as long as its session keeps working (a sync may take hours).
bool peer_lock_is_bounded(const props::PropMap& p);

// Where a failover at a named snapshot keeps what the old master held after it: the old master
// filesystem moves there (its data and every snapshot after the base), and a clone of the base
// takes its place. "pool/fs" at epoch 3 -> "pool/fs-kept-e3".
std::string kept_aside_name(const std::string& fs, uint64_t epoch);
// The snapshot of the old master's last state a failover at a named snapshot makes when it
// fences it: "pool/fs@zrep-kept-e3".
std::string kept_snapshot_name(const std::string& fs, uint64_t epoch);

}  // namespace zrep
