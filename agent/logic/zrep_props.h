// The ZFS user properties that hold replication state (zrep 2.x names, so filesystems zrep
// already replicates can be adopted), and small helpers to read them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace zrep::props {

inline constexpr const char* kSrcFs = "zrep:src-fs";
inline constexpr const char* kSrcHost = "zrep:src-host";
inline constexpr const char* kDestFs = "zrep:dest-fs";
inline constexpr const char* kDestHost = "zrep:dest-host";
inline constexpr const char* kMaster = "zrep:master";  // "yes" on the master's filesystem
inline constexpr const char* kSavecount = "zrep:savecount";
// Retention by age on this side (agent/logic/retention_grid.h), when the config sets none.
inline constexpr const char* kRetention = "zrep:retention";
inline constexpr const char* kSent = "zrep:sent";  // on snapshots: unix time it reached the peer
inline constexpr const char* kEpoch = "zrep:epoch";
inline constexpr const char* kSwitch = "zrep:switch";      // journal of a role switch in progress
inline constexpr const char* kFenced = "zrep:fenced";      // demoted: the peer took over
inline constexpr const char* kTakeover = "zrep:takeover";  // record of a forced takeover
// On an old master after a failover at a named snapshot: where what it held after that
// snapshot is kept ("aside=pool/fs-kept-e3 epoch=3 base=zrep_000002 at=TIME").
inline constexpr const char* kKept = "zrep:kept";
// On a destination, during a resumable receive: "snap=S guid=G base=B" of the stream.
inline constexpr const char* kReceiving = "zrep:receiving";
// Recursive pairings (init -R): "yes" on the root; on each member below it, the root's name.
inline constexpr const char* kRecursive = "zrep:recursive";
inline constexpr const char* kMemberOf = "zrep:member-of";
inline constexpr const char* kReadonly = "readonly";

inline constexpr uint32_t kDefaultSavecount = 5;

// Every property a filesystem's replication state is read from.
inline std::vector<std::string> filesystem_props() {
  return {kSrcFs,  kSrcHost,  kDestFs,    kDestHost,  kMaster,   kSavecount, kEpoch,    kSwitch,
          kFenced, kTakeover, kReceiving, kRecursive, kMemberOf, kKept,      kReadonly, kRetention};
}

using PropMap = std::map<std::string, std::string>;

// The properties `clear` removes from a filesystem (zrep:sent is removed from its snapshots).
inline std::vector<std::string> pairing_props() {
  return {kSrcFs,  kSrcHost,  kDestFs,    kDestHost,  kMaster,   kSavecount, kEpoch,    kSwitch,
          kFenced, kTakeover, kReceiving, kRecursive, kMemberOf, kKept,      kRetention};
}

inline std::string get(const PropMap& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

}  // namespace zrep::props
