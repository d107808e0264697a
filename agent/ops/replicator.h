// The master side of replication: init (pair and full send) and sync (incremental send), and
// the list/status views. Runs on control-connection threads; per-filesystem locks keep two
// operations on one filesystem from interleaving in this daemon.
//
// One class, its definitions in agent/ops/ by concern: replicator.cc (locks, records, managed
// filesystems, pairing properties), peers.cc, peer_report.cc (the peers command), transfer.cc
// (one snapshot to a peer), sync.cc, init.cc, recursive.cc, admin.cc (expire, changedest,
// clear, list, status), failover.cc, takeover.cc, resync.cc, recovery.cc (sweep) and fencing.cc.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>

#include "agent/config/config.h"
#include "agent/logic/failover_outcome.h"
#include "agent/logic/lock_table.h"
#include "agent/logic/role_switch.h"
#include "agent/logic/sync_plan.h"
#include "agent/logic/zrep_props.h"
#include "agent/rpc/link.h"
#include "agent/rpc/peer_session.h"
#include "agent/zfs/zfs.h"
#include "crypto/tls.h"
#include "proto/control.pb.h"

namespace zrep {

using ProgressSink = std::function<void(const control::Progress&)>;

// A planned failover's result for the CLI, on either host.
control::FailoverResult failover_result(const FailoverOutcome& done);
// A transfer that arrived and was verified (the fields init and sync share), and one that failed.
control::Transfer sent_transfer(const std::string& fs, const std::string& dest_host,
                                const std::string& dest_fs, const std::string& snapshot,
                                uint64_t guid, uint64_t bytes, double seconds);
control::Transfer failed_transfer(const std::string& fs, const std::string& error);
// fs is the master on `master` at `epoch` (takeover; not forced until the caller says so).
control::TakeoverResult takeover_result(const std::string& fs, const std::string& master,
                                        uint64_t epoch);
// What `takeover` did: a planned failover run by the master, or a forced takeover here.
using TakeoverOutcome = std::variant<control::FailoverResult, control::TakeoverResult>;
// On the standby: the result its master sent, every string of it untrusted text
// (sanitize_peer_text).
FailoverOutcome failover_outcome_from_peer(const peer::TakeoverReply& reply);

// What the daemon remembers of a filesystem between operations (in memory; ZFS properties
// hold everything that must survive a restart).
struct FsRecord {
  std::string running;  // operation in progress, empty when idle
  std::chrono::system_clock::time_point running_since;
  std::optional<std::chrono::system_clock::time_point> last_success;
  uint64_t last_bytes = 0;
  double last_seconds = 0;
  std::string last_error;
  ErrorCode last_error_code = ErrorCode::kInternal;
  std::optional<std::chrono::system_clock::time_point> last_error_time;
  std::optional<std::chrono::system_clock::time_point> next_run;  // when scheduled
  int failures_in_a_row = 0;
};

class Replicator {
 public:
  // `sessions` (optional): the daemon's registry, so a stop interrupts outgoing transfers too.
  // `links` (optional): how a peer without an address is reached (agent/rpc/link.h).
  Replicator(const Config& config, const Zfs& zfs, TlsContext& tls, std::string instance_id,
             LockTable& locks, SessionRegistry* sessions = nullptr, LinkHub* links = nullptr);

  // Each operation returns its typed result (proto/control.proto); agent/cli/render.cc is the
  // one place that turns them into text or JSON.
  Result<control::Transfers> init(const control::InitCommand& cmd, const ProgressSink& progress);
  Result<control::Transfers> sync(const control::SyncCommand& cmd, const ProgressSink& progress);
  Result<control::ListResult> list(const control::ListCommand& cmd);
  Result<control::StatusResult> status(const control::StatusCommand& cmd);
  Result<control::ExpireResult> expire(const control::ExpireCommand& cmd);
  Result<control::ClearResult> clear(const control::ClearCommand& cmd);
  Result<control::ChangeDestResult> changedest(const control::ChangeDestCommand& cmd);
  // Each configured peer: its link, a session opened now (version, ZFS, clock), and whether it
  // lets this host touch the destinations of the pairings this host masters to it
  // (agent/ops/peer_report.cc).
  Result<control::PeersResult> peers(const control::PeersCommand& cmd);
  // Failover, takeover and resync (agent/ops/failover.cc on agent/roles/switch_steps.h; the
  // state machine is agent/FAILOVER.md).
  Result<control::FailoverResult> failover(const control::FailoverCommand& cmd,
                                           const ProgressSink& progress);
  Result<TakeoverOutcome> takeover(const control::TakeoverCommand& cmd,
                                   const ProgressSink& progress);
  Result<control::ResyncResult> resync(const control::ResyncCommand& cmd);
  // A planned failover of fs (mastered here) that its standby `requester` asked for.
  Result<FailoverOutcome> failover_for_peer(const std::string& fs, const std::string& snapshot,
                                            const std::string& requester);
  // Recovery and fencing. check_later() queues fs for the next sweep; sweep() resolves
  // unfinished switches and checks mastered filesystems against their peers (all of them
  // when `everything`, as at startup; otherwise the queued ones). True when something is
  // still unresolved (a peer did not answer).
  void check_later(const std::string& fs);
  bool sweep(bool everything);

  // The pairing a destination records, from the source's properties.
  peer::Pairing make_pairing(const std::string& fs, const std::string& dest_host,
                             const std::string& dest_fs, const props::PropMap& p) const;
  // Records on the master's filesystem that it replicates as `pairing` says.
  Status write_master_pairing(const peer::Pairing& pairing);
  // list -s: the zrep snapshots of fs with their sent state.
  Result<control::SnapshotList> list_snapshots(const std::string& fs);
  // For the scheduler: filesystems this host masters -> their destination host; one sync; a
  // cheap check that a peer answers (TCP, TLS, Hello); what to show in status.
  Result<std::map<std::string, std::string>> mastered_filesystems();
  Result<control::Transfers> sync_scheduled(const std::string& fs) { return sync_one(fs, {}, ""); }
  bool probe_peer(const std::string& peer_name);
  void note_schedule(const std::string& fs, std::chrono::system_clock::time_point next_run,
                     int failures);

 private:
  // Holds this daemon's lock on one filesystem for the lifetime of an operation.
  class FsLock {
   public:
    FsLock(Replicator* r, std::string fs, HeldLock held)
        : r_(r), fs_(std::move(fs)), held_(std::move(held)) {}
    FsLock(FsLock&& o) noexcept
        : r_(std::exchange(o.r_, nullptr)), fs_(std::move(o.fs_)), held_(std::move(o.held_)) {}
    FsLock(const FsLock&) = delete;
    FsLock& operator=(const FsLock&) = delete;
    FsLock& operator=(FsLock&&) = delete;
    ~FsLock();

   private:
    Replicator* r_;
    std::string fs_;
    HeldLock held_;
  };
  // A connection to a peer holding its lock on its side of a pairing, released at the end.
  struct LockedPeer {
    std::unique_ptr<PeerClient> client;
    std::string fs, token;
    LockedPeer(std::unique_ptr<PeerClient> c, std::string f, std::string t)
        : client(std::move(c)), fs(std::move(f)), token(std::move(t)) {}
    LockedPeer(LockedPeer&&) noexcept = default;
    LockedPeer& operator=(LockedPeer&&) = delete;
    LockedPeer(const LockedPeer&) = delete;
    LockedPeer& operator=(const LockedPeer&) = delete;
    ~LockedPeer();
    PeerClient& operator*() { return *client; }
    PeerClient* operator->() { return client.get(); }
  };
  Result<FsLock> lock(const std::string& fs, const std::string& operation);
  // Connects to the peer and takes its lock on `remote_fs` for `operation`; released when the
  // returned LockedPeer ends, or the session does.
  Result<LockedPeer> connect_locked(const std::string& peer_name, const std::string& remote_fs,
                                    const std::string& operation);
  // Asks the peer about its side of fs's pairing, telling it ours (for fencing).
  Result<peer::DescribeReply> describe_pair(PeerClient& peer, const std::string& fs,
                                            const props::PropMap& p, const std::string& remote_fs);
  // On the standby: asks the master to run a planned failover to this host.
  Result<control::FailoverResult> ask_master(const std::string& fs, const props::PropMap& p,
                                             const std::string& snapshot);
  Result<FailoverOutcome> run_failover(const std::string& fs, const std::string& snapshot,
                                       const ProgressSink& progress);
  // The steps of run_failover (agent/ops/failover.cc). Why fs cannot fail over as its
  // properties stand (an unfinished switch is resolved first); the GUID of the named snapshot
  // it fails over at, when both sides may fail over there; the final incremental `snap` from
  // `base`, verified; and the switch itself with the peer's lock held.
  struct FailoverPlan;
  Status failover_refusal(const std::string& fs, const props::PropMap& p);
  Result<uint64_t> base_at_snapshot(const FailoverPlan& plan);
  Result<peer::ReceiveReply> send_final(const FailoverPlan& plan, PeerClient& peer,
                                        const std::string& snap, const SnapshotInfo& base,
                                        const ProgressSink& progress);
  Result<FailoverOutcome> hand_over(FailoverPlan& plan, LockedPeer& peer,
                                    const ProgressSink& progress,
                                    std::chrono::steady_clock::time_point started);
  // With fs's lock held: resolves its unfinished switch. Returns what was done, for messages.
  Result<std::string> recover_locked(const std::string& fs, PeerClient* peer);
  // With fs's lock held, fs mastered here: compares epochs with the peer's side. Demotes fs
  // when the peer took over; an error when this host must not send.
  // Judges what the peer says of the pairing against local state (role_switch.h judge_claim).
  Result<ClaimJudgement> judge_peer_claim(const std::string& fs, const props::PropMap& p,
                                          const peer::DescribeReply& remote,
                                          const std::string& peer_host);
  Status fence_locked(const std::string& fs, const props::PropMap& p,
                      const peer::DescribeReply& remote, const std::string& peer_host);
  // fence_locked's demotion of fs (at epoch `mine`) after the peer took over at `theirs`:
  // always an error that says what happened.
  Status demote_locked(const std::string& fs, const std::string& dest_fs,
                       const peer::DescribeReply& remote, const std::string& peer_host,
                       uint64_t mine, uint64_t theirs);
  // The steps of sweep (agent/ops/recovery.cc). fix_locked runs `fix` on fs under its lock
  // and, when it fails, queues fs for the next sweep; sweep_one looks at one filesystem (its
  // peer too when `check_peer`); fence_if_taken_over demotes a master whose peer took over.
  // Each is true when something stays unresolved.
  bool fix_locked(const std::string& fs, const char* what, const std::function<Status()>& fix);
  bool sweep_one(const std::string& fs, const props::PropMap& p, bool check_peer);
  bool fence_if_taken_over(const std::string& fs, const props::PropMap& p);
  Result<std::unique_ptr<PeerClient>> connect(const std::string& peer_name);
  // peers' answer for one peer; `managed` are this host's zrep filesystems.
  control::PeerView peer_view(const PeerConfig& peer,
                              const std::map<std::string, props::PropMap>& managed);
  // With `given_snapshot` (a recursive snapshot the caller made), sends that one. One transfer,
  // or for a recursive pairing's root one per member.
  Result<control::Transfers> sync_one(const std::string& fs, const ProgressSink& progress,
                                      const std::string& given_snapshot);
  // The steps of sync_one (agent/ops/sync.cc). Why fs sends nothing as its properties stand;
  // why it sends nothing to the destination as the peer describes it (after fencing fs when
  // the peer took over); the snapshot whose interrupted transfer is resumed (its token set in
  // `req`), empty when the partial receive is discarded; and the send after the plan.
  struct SyncRun;
  Status sync_refusal(const std::string& fs, const props::PropMap& p);
  Status check_sync_destination(const std::string& fs, const props::PropMap& p,
                                const peer::DescribeReply& remote, const std::string& dest_host,
                                const std::string& dest_fs);
  std::string resume_choice(const SyncRun& run, PeerClient& peer, const peer::DescribeReply& remote,
                            const std::vector<SnapshotInfo>& local, const SyncPlan& plan,
                            peer::ReceiveRequest& req);
  Result<control::Transfer> send_next(const SyncRun& run, LockedPeer& peer,
                                      const peer::DescribeReply& remote,
                                      const std::vector<SnapshotInfo>& local, const SyncPlan& plan,
                                      const ProgressSink& progress);
  Result<control::Transfer> init_with(const control::InitCommand& cmd, const ProgressSink& progress,
                                      const std::string& given_snapshot);
  // The steps of init_with (agent/ops/init.cc): the unsent init snapshot a destination's
  // partial receive is resumed with (empty: it is discarded), and what the master records
  // once the destination verified `snap`.
  Result<std::string> resume_init(const control::InitCommand& cmd, PeerClient& peer,
                                  const peer::DescribeReply& remote,
                                  const std::vector<SnapshotInfo>& local);
  Result<control::Transfer> finish_init(const control::InitCommand& cmd, const std::string& snap,
                                        const peer::Pairing& pairing,
                                        const peer::ReceiveReply& done, bool resumed,
                                        std::chrono::steady_clock::time_point started);
  // Recursive pairings (agent/ops/recursive.cc): one `snapshot -r` of the root, then each
  // filesystem of the tree as its own pairing, parents first; new children are initialised.
  Result<control::Transfers> init_recursive(const control::InitCommand& cmd,
                                            const ProgressSink& progress);
  Result<control::Transfers> sync_recursive(const std::string& root, const ProgressSink& progress);
  // Refuses (kConflict, recorded for the root) a new recursive snapshot while a member has
  // max_unsent unsent snapshots after its newest sent one.
  Status check_tree_unsent(const std::string& root, const std::vector<std::string>& members);
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
  // Only a zrep snapshot that this run created (`created_by_this_run`) and that is not the
  // incremental base (`base_guid`) is ever destroyed (agent/logic/peer_trust.h).
  void settle_failed_send(const std::string& snap, const std::string& dest_host,
                          const std::string& dest_fs, bool created_by_this_run, uint64_t base_guid);
  // OpenZFS: the destination's resume token must name exactly `snapshot` (GUID `guid`) from
  // `base_guid` (0: full) and be raw exactly when `raw`; read with `zfs send -nvt` here.
  Status check_resume_token_here(const std::string& token, const std::string& snapshot,
                                 uint64_t guid, uint64_t base_guid, bool raw);
  // init when dest already is this filesystem's complete replica (a lost final answer).
  // kNotFound when it is not.
  Result<control::Transfer> adopt_replica(const std::string& fs, const control::InitCommand& cmd,
                                          PeerClient& peer, const peer::DescribeReply& remote);
  // Applies savecount here and, on a master with `peer`, on the destination too. keep_guid is
  // the newest common snapshot; 0 derives it from the zrep:sent marks here.
  Result<control::Expired> expire_one(const std::string& fs, PeerClient* peer, uint64_t keep_guid);
  // expire of one filesystem with its properties `p`: its lock, its peer's, then expire_one.
  Result<control::Expired> expire_locked(const std::string& fs, const props::PropMap& p);
  // zrep-managed filesystems here: name -> properties.
  Result<std::map<std::string, std::map<std::string, std::string>>> managed_filesystems(
      const std::vector<std::string>& only);
  // OpenZFS: bookmarks the new base (FS#zrep_XXXXXX), so an incremental can start from it
  // even after the snapshot is destroyed; keeps the newest few.
  void bookmark_base(const std::string& snapshot);
  std::string last_error_of(const std::string& fs);  // "none recorded" when there is none
  // Whether fs goes raw (send -w) to `peer`: [[filesystem]] raw, or by default when fs is
  // encrypted and both sides can.
  Result<bool> use_raw(const std::string& fs, PeerClient& peer);
  void record_result(const std::string& fs, const Status& status, uint64_t bytes, double seconds);
  // Records the failure `e` of an operation on fs and returns it.
  Error failed(const std::string& fs, const Error& e);

  const Config& config_;
  const Zfs& zfs_;
  TlsContext& tls_;
  std::string instance_id_;
  SessionRegistry* sessions_;
  LinkHub* links_;

  LockTable& locks_;

  std::mutex mu_;
  std::map<std::string, FsRecord> records_;  // guarded by mu_
  // guarded by mu_: when status first saw each filesystem's unfinished switch journal
  std::map<std::string, std::chrono::system_clock::time_point> switch_seen_;
  std::set<std::string> pending_;                // guarded by mu_: for the next sweep
  bool full_sweep_pending_ = false;              // guarded by mu_: the start's sweep failed
  std::map<std::string, int64_t> last_contact_;  // guarded by mu_: peer -> its last session
};

}  // namespace zrep
