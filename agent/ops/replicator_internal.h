// Helpers shared by the agent/ops .cc files (private to agent/ops; not part of Replicator's
// interface).
#pragma once

#include <string>

#include "agent/logic/zrep_props.h"
#include "agent/rpc/link.h"
#include "proto/control.pb.h"

namespace zrep {

// zrep:fenced of a filesystem: its demotion record, empty when it was not demoted.
inline std::string fenced_text(const props::PropMap& p) { return props::get(p, props::kFenced); }

// The link with a peer as status and peers show it (admin.cc).
control::LinkView link_view(const LinkReport& l);

}  // namespace zrep
