// Authorization: which datasets a peer may name at all (its [[peer]] entry's datasets), which
// of them it may change as their replica's source (check_destination_of_peer), and the
// pairing it sends (check_pairing). Every request runs these before any zfs command that
// changes something (SECURITY.md, agent/logic/peer_trust.h).
#include <string>

#include "agent/endpoint/peer_service.h"
#include "agent/logic/peer_trust.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/roles/switch_steps.h"

namespace zrep {

Status authorize(const Config& config, const std::string& peer_name, const std::string& dataset) {
  const std::optional<PeerConfig> peer = config.find_peer(peer_name);
  if (!peer) {
    return make_error(ErrorCode::kPermissionDenied,
                      "peer '" + peer_name + "' is not configured on " + config.host);
  }
  for (const auto& allowed : peer->datasets) {
    if (dataset_within(dataset, allowed)) return Status::ok();
  }
  std::string allowed_list;
  for (const auto& a : peer->datasets) allowed_list += (allowed_list.empty() ? "" : ", ") + a;
  if (allowed_list.empty()) allowed_list = "nothing";
  return make_error(ErrorCode::kPermissionDenied, "peer '" + peer_name + "' may not access '" +
                                                      dataset + "' on " + config.host +
                                                      ": its [[peer]] entry in " + config.source +
                                                      " allows datasets = [" + allowed_list + "]");
}

Status PeerService::check_destination_of_peer(const std::string& dest, const props::PropMap& p) {
  if (props::get(p, props::kMaster) == "yes") {
    return make_error(ErrorCode::kConflict,
                      dest + " is a master on " + config_.host + "; it does not receive");
  }
  if (!props::get(p, props::kFenced).empty()) {
    return demoted_refusal(dest, config_.host, props::get(p, props::kFenced));
  }
  return check_replica_of_peer(dest, p, session_.peer_name, config_.host);
}

Status PeerService::check_pairing(const peer::Pairing& p) {
  // The pairing comes from the network and is written into properties here: check it.
  ZREP_RETURN_IF_ERROR(validate_dataset_name(p.src_fs()).with_context("pairing from peer"));
  if (p.savecount() < 1 || p.savecount() > 100000 || p.epoch() < 1) {
    return make_error(ErrorCode::kInvalidArgument, "pairing from peer has savecount " +
                                                       std::to_string(p.savecount()) +
                                                       " and epoch " + std::to_string(p.epoch()) +
                                                       " (expected 1-100000 and >= 1)");
  }
  return Status::ok();
}

}  // namespace zrep
