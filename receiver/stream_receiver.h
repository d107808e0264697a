// The receive pipeline: data frames from a FrameChannel -> lz4 decode -> writes to a pipe fd
// (the stdin of `zfs recv`), verified against the DataEnd frame's length and SHA-256.
//
// A writer thread drains a bounded queue of decoded blocks into the fd while the calling thread
// reads and decodes frames, so a slow `zfs recv` back-pressures the network and memory stays flat.
// If writing fails (zfs recv exited), the receiver sends DataAbort to the sender, then discards
// frames until the sender's DataEnd or DataAbort, so the channel stays usable for the reply.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "common/result.h"
#include "common/transfer_progress.h"
#include "proto/frame.h"

namespace zrep {

struct ReceiveOptions {
  size_t queue_depth = 8;
  std::chrono::milliseconds frame_timeout{120000};  // silence longer than this fails the receive
  ProgressFn progress;
  std::chrono::milliseconds progress_interval{500};
  // Called with the stream's first `header_size` bytes before any byte reaches the sink; an
  // error aborts the transfer (the stream is not what was asked for).
  size_t header_size = 0;
  std::function<Status(std::span<const uint8_t>)> check_header;
};

struct ReceiveResult {
  uint64_t raw_bytes = 0;
  uint64_t wire_bytes = 0;
  std::array<uint8_t, 32> sha256{};
};

// Receives one stream into `sink_fd`. `sink_fd` is closed by this function when the stream ends
// (so `zfs recv` sees EOF) or fails. Errors: kProtocol (bad/unexpected frame), kCorrupt (length
// or checksum mismatch), kUnavailable (channel lost), kInternal "receiving process stopped
// reading" when writing to the sink failed (the caller then reads the zfs recv error), or
// kUnavailable carrying the sender's DataAbort reason.
Result<ReceiveResult> receive_stream(FrameChannel& channel, int sink_fd,
                                     const ReceiveOptions& options);

}  // namespace zrep
