#include "receiver/stream_receiver.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/buffer_ring.h"
#include "common/progress_ticker.h"
#include "common/sanitize.h"
#include "crypto/stream_checksum.h"
#include "proto/data_block.h"

namespace zrep {
namespace {

// How long the writer thread may block on a full pipe without looking at the stop flag.
constexpr std::chrono::milliseconds kPollSlice{100};
constexpr std::string_view kSinkStopped = "receiving process stopped reading";

// Writes all of `data` to the (non-blocking) sink, waiting in slices so that a stop request is
// seen even when `zfs recv` has stopped reading without exiting.
Status write_block(int fd, std::span<const uint8_t> data, BufferRing& queue) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n >= 0) {
      data = data.subspan(static_cast<size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      if (errno == EPIPE) return make_error(ErrorCode::kInternal, std::string(kSinkStopped));
      return make_error(ErrorCode::kInternal,
                        fmt::format("{}: {}", kSinkStopped, std::strerror(errno)));
    }
    pollfd pfd{fd, POLLOUT, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(kPollSlice.count()));
    if (ready <= 0 && queue.stopped()) {
      return make_error(ErrorCode::kInternal, "receive stopped");
    }
  }
  return Status::ok();
}

// The writer thread: queued blocks -> sink, hashing what it writes.
void write_sink(int fd, BufferRing& queue, StreamChecksum& checksum) {
  std::vector<uint8_t> block;
  while (queue.pop_full(block)) {
    checksum.update(block);
    Status status = write_block(fd, block, queue);
    queue.give_back(std::move(block));
    if (!status) {
      queue.fail(std::move(status));
      return;
    }
  }
}

// One transfer. The destructor stops and joins the writer and closes the sink, so every return
// path (and an exception from a callback) leaves no thread running and `zfs recv` sees EOF.
class StreamReceiver {
 public:
  StreamReceiver(FrameChannel& channel, int sink_fd, const ReceiveOptions& options)
      : channel_(channel),
        sink_fd_(sink_fd),
        options_(options),
        queue_(options.queue_depth),
        progress_(options.progress, options.progress_interval),
        writer_([this] { write_sink(sink_fd_, queue_, checksum_); }) {
    header_checked_ = options.header_size == 0;
  }
  ~StreamReceiver() { stop_writer(); }
  StreamReceiver(const StreamReceiver&) = delete;
  StreamReceiver& operator=(const StreamReceiver&) = delete;

  Result<ReceiveResult> run() {
    std::vector<uint8_t> block;
    while (true) {
      auto frame = channel_.read_frame(options_.frame_timeout);
      if (!frame) return frame.status().with_context("receiving the stream");
      switch (frame->type) {
        case FrameType::kData:
          if (!queue_.take_free(block)) return abort_and_drain(queue_.status().error());
          if (Status s = decode_block(frame->payload, block); !s) {
            return abort_and_drain(s.error());
          }
          raw_bytes_ += block.size();
          wire_bytes_ += frame->payload.size();
          if (Status s = forward(std::move(block)); !s) return abort_and_drain(s.error());
          progress_.tick(progress_now());
          break;
        case FrameType::kDataEnd:
          if (Status s = check_header(); !s) {
            // The stream ended before its first record was whole. The sender is done and waits
            // for the reply: there is nothing to drain (waiting for its end would take the
            // whole frame timeout).
            stop_writer();
            return s.error();
          }
          return finish(frame->payload);
        case FrameType::kDataAbort:
          return make_error(
              ErrorCode::kUnavailable,
              "sender aborted: " +
                  sanitize_peer_text(std::string(frame->payload.begin(), frame->payload.end())));
        case FrameType::kControl:
          return abort_and_drain(
              make_error(ErrorCode::kProtocol, "unexpected control frame during a data stream"));
      }
    }
  }

 private:
  // Passes a decoded block to the writer, holding blocks back until the stream's header has
  // been checked.
  Status forward(std::vector<uint8_t> block) {
    if (header_checked_) {
      queue_.push_full(std::move(block));
      return Status::ok();
    }
    size_t need = options_.header_size - header_.size();
    header_.insert(header_.end(), block.begin(),
                   block.begin() + static_cast<std::ptrdiff_t>(std::min(need, block.size())));
    held_.push_back(std::move(block));
    if (header_.size() >= options_.header_size) return check_header();
    if (held_.size() + 1 >= options_.queue_depth) {
      return make_error(ErrorCode::kProtocol,
                        "the stream's first blocks are too small to hold its header");
    }
    return Status::ok();
  }

  Status check_header() {
    if (header_checked_) return Status::ok();
    header_checked_ = true;
    if (options_.check_header) ZREP_RETURN_IF_ERROR(options_.check_header(header_));
    for (auto& b : held_) queue_.push_full(std::move(b));
    held_.clear();
    return Status::ok();
  }

  Result<ReceiveResult> finish(std::span<const uint8_t> payload) {
    auto end = decode_data_end(payload);
    if (!end) return end.error();
    queue_.close();
    join_writer();
    // The sender is done, so a sink failure now needs no DataAbort.
    ZREP_RETURN_IF_ERROR(queue_.status());
    close_sink();
    if (end->total_bytes != raw_bytes_) {
      return make_error(ErrorCode::kCorrupt,
                        fmt::format("stream length mismatch: received {} bytes, sender sent {}",
                                    raw_bytes_, end->total_bytes));
    }
    ReceiveResult result{raw_bytes_, wire_bytes_, checksum_.finish()};
    if (result.sha256 != end->sha256) {
      return make_error(
          ErrorCode::kCorrupt,
          fmt::format("stream checksum mismatch: received sha256 {}, sender sent {}",
                      StreamChecksum::hex(result.sha256), StreamChecksum::hex(end->sha256)));
    }
    progress_.finish(progress_now());
    return result;
  }

  // We give up mid-stream: tell the sender, then skip its frames until it acknowledges (or ends),
  // so the channel is in step again for the reply that follows.
  Error abort_and_drain(const Error& error) {
    stop_writer();  // `zfs recv` sees a truncated stream and fails while we drain
    Status told = write_data_abort(channel_, error.message);
    if (!told) return with_note(error, "could not tell the sender: " + told.message());
    while (true) {
      auto frame = channel_.read_frame(options_.frame_timeout);
      if (!frame)
        return with_note(error, "channel failed while draining: " + frame.error().message);
      if (frame->type == FrameType::kDataEnd || frame->type == FrameType::kDataAbort) return error;
    }
  }

  static Error with_note(const Error& error, const std::string& note) {
    return make_error(error.code, error.message + " (" + note + ")");
  }

  void join_writer() {
    if (writer_.joinable()) writer_.join();
  }
  void stop_writer() {
    queue_.stop();
    join_writer();
    close_sink();
  }
  void close_sink() {
    if (sink_fd_ >= 0) ::close(sink_fd_);
    sink_fd_ = -1;
  }

  TransferProgress progress_now() const { return {raw_bytes_, wire_bytes_}; }

  std::vector<uint8_t> header_;             // the stream's first header_size bytes
  std::vector<std::vector<uint8_t>> held_;  // blocks held back until the header is checked
  bool header_checked_ = false;
  FrameChannel& channel_;
  int sink_fd_;
  const ReceiveOptions& options_;
  // Decoded blocks between this thread and the writer thread. Only queue_depth exist: a slow
  // `zfs recv` stalls the decoder, which stops reading the network, which stalls the sender.
  BufferRing queue_;
  StreamChecksum checksum_;
  ProgressTicker<TransferProgress> progress_;
  uint64_t raw_bytes_ = 0;
  uint64_t wire_bytes_ = 0;
  std::thread writer_;  // last: starts once everything it uses exists
};

}  // namespace

Result<ReceiveResult> receive_stream(FrameChannel& channel, int sink_fd,
                                     const ReceiveOptions& options) {
  // Non-blocking writes let the writer thread notice a stop even when `zfs recv` hangs with a
  // full pipe. The flag is ours to change: the fd is handed over and closed here.
  int flags = ::fcntl(sink_fd, F_GETFL);
  if (flags < 0 || ::fcntl(sink_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    Error error = make_error(ErrorCode::kInternal,
                             fmt::format("sink fd {}: {}", sink_fd, std::strerror(errno)));
    if (sink_fd >= 0) ::close(sink_fd);
    return error;
  }
  StreamReceiver receiver(channel, sink_fd, options);
  return receiver.run();
}

}  // namespace zrep
