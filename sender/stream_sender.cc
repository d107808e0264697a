#include "sender/stream_sender.h"

#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/buffer_ring.h"
#include "common/progress_ticker.h"
#include "common/sanitize.h"
#include "crypto/stream_checksum.h"
#include "proto/data_block.h"

namespace zrep {
namespace {

// How long a blocked thread may go without looking at the stop flag or the receiver: bounds how
// fast an abort takes effect when the source is silent.
constexpr std::chrono::milliseconds kPollSlice{100};
// A frame whose header is already readable should not take longer than this to arrive whole.
constexpr std::chrono::milliseconds kReplyTimeout{10000};

// Reads until `chunk` is full or the source ends; sets `eof` at the end of the stream. Polls in
// slices so a stop request is seen even while `zfs send` produces nothing.
Status fill_chunk(int fd, std::vector<uint8_t>& chunk, bool& eof, BufferRing& queue) {
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
void read_source(int fd, size_t chunk_size, BufferRing& queue, StreamChecksum& checksum) {
  std::vector<uint8_t> chunk;
  bool eof = false;
  while (!eof && queue.take_free(chunk)) {
    chunk.resize(chunk_size);
    Status status = fill_chunk(fd, chunk, eof, queue);
    if (!status) {
      queue.close(std::move(status));
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
  queue.close(Status::ok());
}

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
        case BufferRing::Next::kNothingYet:
          continue;
        case BufferRing::Next::kEnd: {
          Status end = queue_.status();
          return end ? end : fail_locally(end.error());
        }
        case BufferRing::Next::kBuffer:
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
    (void)write_data_abort(channel_, "sender acknowledges abort");
    return make_error(ErrorCode::kUnavailable, "receiver aborted: " + sanitize_peer_text(reason));
  }

  Status fail_locally(const Error& error) {
    stop_reader();
    (void)write_data_abort(channel_, error.message);
    return error;
  }

  void stop_reader() {
    queue_.stop();
    if (reader_.joinable()) reader_.join();
  }

  TransferProgress progress_now() const { return {raw_bytes_, wire_bytes_}; }

  FrameChannel& channel_;
  const SendOptions& options_;
  // Chunks shuttle between the reader thread and this one. Only queue_depth exist, which keeps
  // memory flat and makes a slow network push back on `zfs send`.
  BufferRing queue_;
  StreamChecksum checksum_;
  ProgressTicker<TransferProgress> progress_;
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
    (void)write_data_abort(channel, error.message);
    return error;
  }
  StreamSender sender(source_fd, channel, options);
  return sender.run();
}

}  // namespace zrep
