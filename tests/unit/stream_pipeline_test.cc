// The send and receive pipelines end to end over a socketpair, with pipes standing in for the
// `zfs send` and `zfs recv` processes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <random>
#include <thread>

#include "common/byte_stream.h"
#include "crypto/stream_checksum.h"
#include "proto/data_block.h"
#include "proto/frame.h"
#include "receiver/stream_receiver.h"
#include "sender/stream_sender.h"

namespace zrep {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = 60s;  // a hang fails the run instead of blocking it forever

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::array<uint8_t, 32> sha256_of(std::span<const uint8_t> data) {
  StreamChecksum sum;
  sum.update(data);
  return sum.finish();
}

// Something like a zfs stream: runs of zeros, text-like records, and incompressible noise.
std::vector<uint8_t> mixed_data(size_t size, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(size);
  size_t i = 0;
  while (i < size) {
    size_t run = std::min<size_t>(size - i, 4096 + rng() % (512 * 1024));
    switch (rng() % 3) {
      case 0:
        break;  // zeros
      case 1:
        for (size_t j = 0; j < run; ++j) v[i + j] = static_cast<uint8_t>("record=0042;"[j % 12]);
        break;
      default:
        for (size_t j = 0; j < run; j += 8) {
          uint64_t r = rng();
          for (size_t k = 0; k < 8 && j + k < run; ++k)
            v[i + j + k] = static_cast<uint8_t>(r >> (8 * k));
        }
    }
    i += run;
  }
  return v;
}

// Waits for a future, aborting the whole test binary if it does not come: better a crash with a
// message than a CI job that hangs.
template <typename T>
T get_or_die(std::future<T>& f, const char* what) {
  if (f.wait_for(kDeadline) != std::future_status::ready) {
    std::fprintf(stderr, "FATAL: %s did not finish within the deadline (hang)\n", what);
    std::abort();
  }
  return f.get();
}

struct Pipe {
  Pipe() {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    read_fd = fds[0];
    write_fd = fds[1];
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  void close_read() {
    if (read_fd >= 0) ::close(read_fd);
    read_fd = -1;
  }
  void close_write() {
    if (write_fd >= 0) ::close(write_fd);
    write_fd = -1;
  }
  int read_fd = -1;
  int write_fd = -1;
};

// Plays `zfs send`: writes `data` into the pipe, then closes it. Stops quietly on EPIPE.
std::future<uint64_t> feed(Pipe& pipe, const std::vector<uint8_t>& data) {
  int fd = pipe.write_fd;
  pipe.write_fd = -1;  // the feeder owns it now
  return std::async(std::launch::async, [fd, &data] {
    uint64_t written = 0;
    while (written < data.size()) {
      size_t n = std::min<size_t>(data.size() - written, 64 * 1024);
      ssize_t w = ::write(fd, data.data() + written, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) break;
      written += static_cast<uint64_t>(w);
    }
    ::close(fd);
    return written;
  });
}

struct Drained {
  uint64_t bytes = 0;
  std::array<uint8_t, 32> sha256{};
};

// Plays `zfs recv`: reads the pipe to EOF and hashes it, or stops reading (closes its end) after
// `stop_after` bytes, like a zfs recv that failed.
std::future<Drained> drain(Pipe& pipe, uint64_t stop_after = UINT64_MAX) {
  int fd = pipe.read_fd;
  pipe.read_fd = -1;
  return std::async(std::launch::async, [fd, stop_after] {
    Drained d;
    StreamChecksum sum;
    std::vector<uint8_t> buf(256 * 1024);
    while (d.bytes < stop_after) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      sum.update(std::span(buf.data(), static_cast<size_t>(n)));
      d.bytes += static_cast<uint64_t>(n);
    }
    ::close(fd);
    d.sha256 = sum.finish();
    return d;
  });
}

class StreamPipelineTest : public ::testing::Test {
 public:
  void SetUp() override {
    std::signal(SIGPIPE, SIG_IGN);  // as in the daemon: broken pipes are errors, not deaths
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    send_stream_ = std::make_unique<FdStream>(fds[0]);
    recv_stream_ = std::make_unique<FdStream>(fds[1]);
    send_channel_ = std::make_unique<FrameChannel>(*send_stream_);
    recv_channel_ = std::make_unique<FrameChannel>(*recv_stream_);
  }

  std::future<Result<SendResult>> start_sender(int source_fd, SendOptions options = {}) {
    return std::async(std::launch::async, [this, source_fd, options] {
      return send_stream(source_fd, *send_channel_, options);
    });
  }
  std::future<Result<ReceiveResult>> start_receiver(int sink_fd, ReceiveOptions options = {}) {
    return std::async(std::launch::async, [this, sink_fd, options] {
      return receive_stream(*recv_channel_, sink_fd, options);
    });
  }

  std::unique_ptr<FdStream> send_stream_, recv_stream_;
  std::unique_ptr<FrameChannel> send_channel_, recv_channel_;
};

TEST_F(StreamPipelineTest, RoundTrip64MiB) {
  const auto data = mixed_data(64u << 20, 1);
  Pipe source, sink;
  auto fed = feed(source, data);
  auto drained = drain(sink);

  std::atomic<int> progress_calls{0};
  std::atomic<uint64_t> last_raw{0};
  SendOptions send_options;
  send_options.progress_interval = 10ms;
  send_options.progress = [&](const TransferProgress& p) {
    EXPECT_GE(p.raw_bytes, last_raw.load());
    last_raw = p.raw_bytes;
    ++progress_calls;
  };
  bool before_end_called = false;
  send_options.before_end = [&] {
    before_end_called = true;
    return Status::ok();
  };

  std::atomic<uint64_t> receiver_last_raw{0};
  ReceiveOptions receive_options;
  receive_options.progress = [&](const TransferProgress& p) { receiver_last_raw = p.raw_bytes; };

  auto start = Clock::now();
  auto receiver = start_receiver(sink.write_fd, receive_options);
  sink.write_fd = -1;  // receive_stream closes it
  auto sender = start_sender(source.read_fd, send_options);
  auto sent = get_or_die(sender, "sender");
  auto received = get_or_die(receiver, "receiver");
  auto out = get_or_die(drained, "sink reader");
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(get_or_die(fed, "source feeder"), data.size());

  ASSERT_TRUE(sent) << sent.error().message;
  ASSERT_TRUE(received) << received.error().message;
  const auto expected = sha256_of(data);
  EXPECT_EQ(out.bytes, data.size());
  EXPECT_EQ(out.sha256, expected);
  EXPECT_EQ(sent->sha256, expected);
  EXPECT_EQ(received->sha256, expected);
  EXPECT_EQ(sent->raw_bytes, data.size());
  EXPECT_EQ(received->raw_bytes, data.size());
  EXPECT_EQ(sent->wire_bytes, received->wire_bytes);
  EXPECT_LT(sent->wire_bytes, sent->raw_bytes);
  EXPECT_TRUE(before_end_called);
  EXPECT_GE(progress_calls.load(), 1);
  EXPECT_EQ(last_raw.load(), data.size());  // the final call reports the total
  EXPECT_EQ(receiver_last_raw.load(), data.size());
  std::printf("[ pipeline ] 64 MiB in %.3f s: %.0f MB/s raw, wire %.1f%% of raw\n", seconds,
              static_cast<double>(data.size()) / seconds / 1e6,
              100.0 * static_cast<double>(sent->wire_bytes) / static_cast<double>(sent->raw_bytes));
}

TEST_F(StreamPipelineTest, UncompressedOddSizesAndTinyQueue) {
  const auto data = mixed_data(3 * 100000 + 17, 2);
  Pipe source, sink;
  auto fed = feed(source, data);
  auto drained = drain(sink);
  SendOptions send_options;
  send_options.compress = false;
  send_options.chunk_size = 100000;
  send_options.queue_depth = 1;
  ReceiveOptions receive_options;
  receive_options.queue_depth = 1;
  auto receiver = start_receiver(sink.write_fd, receive_options);
  sink.write_fd = -1;
  auto sender = start_sender(source.read_fd, send_options);
  auto sent = get_or_die(sender, "sender");
  auto received = get_or_die(receiver, "receiver");
  ASSERT_TRUE(sent) << sent.error().message;
  ASSERT_TRUE(received) << received.error().message;
  EXPECT_EQ(sent->wire_bytes, data.size() + 4 * kBlockHeaderSize);  // 4 chunks, all stored
  EXPECT_EQ(get_or_die(drained, "sink reader").sha256, sha256_of(data));
  get_or_die(fed, "feeder");
}

TEST_F(StreamPipelineTest, EmptyStream) {
  const std::vector<uint8_t> data;
  Pipe source, sink;
  auto fed = feed(source, data);
  auto drained = drain(sink);
  auto receiver = start_receiver(sink.write_fd);
  sink.write_fd = -1;
  auto sender = start_sender(source.read_fd);
  auto sent = get_or_die(sender, "sender");
  auto received = get_or_die(receiver, "receiver");
  ASSERT_TRUE(sent) << sent.error().message;
  ASSERT_TRUE(received) << received.error().message;
  EXPECT_EQ(received->raw_bytes, 0u);
  EXPECT_EQ(received->sha256, sha256_of({}));
  EXPECT_EQ(get_or_die(drained, "sink reader").bytes, 0u);
  get_or_die(fed, "feeder");
}

TEST_F(StreamPipelineTest, SinkStopsReadingAbortsBothSides) {
  const auto data = mixed_data(64u << 20, 3);
  Pipe source, sink;
  auto fed = feed(source, data);
  auto drained = drain(sink, 1u << 20);
  auto start = Clock::now();
  auto receiver = start_receiver(sink.write_fd);
  sink.write_fd = -1;
  auto sender = start_sender(source.read_fd);
  auto sent = get_or_die(sender, "sender");
  auto received = get_or_die(receiver, "receiver");
  EXPECT_LT(Clock::now() - start, 10s);

  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(sent.error().message, "receiver aborted: receiving process stopped reading");
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error().code, ErrorCode::kInternal);
  EXPECT_EQ(received.error().message, "receiving process stopped reading");
  EXPECT_LT(get_or_die(drained, "sink reader").bytes, data.size());

  // zfs send would be killed by the caller; here closing the pipe ends the feeder.
  source.close_read();
  EXPECT_LT(get_or_die(fed, "feeder"), data.size());
  // The handshake left the channel in step: nothing stray is waiting on either side.
  EXPECT_FALSE(send_channel_->readable_now());
  EXPECT_FALSE(recv_channel_->readable_now());
}

TEST_F(StreamPipelineTest, BeforeEndErrorAbortsReceiver) {
  const auto data = mixed_data(4u << 20, 4);
  Pipe source, sink;
  auto fed = feed(source, data);
  auto drained = drain(sink);
  SendOptions send_options;
  send_options.before_end = [] {
    return Status(make_error(ErrorCode::kZfs, "zfs send exited with status 1: boom"));
  };
  auto receiver = start_receiver(sink.write_fd);
  sink.write_fd = -1;
  auto sender = start_sender(source.read_fd, send_options);
  auto sent = get_or_die(sender, "sender");
  auto received = get_or_die(receiver, "receiver");
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, ErrorCode::kZfs);
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(received.error().message, "sender aborted: zfs send exited with status 1: boom");
  get_or_die(drained, "sink reader");  // reached EOF: the sink was closed
  get_or_die(fed, "feeder");
}

TEST_F(StreamPipelineTest, SourceReadErrorAbortsReceiver) {
  int unreadable = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(unreadable, 0);
  Pipe sink;
  auto drained = drain(sink);
  auto receiver = start_receiver(sink.write_fd);
  sink.write_fd = -1;
  auto sender = start_sender(unreadable);
  auto sent = get_or_die(sender, "sender");
  auto received = get_or_die(receiver, "receiver");
  ::close(unreadable);
  ASSERT_FALSE(sent);
  EXPECT_NE(sent.error().message.find("reading the send stream"), std::string::npos);
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(received.error().message.find("sender aborted: reading the send stream"),
            std::string::npos);
  get_or_die(drained, "sink reader");
}

// The connection dies once 8 MiB went through: both sides fail with kUnavailable, every thread
// ends, and the sink sees EOF.
void run_with_channel_dying(StreamPipelineTest& t, FdStream& victim) {
  const auto data = mixed_data(64u << 20, 5);
  Pipe source, sink;
  auto fed = feed(source, data);
  auto drained = drain(sink);
  ReceiveOptions receive_options;
  receive_options.progress_interval = 1ms;
  receive_options.progress = [&victim](const TransferProgress& p) {
    if (p.raw_bytes >= (8u << 20)) victim.close();
  };
  auto receiver = t.start_receiver(sink.write_fd, receive_options);
  sink.write_fd = -1;
  auto sender = t.start_sender(source.read_fd);
  auto sent = get_or_die(sender, "sender");
  auto received = get_or_die(receiver, "receiver");
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, ErrorCode::kUnavailable) << sent.error().message;
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error().code, ErrorCode::kUnavailable) << received.error().message;
  EXPECT_LT(get_or_die(drained, "sink reader").bytes, data.size());
  source.close_read();
  get_or_die(fed, "feeder");
}

TEST_F(StreamPipelineTest, ReceiverSideClosedMidStream) {
  run_with_channel_dying(*this, *recv_stream_);
}

TEST_F(StreamPipelineTest, SenderSideClosedMidStream) {
  run_with_channel_dying(*this, *send_stream_);
}

TEST_F(StreamPipelineTest, ReceiverAbortSeenWhileSourceIsSilent) {
  Pipe source;  // a zfs send that has not produced anything yet
  auto sender = start_sender(source.read_fd);
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(recv_channel_->write_frame(FrameType::kDataAbort, bytes_of("zfs recv: no space")));
  auto sent = get_or_die(sender, "sender");
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(sent.error().message, "receiver aborted: zfs recv: no space");
  auto ack = recv_channel_->read_frame(5s);
  ASSERT_TRUE(ack) << ack.error().message;
  EXPECT_EQ(ack->type, FrameType::kDataAbort);
  EXPECT_EQ(std::string(ack->payload.begin(), ack->payload.end()), "sender acknowledges abort");
}

TEST_F(StreamPipelineTest, SenderRejectsUnexpectedFrame) {
  Pipe source;
  ASSERT_TRUE(recv_channel_->write_frame(FrameType::kControl, bytes_of("hello?")));
  auto sender = start_sender(source.read_fd);
  auto sent = get_or_die(sender, "sender");
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, ErrorCode::kProtocol);
  auto abort = recv_channel_->read_frame(5s);
  ASSERT_TRUE(abort);
  EXPECT_EQ(abort->type, FrameType::kDataAbort);
}

// Frames written by the test, standing in for a sender.
void send_data(FrameChannel& channel, const std::vector<uint8_t>& data, size_t chunk) {
  std::vector<uint8_t> encoded;
  for (size_t i = 0; i < data.size(); i += chunk) {
    encode_block(std::span(data).subspan(i, std::min(chunk, data.size() - i)), true, encoded);
    ASSERT_TRUE(channel.write_frame(FrameType::kData, encoded));
  }
}

TEST_F(StreamPipelineTest, ChecksumMismatchIsCorrupt) {
  const auto data = mixed_data(1u << 20, 6);
  Pipe sink;
  auto drained = drain(sink);
  auto receiver = start_receiver(sink.write_fd);
  sink.write_fd = -1;
  send_data(*send_channel_, data, 64 * 1024);
  DataEnd end{data.size(), sha256_of(data)};
  end.sha256[0] ^= 1;
  ASSERT_TRUE(send_channel_->write_frame(FrameType::kDataEnd, encode_data_end(end)));
  auto received = get_or_die(receiver, "receiver");
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error().code, ErrorCode::kCorrupt);
  EXPECT_EQ(received.error().message.rfind("stream checksum mismatch: ", 0), 0u);
  EXPECT_EQ(get_or_die(drained, "sink reader").bytes, data.size());
}

TEST_F(StreamPipelineTest, LengthMismatchIsCorrupt) {
  const auto data = mixed_data(300000, 7);
  Pipe sink;
  auto drained = drain(sink);
  auto receiver = start_receiver(sink.write_fd);
  sink.write_fd = -1;
  send_data(*send_channel_, data, 64 * 1024);
  DataEnd end{data.size() + 1, sha256_of(data)};
  ASSERT_TRUE(send_channel_->write_frame(FrameType::kDataEnd, encode_data_end(end)));
  auto received = get_or_die(receiver, "receiver");
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(received.error().message.find("length mismatch"), std::string::npos);
  get_or_die(drained, "sink reader");
}

TEST_F(StreamPipelineTest, ReceiverRejectsBadFramesAndDrains) {
  const auto data = mixed_data(200000, 8);
  Pipe sink;
  auto drained = drain(sink);
  auto receiver = start_receiver(sink.write_fd);
  sink.write_fd = -1;
  send_data(*send_channel_, data, 64 * 1024);
  std::vector<uint8_t> bad_block{9, 0, 0, 0, 1, 0};
  ASSERT_TRUE(send_channel_->write_frame(FrameType::kData, bad_block));
  auto abort = send_channel_->read_frame(5s);
  ASSERT_TRUE(abort) << abort.error().message;
  EXPECT_EQ(abort->type, FrameType::kDataAbort);
  // The receiver skips whatever still comes until the sender ends the stream.
  send_data(*send_channel_, data, 64 * 1024);
  ASSERT_TRUE(send_channel_->write_frame(FrameType::kDataEnd, encode_data_end({})));
  auto received = get_or_die(receiver, "receiver");
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error().code, ErrorCode::kProtocol);
  EXPECT_FALSE(recv_channel_->readable_now());  // DataEnd was consumed by the drain
  get_or_die(drained, "sink reader");
}

TEST_F(StreamPipelineTest, ReceiverTimesOutOnSilence) {
  Pipe sink;
  auto drained = drain(sink);
  ReceiveOptions options;
  options.frame_timeout = 100ms;
  auto receiver = start_receiver(sink.write_fd, options);
  sink.write_fd = -1;
  auto received = get_or_die(receiver, "receiver");
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error().code, ErrorCode::kTimeout);
  get_or_die(drained, "sink reader");  // the sink was closed
}

// Memory stays flat: with nobody reading the channel, the sender takes only about queue_depth
// chunks (plus kernel buffers) from its source, not the whole stream.
TEST_F(StreamPipelineTest, SenderMemoryIsBoundedByQueueDepth) {
  const auto data = mixed_data(64u << 20, 9);
  Pipe source;
  auto fed = feed(source, data);
  SendOptions options;
  options.queue_depth = 4;
  options.chunk_size = 256 * 1024;
  options.compress = false;
  auto sender = start_sender(source.read_fd, options);
  std::this_thread::sleep_for(500ms);
  // What the feeder got rid of is in the pipe, the queue, the encoder and the socket buffers.
  recv_stream_->close();  // end the transfer
  auto sent = get_or_die(sender, "sender");
  ASSERT_FALSE(sent);
  source.close_read();
  uint64_t taken = get_or_die(fed, "feeder");
  std::printf("[ pipeline ] sender took %llu bytes from the source\n",
              static_cast<unsigned long long>(taken));
  // queue_depth chunks + the one being encoded + the pipe and socket buffers; far below 64 MiB.
  EXPECT_LT(taken, 3u << 20) << "the sender buffered without bound";
}

}  // namespace
}  // namespace zrep

namespace zrep {
namespace {

// A stream that ends before its header (first record) is whole: the receiver fails at once,
// without waiting for frames the sender, already done, never sends.
TEST_F(StreamPipelineTest, StreamEndingBeforeItsHeaderFailsAtOnce) {
  for (size_t bytes : {size_t{0}, size_t{100}}) {
    const auto data = mixed_data(bytes, 7);
    Pipe source, sink;
    auto fed = feed(source, data);
    auto drained = drain(sink);
    ReceiveOptions options;
    options.frame_timeout = 30s;
    options.header_size = 312;
    options.check_header = [](std::span<const uint8_t> h) -> Status {
      if (h.size() < 312) return make_error(ErrorCode::kProtocol, "short header");
      return Status::ok();
    };
    auto started = Clock::now();
    auto receiver = start_receiver(sink.write_fd, options);
    sink.write_fd = -1;
    auto sender = start_sender(source.read_fd);
    auto received = get_or_die(receiver, "receiver");
    EXPECT_LT(Clock::now() - started, 10s) << bytes << " bytes";
    ASSERT_FALSE(received);
    EXPECT_EQ(received.error().code, ErrorCode::kProtocol) << received.error().message;
    EXPECT_TRUE(get_or_die(sender, "sender"));
    EXPECT_EQ(get_or_die(drained, "sink reader").bytes, 0u);
    get_or_die(fed, "feeder");
  }
}

}  // namespace
}  // namespace zrep
