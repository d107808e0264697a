// Snapshots, holds and bookmarks: listing and taking snapshots, zfs hold/release/holds, the
// hold zrep keeps on each pairing's incremental base (hold_base), and bookmarks (OpenZFS).
// Destroying a snapshot and rolling back are in zfs_datasets.cc.
#include <sstream>

#include "agent/logic/zfs_names.h"
#include "agent/zfs/zfs.h"
#include "agent/zfs/zfs_internal.h"
#include "agent/zfs/zfs_parse.h"

#include <spdlog/spdlog.h>

namespace zrep {
namespace {

using zfs_internal::failure;

}  // namespace

Result<std::vector<SnapshotInfo>> Zfs::list_snapshots(const std::string& fs) const {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  // `get -d 1` rather than `list -t snapshot -p`: zfs-fuse has no `list -p`, and this one form
  // works on every dialect. It also reports fs itself and its children; the parser drops them.
  auto out = zfs({"get", "-H", "-p", "-o", "name,property,value",
                  "guid,createtxg,creation,zrep:sent", "-d", "1", fs});
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot list the snapshots of " + fs);
  return parse_snapshot_listing(fs, out->out);
}

Status Zfs::snapshot(const std::string& snapshot) const {
  ZREP_RETURN_IF_ERROR(validate_snapshot_name(snapshot));
  auto out = zfs({"snapshot", snapshot});
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot create snapshot " + snapshot);
  return Status::ok();
}

Status Zfs::snapshot_recursive(const std::string& snapshot) const {
  ZREP_RETURN_IF_ERROR(validate_snapshot_name(snapshot));
  auto out = zfs({"snapshot", "-r", snapshot});
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot create snapshot " + snapshot + " (-r)");
  return Status::ok();
}

Status Zfs::hold(const std::string& snapshot, const std::string& tag) const {
  ZREP_RETURN_IF_ERROR(validate_snapshot_name(snapshot));
  ZREP_RETURN_IF_ERROR(validate_property_name(tag));
  auto out = zfs({"hold", tag, snapshot});
  if (!out) return out.error();
  if (out->exit_code != 0 && out->err.find("tag already exists") == std::string::npos) {
    return failure(*out, "cannot hold " + snapshot);
  }
  return Status::ok();
}

Status Zfs::release(const std::string& snapshot, const std::string& tag) const {
  ZREP_RETURN_IF_ERROR(validate_snapshot_name(snapshot));
  ZREP_RETURN_IF_ERROR(validate_property_name(tag));
  auto out = zfs({"release", tag, snapshot});
  if (!out) return out.error();
  if (out->exit_code != 0 && out->err.find("no such tag") == std::string::npos) {
    return failure(*out, "cannot release the hold on " + snapshot);
  }
  return Status::ok();
}

Result<std::vector<std::string>> Zfs::held(const std::vector<std::string>& snapshots,
                                           const std::string& tag) const {
  std::vector<std::string> out;
  if (snapshots.empty()) return out;
  std::vector<std::string> args{"holds", "-H"};
  for (const auto& s : snapshots) {
    ZREP_RETURN_IF_ERROR(validate_snapshot_name(s));
    args.push_back(s);
  }
  auto r = zfs(args);
  if (!r) return r.error();
  if (r->exit_code != 0) return failure(*r, "cannot list the holds of " + snapshots.front());
  // NAME <tab> TAG <tab> TIMESTAMP
  std::istringstream lines(r->out);
  for (std::string line; std::getline(lines, line);) {
    auto t1 = line.find('\t');
    if (t1 == std::string::npos) continue;
    auto t2 = line.find('\t', t1 + 1);
    if (line.substr(t1 + 1, t2 == std::string::npos ? std::string::npos : t2 - t1 - 1) == tag) {
      out.push_back(line.substr(0, t1));
    }
  }
  return out;
}

Status release_base_holds(const Zfs& zfs, const std::string& fs,
                          const std::optional<std::string>& except) {
  if (!zfs.features().holds) return Status::ok();
  auto snaps = zfs.list_snapshots(fs);
  if (!snaps) return snaps.status();
  std::vector<std::string> names;
  for (const auto& s : *snaps) {
    if (s.name != except) names.push_back(s.name);
  }
  auto held = zfs.held(names, kBaseHoldTag);
  if (!held) return held.status();
  for (const auto& name : *held) ZREP_RETURN_IF_ERROR(zfs.release(name, kBaseHoldTag));
  return Status::ok();
}

Status hold_base(const Zfs& zfs, const std::string& fs, uint64_t base_guid) {
  if (!zfs.features().holds) return Status::ok();
  auto snaps = zfs.list_snapshots(fs);
  if (!snaps) return snaps.status();
  for (const auto& s : *snaps) {
    if (s.guid != base_guid) continue;
    ZREP_RETURN_IF_ERROR(zfs.hold(s.name, kBaseHoldTag));
    return release_base_holds(zfs, fs, s.name);
  }
  return make_error(ErrorCode::kNotFound,
                    "no snapshot of " + fs + " has GUID " + std::to_string(base_guid));
}

void hold_base_or_warn(const Zfs& zfs, const std::string& fs, uint64_t base_guid) {
  if (Status h = hold_base(zfs, fs, base_guid); !h) {
    spdlog::warn("{}: could not hold the new base: {}", fs, h.message());
  }
}

Status Zfs::bookmark(const std::string& snapshot, const std::string& bookmark) const {
  ZREP_RETURN_IF_ERROR(validate_snapshot_name(snapshot));
  ZREP_RETURN_IF_ERROR(validate_bookmark_name(bookmark));
  auto out = zfs({"bookmark", snapshot, bookmark});
  if (!out) return out.error();
  if (out->exit_code != 0 && out->err.find("already exists") == std::string::npos) {
    return failure(*out, "cannot bookmark " + snapshot);
  }
  return Status::ok();
}

Result<std::vector<SnapshotInfo>> Zfs::list_bookmarks(const std::string& fs) const {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  std::vector<SnapshotInfo> out;
  if (!features_.bookmarks) return out;
  auto r = zfs({"list", "-H", "-p", "-t", "bookmark", "-o", "name,guid,createtxg", "-s",
                "createtxg", "-d", "1", fs});
  if (!r) return r.error();
  if (r->exit_code != 0) return failure(*r, "cannot list the bookmarks of " + fs);
  std::istringstream lines(r->out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    SnapshotInfo b;
    std::string guid, txg;
    if (!std::getline(fields, b.name, '\t') || !std::getline(fields, guid, '\t') ||
        !std::getline(fields, txg, '\t')) {
      continue;
    }
    auto g = parse_u64(guid);
    auto t = parse_u64(txg);
    if (!g || !t || b.name.rfind(fs + "#", 0) != 0) continue;
    b.guid = *g;
    b.createtxg = *t;
    out.push_back(std::move(b));
  }
  return out;
}

Status Zfs::destroy_bookmark(const std::string& bookmark) const {
  ZREP_RETURN_IF_ERROR(validate_bookmark_name(bookmark));
  auto out = zfs({"destroy", bookmark});
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot destroy bookmark " + bookmark);
  return Status::ok();
}

}  // namespace zrep
