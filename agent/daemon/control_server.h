// Serves one connection of the local command-line client: reads one control::Request, runs it,
// streams Progress replies while it runs, and ends with one Result.
#pragma once

#include "agent/ops/replicator.h"
#include "proto/frame.h"

namespace zrep {

// `fd` is the connection's socket: progress is sent only when it can be without blocking, so a
// client that stops reading (a terminal on hold) never stalls the transfer.
void serve_control_connection(int fd, FrameChannel& channel, Replicator& replicator);

}  // namespace zrep
