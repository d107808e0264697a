// Serves one connection of the local command-line client: reads one control::Request, runs it,
// streams Progress replies while it runs, and ends with one Result.
#pragma once

#include "agent/replicator.h"
#include "proto/frame.h"

namespace zrep {

void serve_control_connection(FrameChannel& channel, Replicator& replicator);

}  // namespace zrep
