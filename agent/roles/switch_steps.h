// The ZFS steps of a role switch that both hosts run: the coordinator (the old master), the
// standby answering its SwitchRequests, and recovery after a crash. Replicator's failover,
// takeover and resync (agent/ops/) and the endpoint's switch steps (agent/endpoint/) build on
// them. agent/FAILOVER.md has the state machine.
#pragma once

#include <string>

#include "agent/config/config.h"
#include "agent/logic/role_switch.h"
#include "agent/zfs/zfs.h"
#include "proto/peer.pb.h"

namespace zrep {

// The commit point: the new master writes the new epoch, then takes the master role.
Status commit_new_master(const Zfs& zfs, const SwitchJournal& j);
// Completes the master role after the commit: pairing properties reversed, zrep:master=yes,
// old-direction snapshots before the base destroyed, writable, journal removed. Idempotent.
Status finish_new_master(const Zfs& zfs, const SwitchJournal& j);
// Completes the old master's demotion after the peer committed: read-only, pairing properties
// reversed, the new epoch, rolled back to the base when zrep snapshots were made after it,
// old-direction snapshots destroyed, journal removed. Idempotent.
Status finish_old_master(const Zfs& zfs, const SwitchJournal& j);
// Destroys the zrep snapshots of fs older than the snapshot with base_guid (the one common
// snapshot the new direction starts from). Failures are logged, not fatal.
void clean_old_direction(const Zfs& zfs, const std::string& fs, uint64_t base_guid);

// Why a demoted filesystem neither sends nor receives, and what to do.
Error demoted_refusal(const std::string& fs, const std::string& host, const std::string& record);

// Completes the demotion of fs (fenced: its zrep:fenced record is written) after a crash:
// read-only, the pairing pointed at the host that took over, its epoch, no master role.
Status finish_demotion(const Zfs& zfs, const std::string& host, const std::string& fs);

// Completes `takeover --force` of fs on `host` after a crash: with the new epoch written it
// takes the master role (true); without, the takeover did not happen and its record goes
// (false).
Result<bool> finish_forced_takeover(const Zfs& zfs, const std::string& host, const std::string& fs);

// The standby's side of a switch, for the old master `peer` (authorized and locked by the
// caller). PREPARE records the journal; COMMIT promotes; ABORT forgets an uncommitted journal.
Result<peer::SwitchReply> standby_switch_step(const Config& config, const Zfs& zfs,
                                              const std::string& peer,
                                              const peer::SwitchRequest& req);

}  // namespace zrep
