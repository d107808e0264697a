// The ZFS adapter: the only code that knows `zfs` and `zpool` command lines.
//
// It runs the programs with argv arrays (never a shell), with timeouts, parses `-H`/`-p` output,
// and probes the implementation once at start: OpenZFS 2.x (resumable receive, holds, bookmarks,
// raw and compressed sends, `list -p`) or an older one such as zfs-fuse (pool version 23, none
// of those). Every name is validated (zfs_names.h) before it reaches a command line.
// A Zfs object is immutable after probe() and safe to use from several threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/logic/records.h"
#include "agent/logic/zfs_types.h"
#include "common/result.h"
#include "common/subprocess.h"

namespace zrep {

struct SendSpec {
  std::string snapshot;             // fs@snap to send
  std::optional<std::string> from;  // incremental base (fs@snap or fs#bookmark); none: full
  bool intermediates = true;        // -I (with `from`) rather than -i
  bool raw = false;                 // -w (OpenZFS only)
  bool compressed = false;          // -c (OpenZFS only)
  std::string resume_token;         // -t TOKEN: the rest of an interrupted stream (OpenZFS)
};

struct RecvSpec {
  std::string target;      // filesystem to receive into
  bool force = false;      // -F
  bool resumable = false;  // -s (OpenZFS only)
  bool no_mount = false;   // -u (OpenZFS only): the caller mounts when it is ready
  // -o PROP=VALUE (OpenZFS only): set on the received filesystem before its data is visible.
  std::vector<std::pair<std::string, std::string>> props = {};
};

class Zfs {
 public:
  struct Options {
    std::string zfs_program = "zfs";
    std::string zpool_program = "zpool";
    std::chrono::milliseconds command_timeout{60000};
    // destroy and rollback free space synchronously on implementations without async destroy:
    // a large dataset takes minutes.
    std::chrono::milliseconds destroy_timeout{3600000};
    // Runs the short commands (zfs, zpool, mount) instead of a child process when set: a
    // recording ZFS adapter for tests and fuzzing (tests/fuzz/peer_dispatch_fuzz.cc). Sends
    // and receives (start_send, start_recv) still start zfs_program. Unset in the daemon.
    std::function<Result<ProcessOutput>(const std::vector<std::string>& argv,
                                        std::chrono::milliseconds timeout)>
        runner = {};
  };

  // Runs `zfs version` and sets the features. Fails when no ZFS answers (with what to do).
  static Result<Zfs> probe(const Options& options);
  static Result<Zfs> probe() { return probe(Options{}); }
  const ZfsFeatures& features() const { return features_; }

  Result<bool> exists(const std::string& dataset) const;
  // Values of `props` (native or user properties) for `dataset`; properties that are unset
  // ("-") are absent from the map.
  Result<std::map<std::string, std::string>> get_props(const std::string& dataset,
                                                       const std::vector<std::string>& props) const;
  Status set_prop(const std::string& dataset, const std::string& prop,
                  const std::string& value) const;
  Status inherit_prop(const std::string& dataset, const std::string& prop) const;

  // The snapshots of `fs` (not of its children), oldest first (by createtxg).
  Result<std::vector<SnapshotInfo>> list_snapshots(const std::string& fs) const;
  Status snapshot(const std::string& snapshot) const;
  // `zfs snapshot -r`: one atomic snapshot of fs and everything below it.
  Status snapshot_recursive(const std::string& snapshot) const;
  // fs and the filesystems below it (no volumes), parents before their children.
  Result<std::vector<std::string>> list_filesystems(const std::string& fs) const;
  Status destroy_snapshot(const std::string& snapshot) const;  // retries "dataset is busy" briefly
  Status destroy_filesystem(const std::string& fs, bool recursive) const;
  Status rollback(const std::string& snapshot, bool destroy_newer) const;
  Status create_filesystem(const std::string& fs, bool parents) const;
  // Renames a filesystem (same pool, same parent or another existing one).
  Status rename_filesystem(const std::string& from, const std::string& to) const;
  Result<uint64_t> available_bytes(const std::string& dataset) const;
  // Holds (OpenZFS): `zfs hold TAG SNAP` (an existing hold with TAG is fine), `zfs release`
  // (a missing one is fine), and which of `snapshots` carry TAG.
  Status hold(const std::string& snapshot, const std::string& tag) const;
  Status release(const std::string& snapshot, const std::string& tag) const;
  Result<std::vector<std::string>> held(const std::vector<std::string>& snapshots,
                                        const std::string& tag) const;
  // Bookmarks (OpenZFS): fs#name of a snapshot; the bookmarks of fs (name, GUID, createtxg),
  // oldest first; destroy one.
  Status bookmark(const std::string& snapshot, const std::string& bookmark) const;
  Result<std::vector<SnapshotInfo>> list_bookmarks(const std::string& fs) const;
  Status destroy_bookmark(const std::string& bookmark) const;
  Status clone(const std::string& snapshot, const std::string& target) const;
  // Resumable receives (OpenZFS): the token an interrupted `recv -s` left on fs ("" when none,
  // and always "" where the ZFS cannot resume), and `zfs recv -A` to discard that state.
  Result<std::string> resume_token(const std::string& fs) const;
  Status abort_partial_receive(const std::string& fs) const;
  // What a resume token names: the output of `zfs send -nvt TOKEN` (parse it with
  // parse_resume_token_contents, agent/logic/peer_trust.h). OpenZFS only.
  Result<std::string> resume_token_contents(const std::string& token) const;
  Status promote(const std::string& fs) const;
  // Native encryption (OpenZFS): `zfs load-key FS` (from its keylocation), `zfs mount FS`.
  Status load_key(const std::string& fs) const;
  Status mount(const std::string& fs) const;
  // Received data is inert: mounts fs when it is not mounted, and makes sure (on Linux) that
  // its mount has nosuid and nodev, remounting it so where the ZFS ignores setuid=off and
  // devices=off (zfs-fuse). Does nothing for a filesystem without a mountpoint.
  Status mount_inert(const std::string& fs) const;
  // The size of the incremental stream from `from` to `to` (both snapshots of one filesystem):
  // what was written between them. Reads the whole stream (zfs-fuse has no `written@`).
  Result<uint64_t> stream_size(const std::string& from, const std::string& to) const;
  // Filesystems (not snapshots) on which any of `props` is set locally: name -> {prop: value}.
  Result<std::map<std::string, std::map<std::string, std::string>>> find_local_props(
      const std::vector<std::string>& props) const;

  // Starts `zfs send`; the stream is on the child's stdout.
  Result<Child> start_send(const SendSpec& spec) const;
  // Starts `zfs recv`; the stream goes to the child's stdin.
  Result<Child> start_recv(const RecvSpec& spec) const;
  // Waits for a send or recv child and maps a failure to a Status whose message carries zfs's
  // own words and a hint: kModified ("destination has been modified"), kNoSpace ("out of space"),
  // kAlreadyExists ("destination exists"), kNotFound, otherwise kZfs.
  Status finish(Child& child, const std::string& what, std::chrono::milliseconds timeout) const;

 private:
  Zfs(Options options, ZfsFeatures features) : options_(std::move(options)), features_(features) {}
  // Runs zfs with the command timeout (or `timeout`), maps a failure to start or a timeout.
  Result<ProcessOutput> zfs(const std::vector<std::string>& args) const;
  Result<ProcessOutput> zfs(const std::vector<std::string>& args,
                            std::chrono::milliseconds timeout) const;
  // run_process, or options_.runner when set.
  Result<ProcessOutput> run(const std::vector<std::string>& argv,
                            std::chrono::milliseconds timeout) const;

  Options options_;
  ZfsFeatures features_;
};

// Removes every zrep property from `fs` and the zrep:sent marks from its snapshots. Data and
// snapshots stay.
Status clear_zrep_properties(const Zfs& zfs, const std::string& fs);

// The order write_pairing sets a pairing's properties in. It is part of the crash-safety
// argument of each writer (agent/FAILOVER.md): a crash between two writes leaves the first.
enum class PairingOrder {
  // epoch, src-fs, src-host, dest-fs, dest-host, savecount: the new master's commit point
  // (its epoch) before anything else (finish_new_master).
  kEpochFirst,
  // src-fs, src-host, dest-fs, dest-host, savecount, epoch.
  kEpochLast,
  // src-fs, src-host, dest-fs, dest-host, epoch, savecount (resync).
  kSavecountLast,
};
// The one writer of a pairing: sets the four names, and savecount and epoch when given, on fs
// in `order`, one `zfs set` each; stops at the first failure. zrep:master and readonly are the
// caller's to set, before or after.
Status write_pairing(const Zfs& zfs, const std::string& fs, const PairingRecord& pairing,
                     PairingOrder order);

// The tag of the hold zrep keeps on the incremental base of each pairing (OpenZFS), so an
// admin or another tool cannot destroy it and force a full resend.
inline constexpr const char* kBaseHoldTag = "zrep:base";
// Holds the snapshot of fs with base_guid and releases zrep's hold on every other snapshot of
// fs. Does nothing where the ZFS has no holds (zfs-fuse).
Status hold_base(const Zfs& zfs, const std::string& fs, uint64_t base_guid);
// hold_base, logging a failure instead of returning it (the caller goes on without the hold).
void hold_base_or_warn(const Zfs& zfs, const std::string& fs, uint64_t base_guid);
// Releases zrep's holds on the snapshots of fs, but `except`.
Status release_base_holds(const Zfs& zfs, const std::string& fs,
                          const std::optional<std::string>& except);

// A receive_resume_token as OpenZFS writes it ("1-" then hex digits and dashes), checked
// before it reaches a command line: it comes from the peer.
Status validate_resume_token(const std::string& token);

// Maps a failed zfs command's stderr to an error code (pure; unit-tested).
ErrorCode classify_zfs_error(const std::string& stderr_text);

}  // namespace zrep
