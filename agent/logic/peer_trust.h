// What an authenticated peer may make this host do, decided from local state only. Pure: no
// I/O, unit-tested (tests/unit/peer_trust_test.cc).
//
// The rule: a peer's words (GUIDs it echoes, tokens it reports, snapshot names in its
// properties) choose among what the local ZFS properties already allow; they never widen it.
// - A dataset is this peer's replica only when its zrep:src-host names the peer (set by an
//   init from that peer, or by the operator here as consent for changedest), it is no master,
//   and its zrep:dest-fs, when set, is the dataset itself.
// - Describe tells everything only about datasets paired with the peer (its replica, or a
//   master replicating to it); of any other dataset only that it exists.
// - Pairing (PairRequest) re-pairs only this peer's replica; it never adopts an unmanaged
//   dataset or another peer's.
// - After a failed send, the master destroys only the zrep snapshot that the same run made.
// - A resume token is used only when it names exactly the planned snapshot, base and flags.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/logic/zrep_props.h"
#include "common/result.h"

namespace zrep {

enum class PeerRelation {
  kUnrelated,      // not managed by zrep, or paired with another host
  kReplicaOfPeer,  // a destination this peer feeds
  kMasterForPeer,  // mastered here, replicating to this peer
};

// How dataset `fs` (existing, with properties `p`) relates to peer `peer`.
PeerRelation relation_to_peer(const std::string& fs, const props::PropMap& p,
                              const std::string& peer);

// Whether Describe tells `peer` everything about `fs` (properties, snapshots, resume token):
// its zrep:src-host or zrep:dest-host names the peer (a replica it feeds, a master replicating
// to it, or one half-way through a switch with it). Of any other dataset only its existence.
bool paired_with_peer(const props::PropMap& p, const std::string& peer);

// kPermissionDenied (or kConflict for a master) unless `fs` is a replica that `peer` feeds,
// with a message saying what it is and what the operator may do. `host`: this host's name.
Status check_replica_of_peer(const std::string& fs, const props::PropMap& p,
                             const std::string& peer, const std::string& host);

// Whether a PairRequest from `peer` naming `src_fs` may (re)write the pairing of `dest`
// (existing, properties `p`): only this peer's replica, of that source when it says.
Status check_may_pair(const std::string& dest, const props::PropMap& p, const std::string& peer,
                      const std::string& src_fs, const std::string& host);

// After a failed transfer of `snapshot` (a full name): whether the master may destroy it.
// Only when this run created it, it is a zrep snapshot, it is not the incremental base, and
// the destination certainly lacks it (no partial receive there, its GUID not listed there).
struct FailedSendFacts {
  std::string snapshot;
  uint64_t guid = 0;
  bool created_by_this_run = false;
  uint64_t base_guid = 0;  // 0 for an init
  bool destination_has_partial = false;
  bool destination_has_guid = false;
};
bool may_destroy_after_failed_send(const FailedSendFacts& f);

// What a resume token holds (OpenZFS `zfs send -nvt TOKEN`: "resume token contents:" then an
// nvlist printed as "name = value" lines).
struct ResumeTokenInfo {
  std::string toname;  // the sender's snapshot, full name
  uint64_t toguid = 0;
  uint64_t fromguid = 0;  // 0: a full stream
  bool raw = false;       // rawok: the rest is sent raw (send -w)
  bool compressed = false;
};
Result<ResumeTokenInfo> parse_resume_token_contents(std::string_view text);

// The token must resume exactly the planned transfer: `snapshot` (full name, GUID) from
// `base_guid` (0: full), raw exactly when the pairing is raw. kConflict says which differs.
Status check_resume_token(const ResumeTokenInfo& t, const std::string& snapshot,
                          uint64_t snapshot_guid, uint64_t base_guid, bool raw);

}  // namespace zrep
