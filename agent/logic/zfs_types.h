// What the ZFS adapter reports about this host's ZFS and its snapshots: plain values, so the
// pure decisions (agent/logic/) can take them without the adapter.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace zrep {

struct ZfsFeatures {
  enum class Dialect { kLegacy, kOpenZfs };
  Dialect dialect = Dialect::kLegacy;
  std::string version;  // "zfs-2.3.2", or "legacy (no 'zfs version')"
  int major = 0, minor = 0;
  bool list_parsable = false;  // zfs list -p
  bool holds = false;          // zfs hold/release
  bool bookmarks = false;
  bool resumable_receive = false;   // recv -s, send -t
  bool raw_send = false;            // send -w
  bool compressed_send = false;     // send -c
  bool written_property = false;    // the `written` property
  bool send_size_estimate = false;  // send -n -P
  bool recv_options = false;        // recv -u (do not mount) and recv -o PROP=VALUE
};

struct SnapshotInfo {
  std::string name;  // full name "fs@snap"
  uint64_t guid = 0;
  uint64_t createtxg = 0;
  int64_t creation = 0;         // unix time the snapshot was taken
  std::optional<int64_t> sent;  // zrep:sent (unix time) when set
};

}  // namespace zrep
