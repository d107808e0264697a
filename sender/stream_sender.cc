#include "sender/stream_sender.h"

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

// How long a blocked thread may go without looking at the stop flag or the receiver: bounds how
// fast an abort takes effect when the source is silent.
constexpr std::chrono::milliseconds kPollSlice{100};
// A frame whose header is already readable should not take longer than this to arrive whole.
constexpr std::chrono::milliseconds kReplyTimeout{10000};

std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Cuts a reason to what a DataAbort frame may carry, without splitting a UTF-8 sequence.
std::string_view abort_reason(std::string_view message) {
  if (message.size() <= kMaxAbortPayload) return message;
  size_t n = kMaxAbortPayload;
  while (n > 0 && (static_cast<uint8_t>(message[n]) & 0xC0) == 0x80) --n;
  return message.substr(0, n);
}

// Buffers shuttle between the reader thread and the caller's thread: `free_` holds empty ones,
// `full_` filled ones in stream order. Only `depth` buffers ever exist, which keeps memory flat
// and makes a slow network push back on `zfs send`.
class ChunkQueue {
 public:
  explicit ChunkQueue(size_t depth) : free_(std::max<size_t>(depth, 1)) {}

  // Reader side. False once the consumer stopped the transfer.
  bool take_free(std::vector<uint8_t>& out) {
    std::unique_lock lock(mu_);
    free_cv_.wait(lock, [&] { return stopped_ || !free_.empty(); });
    if (stopped_) return false;
    out = std::move(free_.front());
    free_.pop_front();
    return true;
  }
  void push_full(std::vector<uint8_t> chunk) {
    std::lock_guard lock(mu_);
    full_.push_back(std::move(chunk));
    full_cv_.notify_one();
  }
  // The source ended: ok at EOF, else the read error. Chunks already queued still count.
  void finish(Status end) {
    std::lock_guard lock(mu_);
    end_ = std::move(end);
    done_ = true;
    full_cv_.notify_one();
  }
  bool stopped() {
    std::lock_guard lock(mu_);
    return stopped_;
  }

  // Consumer side.
  enum class Next { kChunk, kEnd, kNothingYet };
  Next pop_full(std::vector<uint8_t>& out, std::chrono::milliseconds wait) {
    std::unique_lock lock(mu_);
    full_cv_.wait_for(lock, wait, [&] { return done_ || !full_.empty(); });
    if (!full_.empty()) {
      out = std::move(full_.front());
      full_.pop_front();
      return Next::kChunk;
    }
    return done_ ? Next::kEnd : Next::kNothingYet;
  }
  void give_back(std::vector<uint8_t> chunk) {
    std::lock_guard lock(mu_);
    free_.push_back(std::move(chunk));
    free_cv_.notify_one();
  }
  Status end_status() {
    std::lock_guard lock(mu_);
    return end_;
  }
  void stop() {
    std::lock_guard lock(mu_);
    stopped_ = true;
    free_cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable free_cv_;
  std::condition_variable full_cv_;
  std::deque<std::vector<uint8_t>> free_;
  std::deque<std::vector<uint8_t>> full_;
  bool done_ = false;
  bool stopped_ = false;
  Status end_;
};

// Reads until `chunk` is full or the source ends; sets `eof` at the end of the stream. Polls in
// slices so a stop request is seen even while `zfs send` produces nothing.
Status fill_chunk(int fd, std::vector<uint8_t>& chunk, bool& eof, ChunkQueue& queue) {
  size_t filled = 0;
  Status status;
  while (filled < chunk.size()) {
    pollfd pfd{fd, POLLIN, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(kPollSlice.count()));
    if (ready == 0 || (ready < 0 && errno == EINTR)) {
      if (queue.stopped()) break;
      continue;
    }
    ssize_t n = ready < 0 ? -1 : ::read(fd, chunk.data() + filled, chunk.size() - filled);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      status = make_error(ErrorCode::kInternal,
                          fmt::format("reading the send stream: {}", std::strerror(errno)));
      break;
    }
    if (n == 0) {
      eof = true;
      break;
    }
    filled += static_cast<size_t>(n);
  }
  chunk.resize(filled);
  return status;
}

// The reader thread: source fd -> chunks, hashing on the way so the hash costs the caller's
// (compressing) thread nothing.
void read_source(int fd, size_t chunk_size, ChunkQueue& queue, StreamChecksum& checksum) {
  std::vector<uint8_t> chunk;
  bool eof = false;
  while (!eof && queue.take_free(chunk)) {
    chunk.resize(chunk_size);
    Status status = fill_chunk(fd, chunk, eof, queue);
    if (!status) {
      queue.finish(std::move(status));
      return;
    }
    if (queue.stopped()) return;
    checksum.update(chunk);
    if (chunk.empty()) {
      queue.give_back(std::move(chunk));
    } else {
      queue.push_full(std::move(chunk));
    }
  }
  queue.finish(Status::ok());
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

// One transfer. The destructor stops and joins the reader thread, so no return path (or an
// exception from a callback) can leave it running.
class StreamSender {
 public:
  StreamSender(int source_fd, FrameChannel& channel, const SendOptions& options)
      : channel_(channel),
        options_(options),
        queue_(options.queue_depth),
        progress_(options.progress, options.progress_interval),
        reader_([this, source_fd] {
          read_source(source_fd, options_.chunk_size, queue_, checksum_);
        }) {}
  ~StreamSender() { stop_reader(); }
  StreamSender(const StreamSender&) = delete;
  StreamSender& operator=(const StreamSender&) = delete;

  Result<SendResult> run() {
    ZREP_RETURN_IF_ERROR(send_chunks());
    stop_reader();  // the source ended, so this only joins
    if (options_.before_end) {
      Status status = options_.before_end();
      if (!status) return fail_locally(status.error());
    }
    ZREP_RETURN_IF_ERROR(check_receiver());
    SendResult result{progress_now().raw_bytes, progress_now().wire_bytes, checksum_.finish()};
    ZREP_RETURN_IF_ERROR(channel_.write_frame(FrameType::kDataEnd,
                                              encode_data_end({result.raw_bytes, result.sha256})));
    progress_.finish(progress_now());
    return result;
  }

 private:
  // Data frames until the source's EOF. Every failure is fully handled (DataAbort written when
  // the channel still works) before it is returned.
  Status send_chunks() {
    std::vector<uint8_t> chunk;
    std::vector<uint8_t> encoded;
    while (true) {
      ZREP_RETURN_IF_ERROR(check_receiver());
      switch (queue_.pop_full(chunk, kPollSlice)) {
        case ChunkQueue::Next::kNothingYet:
          continue;
        case ChunkQueue::Next::kEnd: {
          Status end = queue_.end_status();
          return end ? end : fail_locally(end.error());
        }
        case ChunkQueue::Next::kChunk:
          break;
      }
      encode_block(chunk, options_.compress, encoded);
      raw_bytes_ += chunk.size();
      queue_.give_back(std::move(chunk));  // the reader refills it while we write
      ZREP_RETURN_IF_ERROR(channel_.write_frame(FrameType::kData, encoded));
      wire_bytes_ += encoded.size();
      progress_.tick(progress_now());
    }
  }

  // Between frames: the receiver only ever talks during a stream to give up.
  Status check_receiver() {
    if (!channel_.readable_now()) return Status::ok();
    auto frame = channel_.read_frame(kReplyTimeout);
    if (!frame) return frame.status().with_context("reading from the receiver");
    if (frame->type != FrameType::kDataAbort) {
      return fail_locally(
          make_error(ErrorCode::kProtocol,
                     fmt::format("unexpected frame type {} from the receiver during a data stream",
                                 static_cast<int>(frame->type))));
    }
    stop_reader();
    std::string reason(frame->payload.begin(), frame->payload.end());
    // The receiver discards frames until it sees ours; then the channel is in step again.
    (void)channel_.write_frame(FrameType::kDataAbort, as_bytes("sender acknowledges abort"));
    return make_error(ErrorCode::kUnavailable, "receiver aborted: " + reason);
  }

  Status fail_locally(const Error& error) {
    stop_reader();
    (void)channel_.write_frame(FrameType::kDataAbort, as_bytes(abort_reason(error.message)));
    return error;
  }

  void stop_reader() {
    queue_.stop();
    if (reader_.joinable()) reader_.join();
  }

  TransferProgress progress_now() const { return {raw_bytes_, wire_bytes_}; }

  FrameChannel& channel_;
  const SendOptions& options_;
  ChunkQueue queue_;
  StreamChecksum checksum_;
  ProgressTicker progress_;
  uint64_t raw_bytes_ = 0;
  uint64_t wire_bytes_ = 0;
  std::thread reader_;  // last: starts once everything it uses exists
};

}  // namespace

Result<SendResult> send_stream(int source_fd, FrameChannel& channel, const SendOptions& options) {
  if (options.chunk_size == 0 || options.chunk_size > kMaxBlockSize) {
    Error error = make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("chunk size {} is outside 1..{}", options.chunk_size, kMaxBlockSize));
    // The receiver is already waiting for this stream: tell it, so it does not wait forever.
    (void)channel.write_frame(FrameType::kDataAbort, as_bytes(error.message));
    return error;
  }
  StreamSender sender(source_fd, channel, options);
  return sender.run();
}

}  // namespace zrep
