// Socket plumbing for the agent: dialling a peer with a deadline, and protobuf messages in
// control frames. Blocking calls: use them on session threads, never on the io thread.
#pragma once

#include <chrono>
#include <string>

#include <google/protobuf/message_lite.h>

#include "agent/config/config.h"
#include "common/result.h"
#include "proto/frame.h"

namespace zrep {

// Connects to `ep` (every resolved address in turn) within `timeout`. Returns the socket fd,
// blocking, with TCP_NODELAY and keepalive set.
Result<int> tcp_connect(const Endpoint& ep, std::chrono::milliseconds timeout);

// Connects to a Unix stream socket. kUnavailable when nothing listens there.
Result<int> unix_connect(const std::string& path);

Status send_message(FrameChannel& channel, const google::protobuf::MessageLite& msg);
// Reads one control frame and parses it into `msg`; any other frame type is kProtocol. With
// `after_stream`, DataAbort frames before it are skipped: when both ends of a transfer abort at
// once, the peer's abort arrives after ours was already answered.
Status receive_message(FrameChannel& channel, google::protobuf::MessageLite& msg,
                       std::chrono::milliseconds timeout, bool after_stream = false);

}  // namespace zrep
