// The send pipeline: bytes of a `zfs send` stream (read from a pipe fd) -> chunks -> lz4 ->
// data frames on a FrameChannel, then a DataEnd frame with the total length and SHA-256 of the
// uncompressed stream.
//
// A reader thread fills chunks while the calling thread compresses and writes, with a bounded
// queue in between, so memory stays flat whatever the stream's size. Between frames the sender
// checks for a frame from the receiver: a DataAbort there (the receiver's `zfs recv` failed)
// stops the transfer at once. One send_stream call per channel at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "common/result.h"
#include "common/transfer_progress.h"
#include "proto/frame.h"

namespace zrep {

struct SendOptions {
  size_t chunk_size = 256 * 1024;  // <= kMaxBlockSize
  size_t queue_depth = 8;          // chunks in flight between reader and writer
  bool compress = true;            // false for streams that are already compressed
  // Called after the source hit EOF and before DataEnd is written: typically waits for the
  // `zfs send` process and returns its error. An error here sends DataAbort instead of DataEnd.
  std::function<Status()> before_end;
  ProgressFn progress;  // called at most every progress_interval
  std::chrono::milliseconds progress_interval{500};
};

struct SendResult {
  uint64_t raw_bytes = 0;
  uint64_t wire_bytes = 0;
  std::array<uint8_t, 32> sha256{};
};

// Streams `source_fd` (not closed here) to `channel`. On a read error, a failing before_end, or a
// DataAbort from the receiver, writes DataAbort (unless the receiver sent one) and returns the
// error; the receiver's reason is in the message.
Result<SendResult> send_stream(int source_fd, FrameChannel& channel, const SendOptions& options);

}  // namespace zrep
