#include "receiver/stream_receiver.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "crypto/stream_checksum.h"
#include "proto/data_block.h"

namespace zrep {
namespace {

// How long the writer thread may block on a full pipe without looking at the stop flag.
constexpr std::chrono::milliseconds kPollSlice{100};
constexpr std::string_view kSinkStopped = "receiving process stopped reading";

std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string_view abort_reason(std::string_view message) {
  if (message.size() <= kMaxAbortPayload) return message;
  size_t n = kMaxAbortPayload;
  while (n > 0 && (static_cast<uint8_t>(message[n]) & 0xC0) == 0x80) --n;
  return message.substr(0, n);
}

// Decoded blocks between the caller's thread (decoding) and the writer thread. Only `depth`
// buffers exist: a slow `zfs recv` stalls the decoder, which stops reading the network, which
// stalls the sender.
class BlockQueue {
 public:
  explicit BlockQueue(size_t depth) : free_(std::max<size_t>(depth, 1)) {}

  // Decoder side. False once the writer failed or was stopped.
  bool take_free(std::vector<uint8_t>& out) {
    std::unique_lock lock(mu_);
    free_cv_.wait(lock, [&] { return stopped_ || !free_.empty(); });
    if (stopped_) return false;
    out = std::move(free_.front());
    free_.pop_front();
    return true;
  }
  void push_full(std::vector<uint8_t> block) {
    std::lock_guard lock(mu_);
    full_.push_back(std::move(block));
    full_cv_.notify_one();
  }
  // No more blocks: the writer drains what is queued, then ends.
  void close_input() {
    std::lock_guard lock(mu_);
    input_closed_ = true;
    full_cv_.notify_one();
  }
  // Drop what is queued and end the writer as soon as possible.
  void stop() {
    std::lock_guard lock(mu_);
    stopped_ = true;
    free_cv_.notify_all();
    full_cv_.notify_all();
  }
  Status writer_status() {
    std::lock_guard lock(mu_);
    return writer_status_;
  }

  // Writer side.
  bool pop_full(std::vector<uint8_t>& out) {
    std::unique_lock lock(mu_);
    full_cv_.wait(lock, [&] { return stopped_ || input_closed_ || !full_.empty(); });
    if (stopped_ || full_.empty()) return false;
    out = std::move(full_.front());
    full_.pop_front();
    return true;
  }
  void give_back(std::vector<uint8_t> block) {
    std::lock_guard lock(mu_);
    free_.push_back(std::move(block));
    free_cv_.notify_one();
  }
  void fail(Status status) {
    std::lock_guard lock(mu_);
    writer_status_ = std::move(status);
    stopped_ = true;
    free_cv_.notify_all();
  }
  bool stopped() {
    std::lock_guard lock(mu_);
    return stopped_;
  }

 private:
  std::mutex mu_;
  std::condition_variable free_cv_;
  std::condition_variable full_cv_;
  std::deque<std::vector<uint8_t>> free_;
  std::deque<std::vector<uint8_t>> full_;
  bool input_closed_ = false;
  bool stopped_ = false;
  Status writer_status_;
};

// Writes all of `data` to the (non-blocking) sink, waiting in slices so that a stop request is
// seen even when `zfs recv` has stopped reading without exiting.
Status write_block(int fd, std::span<const uint8_t> data, BlockQueue& queue) {
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
void write_sink(int fd, BlockQueue& queue, StreamChecksum& checksum) {
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

class ProgressTicker {
 public:
  ProgressTicker(const ProgressFn& fn, std::chrono::milliseconds interval)
      : fn_(fn), interval_(interval), last_(std::chrono::steady_clock::now()) {}
  void tick(const TransferProgress& progress) {
    if (!fn_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < interval_) return;
    last_ = now;
    fn_(progress);
  }
  void finish(const TransferProgress& progress) {
    if (fn_) fn_(progress);
  }

 private:
  const ProgressFn& fn_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point last_;
};

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
        writer_([this] { write_sink(sink_fd_, queue_, checksum_); }) {}
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
          if (!queue_.take_free(block)) return abort_and_drain(queue_.writer_status().error());
          if (Status s = decode_block(frame->payload, block); !s) {
            return abort_and_drain(s.error());
          }
          raw_bytes_ += block.size();
          wire_bytes_ += frame->payload.size();
          queue_.push_full(std::move(block));
          progress_.tick(progress_now());
          break;
        case FrameType::kDataEnd:
          return finish(frame->payload);
        case FrameType::kDataAbort:
          return make_error(
              ErrorCode::kUnavailable,
              "sender aborted: " + std::string(frame->payload.begin(), frame->payload.end()));
        case FrameType::kControl:
          return abort_and_drain(
              make_error(ErrorCode::kProtocol, "unexpected control frame during a data stream"));
      }
    }
  }

 private:
  Result<ReceiveResult> finish(std::span<const uint8_t> payload) {
    auto end = decode_data_end(payload);
    if (!end) return end.error();
    queue_.close_input();
    join_writer();
    // The sender is done, so a sink failure now needs no DataAbort.
    ZREP_RETURN_IF_ERROR(queue_.writer_status());
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
    Status told =
        channel_.write_frame(FrameType::kDataAbort, as_bytes(abort_reason(error.message)));
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

  FrameChannel& channel_;
  int sink_fd_;
  const ReceiveOptions& options_;
  BlockQueue queue_;
  StreamChecksum checksum_;
  ProgressTicker progress_;
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
