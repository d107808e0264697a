// The ZFS adapter's core: probing the implementation, running zfs (the command timeout, a
// failure's message), properties, and listing filesystems. Snapshots and holds are in
// zfs_snapshots.cc, changes to datasets in zfs_datasets.cc, send and receive in zfs_stream.cc.
#include "agent/zfs/zfs.h"

#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <sstream>

#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/zfs/zfs_internal.h"
#include "agent/zfs/zfs_parse.h"

namespace zrep {
namespace zfs_internal {

std::string seconds_text(std::chrono::milliseconds ms) {
  return fmt::format("{:.1f} s", std::chrono::duration<double>(ms).count());
}

Error failure(const ProcessOutput& out, std::string_view what) {
  ErrorCode code = classify_zfs_error(out.err);
  std::string text = condense_zfs_stderr(out.err);
  if (text.empty()) text = fmt::format("zfs exited with code {} and said nothing", out.exit_code);
  std::string message = fmt::format("{}: {}", what, text);
  if (code == ErrorCode::kModified) {
    message +=
        "; the destination was written to since the last sync; it must stay read-only (zrep "
        "sets readonly=on)";
  }
  return make_error(code, std::move(message));
}

Error spawn_failure(const Error& e) {
  if (e.code != ErrorCode::kNotFound) return e;
  return make_error(e.code, e.message + " (is ZFS installed?)");
}

}  // namespace zfs_internal

namespace {

using zfs_internal::failure;
using zfs_internal::seconds_text;
using zfs_internal::spawn_failure;

Status validate_any_name(const std::string& name) {
  return name.find('@') == std::string::npos ? validate_dataset_name(name)
                                             : validate_snapshot_name(name);
}

bool is_legacy(const ZfsFeatures& f) { return f.dialect == ZfsFeatures::Dialect::kLegacy; }

// The absolute path of `program` found in $PATH, or `program` itself when it has a '/' or is
// not found (running it then reports the error).
std::string resolve_in_path(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (!dir.empty() && dir.front() == '/') {
      std::string candidate = dir + "/" + program;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    start = end + 1;
  }
  return program;
}

}  // namespace

Result<Zfs> Zfs::probe(const Options& options) {
  // Resolve the programs once: a later change of PATH, or a directory early in it that someone
  // can write to, must not change which `zfs` the daemon runs as root.
  Options resolved = options;
  if (!options.runner) {
    resolved.zfs_program = resolve_in_path(options.zfs_program);
    resolved.zpool_program = resolve_in_path(options.zpool_program);
  }
  Zfs zfs(resolved, ZfsFeatures{});
  auto out = zfs.zfs({"version"});
  if (!out) return out.error();
  auto features = parse_zfs_version(*out);
  if (!features) return features.error();
  zfs.features_ = *features;
  return zfs;
}

Result<ProcessOutput> Zfs::run(const std::vector<std::string>& argv,
                               std::chrono::milliseconds timeout) const {
  if (options_.runner) return options_.runner(argv, timeout);
  return run_process(argv, timeout);
}

Result<ProcessOutput> Zfs::zfs(const std::vector<std::string>& args) const {
  return zfs(args, options_.command_timeout);
}

Result<ProcessOutput> Zfs::zfs(const std::vector<std::string>& args,
                               std::chrono::milliseconds timeout) const {
  std::vector<std::string> argv{options_.zfs_program};
  argv.insert(argv.end(), args.begin(), args.end());
  auto out = run(argv, timeout);
  if (!out) return spawn_failure(out.error());
  if (out->timed_out) {
    return make_error(ErrorCode::kTimeout,
                      fmt::format("'zfs {}' did not finish within {} and was killed (is ZFS "
                                  "hung or overloaded?)",
                                  fmt::join(args, " "), seconds_text(timeout)));
  }
  return out;
}

Result<bool> Zfs::exists(const std::string& dataset) const {
  ZREP_RETURN_IF_ERROR(validate_any_name(dataset));
  auto out = zfs({"list", "-H", "-o", "name", dataset});
  if (!out) return out.error();
  if (out->exit_code == 0) return true;
  if (classify_zfs_error(out->err) == ErrorCode::kNotFound) return false;
  return failure(*out, "cannot check whether " + dataset + " exists");
}

Result<std::map<std::string, std::string>> Zfs::get_props(
    const std::string& dataset, const std::vector<std::string>& props) const {
  ZREP_RETURN_IF_ERROR(validate_any_name(dataset));
  if (props.empty()) return std::map<std::string, std::string>{};
  for (const auto& p : props) ZREP_RETURN_IF_ERROR(validate_property_name(p));
  auto out = zfs({"get", "-H", "-p", "-o", "property,value,source",
                  fmt::format("{}", fmt::join(props, ",")), dataset});
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot read properties of " + dataset);
  return parse_props(out->out, is_legacy(features_));
}

Status Zfs::set_prop(const std::string& dataset, const std::string& prop,
                     const std::string& value) const {
  ZREP_RETURN_IF_ERROR(validate_any_name(dataset));
  ZREP_RETURN_IF_ERROR(validate_property_name(prop));
  ZREP_RETURN_IF_ERROR(validate_property_value(prop, value));
  auto out = zfs({"set", prop + "=" + value, dataset});
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot set " + prop + " on " + dataset);
  return Status::ok();
}

Status Zfs::inherit_prop(const std::string& dataset, const std::string& prop) const {
  ZREP_RETURN_IF_ERROR(validate_any_name(dataset));
  ZREP_RETURN_IF_ERROR(validate_property_name(prop));
  auto out = zfs({"inherit", prop, dataset});
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot clear " + prop + " on " + dataset);
  return Status::ok();
}

Result<std::vector<std::string>> Zfs::list_filesystems(const std::string& fs) const {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  auto out = zfs({"list", "-H", "-o", "name", "-t", "filesystem", "-r", fs});
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot list the filesystems below " + fs);
  std::vector<std::string> names;
  std::istringstream lines(out->out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    ZREP_RETURN_IF_ERROR(validate_dataset_name(line));
    if (line == fs || line.rfind(fs + "/", 0) == 0) names.push_back(line);
  }
  std::sort(names.begin(), names.end());  // "a" < "a/b": parents first
  return names;
}

Result<uint64_t> Zfs::available_bytes(const std::string& dataset) const {
  auto props = get_props(dataset, {"available"});
  if (!props) return props.error();
  auto it = props->find("available");
  std::optional<uint64_t> bytes;
  if (it != props->end()) bytes = parse_u64(it->second);
  if (!bytes)
    return make_error(ErrorCode::kZfs, "zfs did not report a number for available on " + dataset);
  return *bytes;
}

Result<std::map<std::string, std::map<std::string, std::string>>> Zfs::find_local_props(
    const std::vector<std::string>& props) const {
  if (props.empty()) return DatasetProps{};
  for (const auto& p : props) ZREP_RETURN_IF_ERROR(validate_property_name(p));
  // With no dataset named, `zfs get` covers every dataset of every pool. zfs-fuse hides a
  // locally set readonly=on behind the source "temporary" (see parse_props).
  auto out = zfs({"get", "-H", "-p", "-s", is_legacy(features_) ? "local,temporary" : "local", "-o",
                  "name,property,value,source", fmt::format("{}", fmt::join(props, ","))});
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot search for zrep properties");
  return parse_local_props(out->out, is_legacy(features_));
}

Status clear_zrep_properties(const Zfs& zfs, const std::string& fs) {
  for (const auto& p : props::pairing_props()) ZREP_RETURN_IF_ERROR(zfs.inherit_prop(fs, p));
  auto snaps = zfs.list_snapshots(fs);
  if (!snaps) return snaps.status();
  for (const auto& s : *snaps) {
    if (s.sent) ZREP_RETURN_IF_ERROR(zfs.inherit_prop(s.name, "zrep:sent"));
  }
  return release_base_holds(zfs, fs, {});
}

Status write_pairing(const Zfs& zfs, const std::string& fs, const PairingRecord& pairing,
                     PairingOrder order) {
  auto set_if = [&](const char* prop, const std::optional<std::string>& value) {
    return value ? zfs.set_prop(fs, prop, *value) : Status::ok();
  };
  if (order == PairingOrder::kEpochFirst)
    ZREP_RETURN_IF_ERROR(set_if(props::kEpoch, pairing.epoch));
  ZREP_RETURN_IF_ERROR(zfs.set_prop(fs, props::kSrcFs, pairing.src_fs));
  ZREP_RETURN_IF_ERROR(zfs.set_prop(fs, props::kSrcHost, pairing.src_host));
  ZREP_RETURN_IF_ERROR(zfs.set_prop(fs, props::kDestFs, pairing.dest_fs));
  ZREP_RETURN_IF_ERROR(zfs.set_prop(fs, props::kDestHost, pairing.dest_host));
  if (order == PairingOrder::kSavecountLast) {
    ZREP_RETURN_IF_ERROR(set_if(props::kEpoch, pairing.epoch));
    return set_if(props::kSavecount, pairing.savecount);
  }
  ZREP_RETURN_IF_ERROR(set_if(props::kSavecount, pairing.savecount));
  if (order == PairingOrder::kEpochLast) return set_if(props::kEpoch, pairing.epoch);
  return Status::ok();
}

}  // namespace zrep
