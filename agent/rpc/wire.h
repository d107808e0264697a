// Conversions between the agent's values and the peer protocol's messages.
#pragma once

#include <string>
#include <vector>

#include "agent/logic/zfs_types.h"
#include "proto/peer.pb.h"

namespace zrep {

// The snapshots of fs in wire form (snapshot parts only).
void to_wire(const std::vector<SnapshotInfo>& snaps,
             google::protobuf::RepeatedPtrField<peer::Snapshot>* out);
std::vector<SnapshotInfo> from_wire(const std::string& fs,
                                    const google::protobuf::RepeatedPtrField<peer::Snapshot>& in);

}  // namespace zrep
