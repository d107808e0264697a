#include "agent/zfs/zfs.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/zfs/zfs_parse.h"

#include <spdlog/spdlog.h>

namespace zrep {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// zfs-fuse (and OpenZFS under load) report "dataset is busy" for a moment after a receive or an
// unmount; the destroy succeeds when retried.
constexpr milliseconds kBusyRetryFor{3000};

Status validate_any_name(const std::string& name) {
  return name.find('@') == std::string::npos ? validate_dataset_name(name)
                                             : validate_snapshot_name(name);
}

std::string seconds_text(milliseconds ms) {
  return fmt::format("{:.1f} s", std::chrono::duration<double>(ms).count());
}

// A failed zfs command as an error: the code from zfs's words, the words themselves, and for
// the one failure users cause by hand, what to do about it.
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

bool is_legacy(const ZfsFeatures& f) { return f.dialect == ZfsFeatures::Dialect::kLegacy; }

bool is_busy(const ProcessOutput& out) {
  return out.err.find("dataset is busy") != std::string::npos;
}

// Runs a destroy (or a rename), retrying while zfs says the dataset is busy.
Result<ProcessOutput> destroy_with_retry(const std::function<Result<ProcessOutput>()>& run) {
  auto deadline = Clock::now() + kBusyRetryFor;
  milliseconds pause{50};
  while (true) {
    auto out = run();
    if (!out || out->exit_code == 0 || !is_busy(*out) || Clock::now() + pause > deadline) {
      return out;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, milliseconds(500));
  }
}

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

Error spawn_failure(const Error& e) {
  if (e.code != ErrorCode::kNotFound) return e;
  return make_error(e.code, e.message + " (is ZFS installed?)");
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

Status Zfs::destroy_snapshot(const std::string& snapshot) const {
  // A snapshot name, checked as one: `zfs destroy` of a filesystem name would destroy data.
  ZREP_RETURN_IF_ERROR(validate_snapshot_name(snapshot));
  auto out = destroy_with_retry([&] {
    return zfs({"destroy", snapshot}, options_.destroy_timeout);
  });
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot destroy snapshot " + snapshot);
  return Status::ok();
}

Status Zfs::destroy_filesystem(const std::string& fs, bool recursive) const {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  std::vector<std::string> args{"destroy"};
  if (recursive) args.push_back("-r");
  args.push_back(fs);
  auto out = destroy_with_retry([&] { return zfs(args, options_.destroy_timeout); });
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot destroy filesystem " + fs);
  return Status::ok();
}

Status Zfs::rollback(const std::string& snapshot, bool destroy_newer) const {
  ZREP_RETURN_IF_ERROR(validate_snapshot_name(snapshot));
  std::vector<std::string> args{"rollback"};
  if (destroy_newer) args.push_back("-r");
  args.push_back(snapshot);
  auto out = zfs(args, options_.destroy_timeout);
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot roll back to " + snapshot);
  return Status::ok();
}

Status Zfs::rename_filesystem(const std::string& from, const std::string& to) const {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(from));
  ZREP_RETURN_IF_ERROR(validate_dataset_name(to));
  // zfs-fuse refuses to rename a received, mounted filesystem ("dataset is busy"), and can
  // stay busy for a moment after a receive: unmount, retry, mount again.
  bool unmounted = false;
  auto deadline = Clock::now() + milliseconds(10000);
  milliseconds pause{100};
  auto out = zfs({"rename", from, to});
  while (out && out->exit_code != 0 && is_busy(*out) && Clock::now() + pause < deadline) {
    auto u = zfs({"umount", from});
    unmounted = unmounted || (u && u->exit_code == 0);
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, milliseconds(1000));
    out = zfs({"rename", from, to});
  }
  if (unmounted) (void)zfs({"mount", out && out->exit_code == 0 ? to : from});
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot rename " + from + " to " + to);
  return Status::ok();
}

Status Zfs::create_filesystem(const std::string& fs, bool parents) const {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  std::vector<std::string> args{"create"};
  if (parents) args.push_back("-p");
  args.push_back(fs);
  auto out = zfs(args);
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot create filesystem " + fs);
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

Result<std::string> Zfs::resume_token(const std::string& fs) const {
  if (!features_.resumable_receive) return std::string();
  auto p = get_props(fs, {"receive_resume_token"});
  if (!p) return p.error();
  auto it = p->find("receive_resume_token");
  if (it == p->end() || it->second == "-") return std::string();
  ZREP_RETURN_IF_ERROR(validate_resume_token(it->second));
  return it->second;
}

Result<std::string> Zfs::resume_token_contents(const std::string& token) const {
  if (!features_.resumable_receive) {
    return make_error(ErrorCode::kInvalidArgument,
                      "resume tokens need OpenZFS; this ZFS is " + features_.version);
  }
  ZREP_RETURN_IF_ERROR(validate_resume_token(token));
  auto out = zfs({"send", "-nvt", token});
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot read the resume token");
  return out->out;
}

Status Zfs::abort_partial_receive(const std::string& fs) const {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  auto out = zfs({"recv", "-A", fs});
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot discard the partial receive into " + fs);
  return Status::ok();
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

Status Zfs::clone(const std::string& snapshot, const std::string& target) const {
  ZREP_RETURN_IF_ERROR(validate_snapshot_name(snapshot));
  ZREP_RETURN_IF_ERROR(validate_dataset_name(target));
  auto out = zfs({"clone", snapshot, target});
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot clone " + snapshot + " as " + target);
  return Status::ok();
}

Status Zfs::promote(const std::string& fs) const {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  auto out = zfs({"promote", fs});
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot promote " + fs);
  return Status::ok();
}

Status Zfs::load_key(const std::string& fs) const {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  auto out = zfs({"load-key", fs});
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot load the key of " + fs);
  return Status::ok();
}

Status Zfs::mount(const std::string& fs) const {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  auto out = zfs({"mount", fs});
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot mount " + fs);
  return Status::ok();
}

Status Zfs::mount_inert(const std::string& fs) const {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  std::vector<std::string> wanted{"mounted", "mountpoint", "canmount"};
  if (features_.raw_send) wanted.push_back("keystatus");  // native encryption (OpenZFS)
  auto p = get_props(fs, wanted);
  if (!p) return p.error();
  const std::string mountpoint = props::get(*p, "mountpoint");
  if (mountpoint.empty() || mountpoint[0] != '/' || props::get(*p, "canmount") == "off") {
    return Status::ok();  // none, legacy or "none": nothing zfs mounts
  }
  if (props::get(*p, "keystatus") == "unavailable") return Status::ok();  // raw, no key here
  if (props::get(*p, "mounted") != "yes") ZREP_RETURN_IF_ERROR(mount(fs));
  std::ifstream in("/proc/mounts");
  if (!in) return Status::ok();  // not Linux: zfs applies setuid/devices itself
  std::stringstream text;
  text << in.rdbuf();
  auto opts = mount_options_at(text.str(), mountpoint);
  if (!opts) return Status::ok();
  const bool nosuid = std::find(opts->begin(), opts->end(), "nosuid") != opts->end();
  const bool nodev = std::find(opts->begin(), opts->end(), "nodev") != opts->end();
  if (nosuid && nodev) return Status::ok();
  // The ZFS mounted it with setuid or devices honoured although both are off (zfs-fuse
  // ignores them): take them away from the mount itself.
  auto out =
      run({"mount", "-o", "remount,bind,nosuid,nodev", mountpoint}, options_.command_timeout);
  if (!out) return out.error();
  if (out->exit_code != 0 || out->timed_out) {
    return make_error(ErrorCode::kZfs, "cannot remount " + mountpoint +
                                           " nosuid,nodev: " + condense_zfs_stderr(out->err));
  }
  return Status::ok();
}

Result<uint64_t> Zfs::stream_size(const std::string& from, const std::string& to) const {
  SendSpec spec;
  spec.snapshot = to;
  spec.from = from;
  spec.intermediates = false;
  auto child = start_send(spec);
  if (!child) return child.error();
  uint64_t total = 0;
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = ::read(child->stdout_fd(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    total += static_cast<uint64_t>(n);
  }
  ZREP_RETURN_IF_ERROR(finish(*child, "zfs send -i " + from + " " + to, options_.destroy_timeout));
  return total;
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

Result<Child> Zfs::start_send(const SendSpec& spec) const {
  ZREP_RETURN_IF_ERROR(validate_snapshot_name(spec.snapshot));
  if (spec.from) {
    ZREP_RETURN_IF_ERROR(spec.from->find('#') != std::string::npos
                             ? validate_bookmark_name(*spec.from)
                             : validate_snapshot_name(*spec.from));
  }
  if (spec.raw && !features_.raw_send) {
    return make_error(ErrorCode::kInvalidArgument,
                      "raw sends (-w) need OpenZFS; this ZFS is " + features_.version);
  }
  if (spec.compressed && !features_.compressed_send) {
    return make_error(ErrorCode::kInvalidArgument,
                      "compressed sends (-c) need OpenZFS; this ZFS is " + features_.version);
  }
  std::vector<std::string> argv{options_.zfs_program, "send"};
  if (!spec.resume_token.empty()) {
    // The token carries the snapshot, the base and the flags of the interrupted stream.
    if (!features_.resumable_receive) {
      return make_error(ErrorCode::kInvalidArgument,
                        "resuming a send (-t) needs OpenZFS; this ZFS is " + features_.version);
    }
    ZREP_RETURN_IF_ERROR(validate_resume_token(spec.resume_token));
    argv.insert(argv.end(), {"-t", spec.resume_token});
    auto child = Child::spawn(argv, StdioMode::kNull, StdioMode::kPipe);
    if (!child) return spawn_failure(child.error());
    return child;
  }
  if (spec.raw) argv.push_back("-w");
  if (spec.compressed) argv.push_back("-c");
  if (spec.from) {
    argv.push_back(spec.intermediates ? "-I" : "-i");
    argv.push_back(*spec.from);
  }
  argv.push_back(spec.snapshot);
  auto child = Child::spawn(argv, StdioMode::kNull, StdioMode::kPipe);
  if (!child) return spawn_failure(child.error());
  return child;
}

Result<Child> Zfs::start_recv(const RecvSpec& spec) const {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(spec.target));
  if (spec.resumable && !features_.resumable_receive) {
    return make_error(ErrorCode::kInvalidArgument,
                      "resumable receive (-s) needs OpenZFS; this ZFS is " + features_.version);
  }
  if ((spec.no_mount || !spec.props.empty()) && !features_.recv_options) {
    return make_error(ErrorCode::kInvalidArgument,
                      "recv -u and -o need OpenZFS; this ZFS is " + features_.version);
  }
  std::vector<std::string> argv{options_.zfs_program, "recv"};
  if (spec.force) argv.push_back("-F");
  if (spec.resumable) argv.push_back("-s");
  if (spec.no_mount) argv.push_back("-u");
  for (const auto& [prop, value] : spec.props) {
    ZREP_RETURN_IF_ERROR(validate_property_name(prop));
    ZREP_RETURN_IF_ERROR(validate_property_value(prop, value));
    argv.insert(argv.end(), {"-o", prop + "=" + value});
  }
  argv.push_back(spec.target);
  auto child = Child::spawn(argv, StdioMode::kPipe, StdioMode::kNull);
  if (!child) return spawn_failure(child.error());
  return child;
}

Status Zfs::finish(Child& child, const std::string& what, milliseconds timeout) const {
  ProcessOutput out = child.wait(timeout);
  if (out.timed_out) {
    std::string said = condense_zfs_stderr(out.err);
    return make_error(ErrorCode::kTimeout,
                      fmt::format("{}: zfs did not finish within {} and was killed{}{}", what,
                                  seconds_text(timeout), said.empty() ? "" : "; it said: ", said));
  }
  if (out.exit_code != 0) return failure(out, what);
  return Status::ok();
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

Status validate_resume_token(const std::string& token) {
  bool ok = token.size() >= 3 && token.size() <= 65536 && token[0] != '-';
  for (char c : token) {
    ok = ok && (std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == '-');
  }
  if (!ok) {
    return make_error(ErrorCode::kInvalidArgument,
                      "not a receive resume token: '" + token.substr(0, 40) + "'");
  }
  return Status::ok();
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

Status set_props(const Zfs& zfs, const std::string& fs,
                 std::initializer_list<std::pair<const char*, std::string>> values) {
  for (const auto& [k, v] : values) ZREP_RETURN_IF_ERROR(zfs.set_prop(fs, k, v));
  return Status::ok();
}

}  // namespace zrep
