// The records the agent keeps in ZFS user properties (names in agent/logic/zrep_props.h), one
// type each, with the one writer and the one reader of its text. The texts are what
// filesystems already carry and what older peers read: a writer's output never changes, and a
// reader accepts every text the agent ever wrote (words in any order, unknown words and words
// without '=' ignored, the last of a repeated key wins). The switch journal (zrep:switch) is
// SwitchJournal in agent/logic/role_switch.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "agent/logic/zrep_props.h"
#include "common/result.h"

namespace zrep {

// zrep:epoch as the filesystem's epoch: 1 when unset or garbled (a pairing starts at 1).
uint64_t effective_epoch(const props::PropMap& p);
// zrep:epoch as recorded: 0 when unset or garbled (a peer's filesystem that records none).
uint64_t recorded_epoch(const props::PropMap& p);

// zrep:fenced, on a demoted old master: the peer took over while this host was away.
struct FenceRecord {
  uint64_t epoch = 0;    // the peer's epoch when it took over
  std::string by;        // the peer host that took over (the new master)
  std::string peer_fs;   // its filesystem
  int64_t at = 0;        // unix time of the demotion
  std::string common;    // the newest common snapshot (the part after '@'), "none" when none
  uint64_t written = 0;  // bytes written here since `common`
  std::string kept;      // the snapshot of what was written here meanwhile (after '@')
  bool operator==(const FenceRecord&) const = default;
};
// "epoch=5 by=beta peer_fs=backup/fs at=1700000000 common=zrep_000003 written=1234
// kept=zrep-fenced-e5" (one line)
std::string format_fenced(const FenceRecord& r);
// Tolerant, as status must show any record (agents before peer_fs wrote none): a missing or
// garbled number is 0, a missing word "". Whether a demotion can go on from it: check_fenced.
FenceRecord parse_fenced(const std::string& text);
// What finishing a demotion relies on: an epoch, `by` a host name, `peer_fs` a dataset name.
Status check_fenced(const FenceRecord& r);

// zrep:takeover, on a master made by `takeover --force`.
struct TakeoverRecord {
  int64_t at = 0;        // unix time of the takeover
  uint64_t epoch = 0;    // the epoch it takes the filesystem to (its commit point)
  std::string old_host;  // the master it took over from
  std::string old_fs;    //   and its filesystem
  std::string snapshot;  // the snapshot it took over at (after '@'; "" in older records)
  bool operator==(const TakeoverRecord&) const = default;
};
// "forced at=1700000000 epoch=4 old=alpha:pool/fs snapshot=zrep_000007"
std::string format_takeover(const TakeoverRecord& r);
// Validates what finishing the takeover relies on: epoch >= 2, old=HOST:FS with a valid host
// and dataset name. Older records ("forced at=T epoch=N old=H:F at FS@SNAP") parse, without
// a snapshot.
Result<TakeoverRecord> parse_takeover(const std::string& text);

// zrep:receiving, on a destination during a resumable incremental receive: the stream's
// snapshot (after '@'), its GUID and its base's GUID.
struct ReceivingRecord {
  std::string snap;
  uint64_t guid = 0;
  uint64_t base_guid = 0;
  bool operator==(const ReceivingRecord&) const = default;
};
// "snap=zrep_000008 guid=123 base=456"
std::string format_receiving(const ReceivingRecord& r);
// The peer's words: nullopt unless snap= is there and guid= and base= are numbers written as
// format_receiving writes them (decimal, no sign, no leading zero).
std::optional<ReceivingRecord> parse_receiving(const std::string& text);

// zrep:kept, on an old master after a failover at a named snapshot: where what it held after
// that snapshot is kept.
struct KeptRecord {
  std::string aside;   // the filesystem it was moved to ("pool/fs-kept-e3")
  uint64_t epoch = 0;  // the epoch of that failover
  std::string base;    // the snapshot failed over at (after '@'), "?" when it was not found
  int64_t at = 0;      // unix time
  bool operator==(const KeptRecord&) const = default;
};
// "aside=pool/fs-kept-e3 epoch=3 base=zrep_000002 at=1700000000"
std::string format_kept(const KeptRecord& r);
// Tolerant: nullopt only without aside=; a missing or garbled number is 0, a missing word "".
std::optional<KeptRecord> parse_kept(const std::string& text);

// The pairing of a filesystem: zrep:src-fs and zrep:src-host name the master, zrep:dest-fs and
// zrep:dest-host the standby, with zrep:savecount and zrep:epoch. These two are text, as some
// writers copy what a filesystem records as is (resync); nullopt: not written, or not recorded.
// zrep:master (the role) and readonly are not part of it. The writer is write_pairing
// (agent/zfs/zfs.h).
struct PairingRecord {
  std::string src_fs;
  std::string src_host;
  std::string dest_fs;
  std::string dest_host;
  std::optional<std::string> savecount;
  std::optional<std::string> epoch;
  bool operator==(const PairingRecord&) const = default;
};
// The pairing as `p` records it: "" for a name it lacks, nullopt for a savecount or epoch it
// lacks; the texts as they are (neither checked nor parsed).
PairingRecord pairing_of(const props::PropMap& p);

}  // namespace zrep
