// The master side of replication: init (pair and full send) and sync (incremental send), and
// the list/status views. Runs on control-connection threads; per-filesystem locks keep two
// operations on one filesystem from interleaving in this daemon.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/config.h"
#include "agent/peer_session.h"
#include "agent/sync_plan.h"
#include "agent/zfs.h"
#include "agent/zrep_props.h"
#include "crypto/tls.h"
#include "proto/control.pb.h"

namespace zrep {

using ProgressSink = std::function<void(const control::Progress&)>;

// What the daemon remembers of a filesystem between operations (in memory; ZFS properties
// hold everything that must survive a restart).
struct FsRecord {
  std::string running;  // operation in progress, empty when idle
  std::chrono::system_clock::time_point running_since;
  std::optional<std::chrono::system_clock::time_point> last_success;
  uint64_t last_bytes = 0;
  double last_seconds = 0;
  std::string last_error;
  std::optional<std::chrono::system_clock::time_point> last_error_time;
  std::optional<std::chrono::system_clock::time_point> next_run;  // when scheduled
  int failures_in_a_row = 0;
};

class Replicator {
 public:
  // `sessions` (optional): the daemon's registry, so a stop interrupts outgoing transfers too.
  Replicator(const Config& config, const Zfs& zfs, TlsContext& tls, std::string instance_id,
             SessionRegistry* sessions = nullptr);

  Result<nlohmann::json> init(const control::InitCommand& cmd, const ProgressSink& progress);
  Result<nlohmann::json> sync(const control::SyncCommand& cmd, const ProgressSink& progress);
  Result<nlohmann::json> list(const control::ListCommand& cmd);
  Result<nlohmann::json> status(const control::StatusCommand& cmd);
  Result<nlohmann::json> expire(const control::ExpireCommand& cmd);
  Result<nlohmann::json> clear(const control::ClearCommand& cmd);
  Result<nlohmann::json> changedest(const control::ChangeDestCommand& cmd);

  // The pairing a destination records, from the source's properties.
  peer::Pairing make_pairing(const std::string& fs, const std::string& dest_host,
                             const std::string& dest_fs, const props::PropMap& p) const;
  // Records on the master's filesystem that it replicates as `pairing` says.
  Status write_master_pairing(const peer::Pairing& pairing);
  // list -s: the zrep snapshots of fs with their sent state.
  Result<nlohmann::json> list_snapshots(const std::string& fs);
  // For the scheduler: filesystems this host masters -> their destination host; one sync; a
  // cheap check that a peer answers (TCP, TLS, Hello); what to show in status.
  Result<std::map<std::string, std::string>> mastered_filesystems();
  Result<nlohmann::json> sync_scheduled(const std::string& fs) { return sync_one(fs, {}); }
  bool probe_peer(const std::string& peer_name);
  void note_schedule(const std::string& fs, std::chrono::system_clock::time_point next_run,
                     int failures);

 private:
  class FsLock;
  Result<FsLock> lock(const std::string& fs, const std::string& operation);
  Result<std::unique_ptr<PeerClient>> connect(const std::string& peer_name);
  Result<nlohmann::json> sync_one(const std::string& fs, const ProgressSink& progress);
  // Sends `snapshot` (incremental from `base` when given) to the peer and verifies it there.
  Result<peer::ReceiveReply> send_snapshot(PeerClient& peer, const std::string& snapshot,
                                           const SnapshotInfo* base, peer::ReceiveRequest req,
                                           const ProgressSink& progress);
  // The snapshot to send next: a new one, or (past max_unsent) the newest unsent one. Refuses
  // (kNoSpace) to snapshot below min_free.
  Result<std::string> choose_snapshot(const std::string& fs, const std::vector<SnapshotInfo>& local,
                                      const SyncPlan& plan);
  // After a failed transfer of `snap`: destroys it when the destination certainly lacks it
  // (the source is left as it was), keeps it (unsent) when that cannot be told or it arrived.
  void settle_failed_send(const std::string& snap, const std::string& dest_host,
                          const std::string& dest_fs);
  // init when dest already is this filesystem's complete replica (a lost final answer).
  // kNotFound when it is not.
  Result<nlohmann::json> adopt_replica(const std::string& fs, const control::InitCommand& cmd,
                                       PeerClient& peer, const peer::DescribeReply& remote);
  // Applies savecount here and, on a master with `peer`, on the destination too. keep_guid is
  // the newest common snapshot; 0 derives it from the zrep:sent marks here.
  Result<nlohmann::json> expire_one(const std::string& fs, PeerClient* peer, uint64_t keep_guid);
  // zrep-managed filesystems here: name -> properties.
  Result<std::map<std::string, std::map<std::string, std::string>>> managed_filesystems(
      const std::vector<std::string>& only);
  void record_result(const std::string& fs, const Status& status, uint64_t bytes, double seconds);

  const Config& config_;
  const Zfs& zfs_;
  TlsContext& tls_;
  std::string instance_id_;
  SessionRegistry* sessions_;

  std::mutex mu_;
  std::map<std::string, FsRecord> records_;  // guarded by mu_
};

}  // namespace zrep
