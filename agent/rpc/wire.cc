#include "agent/rpc/wire.h"

#include "agent/logic/zfs_names.h"

namespace zrep {

void to_wire(const std::vector<SnapshotInfo>& snaps,
             google::protobuf::RepeatedPtrField<peer::Snapshot>* out) {
  for (const auto& s : snaps) {
    auto* w = out->Add();
    w->set_name(std::string(snap_part_of(s.name)));
    w->set_guid(s.guid);
    w->set_createtxg(s.createtxg);
    w->set_has_sent(s.sent.has_value());
    if (s.sent) w->set_sent(*s.sent);
  }
}

std::vector<SnapshotInfo> from_wire(const std::string& fs,
                                    const google::protobuf::RepeatedPtrField<peer::Snapshot>& in) {
  std::vector<SnapshotInfo> out;
  for (const auto& w : in) {
    SnapshotInfo s;
    s.name = fs + "@" + w.name();
    s.guid = w.guid();
    s.createtxg = w.createtxg();
    if (w.has_sent()) s.sent = w.sent();
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace zrep
