// Changes to datasets: destroying snapshots and filesystems (retried while zfs says "dataset is
// busy"), rollback, rename, create, clone, promote, and loading keys and mounting (mount_inert
// makes sure a received filesystem is mounted nosuid,nodev).
#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/zfs/zfs.h"
#include "agent/zfs/zfs_internal.h"
#include "agent/zfs/zfs_parse.h"

namespace zrep {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using zfs_internal::failure;

// zfs-fuse (and OpenZFS under load) report "dataset is busy" for a moment after a receive or an
// unmount; the destroy succeeds when retried.
constexpr milliseconds kBusyRetryFor{3000};

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

}  // namespace

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

}  // namespace zrep
