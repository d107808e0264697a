#include "proto/frame.h"

#include <gtest/gtest.h>
#include <lz4.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "common/byte_stream.h"
#include "proto/data_block.h"

namespace zrep {
namespace {

using namespace std::chrono_literals;

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Two connected FdStreams, each with a FrameChannel.
struct SocketPair {
  SocketPair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) throw std::runtime_error("socketpair");
    a = std::make_unique<FdStream>(fds[0]);
    b = std::make_unique<FdStream>(fds[1]);
    ca = std::make_unique<FrameChannel>(*a);
    cb = std::make_unique<FrameChannel>(*b);
  }
  std::unique_ptr<FdStream> a, b;
  std::unique_ptr<FrameChannel> ca, cb;
};

std::array<uint8_t, kFrameHeaderSize> header_bytes(uint8_t magic, uint8_t type, uint8_t r0,
                                                   uint8_t r1, uint32_t length) {
  return {magic,
          type,
          r0,
          r1,
          static_cast<uint8_t>(length >> 24),
          static_cast<uint8_t>(length >> 16),
          static_cast<uint8_t>(length >> 8),
          static_cast<uint8_t>(length)};
}

TEST(FrameHeaderTest, EncodeDecodeRoundTrip) {
  for (auto type : {FrameType::kControl, FrameType::kData, FrameType::kDataAbort}) {
    auto raw = encode_frame_header(type, 1234);
    EXPECT_EQ(raw[0], kFrameMagic);
    auto h = decode_frame_header(raw);
    ASSERT_TRUE(h) << h.error().message;
    EXPECT_EQ(h->type, type);
    EXPECT_EQ(h->length, 1234u);
  }
  auto raw = encode_frame_header(FrameType::kData, 0x01020304);
  EXPECT_EQ(raw[4], 0x01);  // big endian on the wire
  EXPECT_EQ(raw[7], 0x04);
}

TEST(FrameHeaderTest, LimitsAreInclusive) {
  EXPECT_TRUE(decode_frame_header(encode_frame_header(FrameType::kControl, kMaxControlPayload)));
  EXPECT_TRUE(decode_frame_header(encode_frame_header(FrameType::kData, kMaxDataPayload)));
  EXPECT_TRUE(decode_frame_header(encode_frame_header(FrameType::kDataAbort, kMaxAbortPayload)));
  EXPECT_TRUE(decode_frame_header(encode_frame_header(FrameType::kDataEnd, kDataEndPayload)));
}

TEST(FrameHeaderTest, OversizedLengthIsProtocolError) {
  auto h = decode_frame_header(encode_frame_header(FrameType::kData, 5000000));
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code, ErrorCode::kProtocol);
  EXPECT_EQ(h.error().message, "frame too large: data frame of 5000000 bytes (limit 1049600)");
  EXPECT_FALSE(
      decode_frame_header(encode_frame_header(FrameType::kControl, kMaxControlPayload + 1)));
  EXPECT_FALSE(
      decode_frame_header(encode_frame_header(FrameType::kDataAbort, kMaxAbortPayload + 1)));
  EXPECT_FALSE(decode_frame_header(encode_frame_header(FrameType::kData, 0xFFFFFFFFu)));
}

TEST(FrameHeaderTest, DataEndLengthMustBeExact) {
  for (uint32_t len : {0u, kDataEndPayload - 1, kDataEndPayload + 1}) {
    auto h = decode_frame_header(encode_frame_header(FrameType::kDataEnd, len));
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error().code, ErrorCode::kProtocol);
  }
}

TEST(FrameHeaderTest, BadMagicTypeReservedAreProtocolErrors) {
  auto magic = decode_frame_header(header_bytes(0x5B, 1, 0, 0, 10));
  ASSERT_FALSE(magic);
  EXPECT_EQ(magic.error().code, ErrorCode::kProtocol);
  EXPECT_NE(magic.error().message.find("magic"), std::string::npos);

  for (uint8_t type : {uint8_t{0}, uint8_t{5}, uint8_t{255}}) {
    auto h = decode_frame_header(header_bytes(kFrameMagic, type, 0, 0, 10));
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error().code, ErrorCode::kProtocol);
    EXPECT_NE(h.error().message.find("unknown frame type"), std::string::npos);
  }
  for (auto [r0, r1] : {std::pair<uint8_t, uint8_t>{1, 0}, {0, 1}, {0x80, 0x80}}) {
    auto h = decode_frame_header(header_bytes(kFrameMagic, 1, r0, r1, 10));
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error().code, ErrorCode::kProtocol);
    EXPECT_NE(h.error().message.find("reserved"), std::string::npos);
  }
}

TEST(DataEndTest, RoundTrip) {
  DataEnd end;
  end.total_bytes = 0x0102030405060708ull;
  for (size_t i = 0; i < end.sha256.size(); ++i) end.sha256[i] = static_cast<uint8_t>(i * 7);
  auto payload = encode_data_end(end);
  ASSERT_EQ(payload.size(), kDataEndPayload);
  EXPECT_EQ(payload[0], 0x01);
  EXPECT_EQ(payload[7], 0x08);
  auto back = decode_data_end(payload);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->total_bytes, end.total_bytes);
  EXPECT_EQ(back->sha256, end.sha256);
}

TEST(DataEndTest, WrongSizeRejected) {
  std::vector<uint8_t> short_payload(kDataEndPayload - 1);
  auto r = decode_data_end(short_payload);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kProtocol);
  std::vector<uint8_t> long_payload(kDataEndPayload + 1);
  EXPECT_FALSE(decode_data_end(long_payload));
}

TEST(FrameChannelTest, RoundTripSmallAndLargeFrames) {
  SocketPair p;
  std::string control = "hello";
  std::vector<uint8_t> big(kMaxDataPayload);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 31 + 7);
  DataEnd end{42, {}};
  end.sha256[3] = 9;

  // Large frames exceed the socket buffer: write from another thread.
  std::thread writer([&] {
    EXPECT_TRUE(p.ca->write_frame(FrameType::kControl, bytes_of(control)));
    EXPECT_TRUE(p.ca->write_frame(FrameType::kData, big));
    EXPECT_TRUE(p.ca->write_frame(FrameType::kData, {}));
    EXPECT_TRUE(p.ca->write_frame(FrameType::kDataEnd, encode_data_end(end)));
    EXPECT_TRUE(p.ca->write_frame(FrameType::kDataAbort, bytes_of(std::string("why"))));
  });
  auto f1 = p.cb->read_frame(5s);
  ASSERT_TRUE(f1) << f1.error().message;
  EXPECT_EQ(f1->type, FrameType::kControl);
  EXPECT_EQ(std::string(f1->payload.begin(), f1->payload.end()), control);
  auto f2 = p.cb->read_frame(5s);
  ASSERT_TRUE(f2);
  EXPECT_EQ(f2->type, FrameType::kData);
  EXPECT_EQ(f2->payload, big);
  auto f3 = p.cb->read_frame(5s);
  ASSERT_TRUE(f3);
  EXPECT_TRUE(f3->payload.empty());
  auto f4 = p.cb->read_frame(5s);
  ASSERT_TRUE(f4);
  EXPECT_EQ(f4->type, FrameType::kDataEnd);
  EXPECT_EQ(decode_data_end(f4->payload)->total_bytes, 42u);
  auto f5 = p.cb->read_frame(5s);
  ASSERT_TRUE(f5);
  EXPECT_EQ(f5->type, FrameType::kDataAbort);
  writer.join();
  EXPECT_FALSE(p.cb->readable_now());
}

TEST(FrameChannelTest, WriteRefusesFramesThePeerWouldReject) {
  SocketPair p;
  std::vector<uint8_t> too_big(kMaxAbortPayload + 1);
  auto s = p.ca->write_frame(FrameType::kDataAbort, too_big);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(p.cb->readable_now());  // nothing went out
}

TEST(FrameChannelTest, TruncatedHeaderIsUnavailable) {
  SocketPair p;
  auto raw = encode_frame_header(FrameType::kControl, 10);
  ASSERT_TRUE(p.a->write_all(std::span(raw.data(), 4)));
  p.a.reset();  // the writer goes away mid-header
  auto f = p.cb->read_frame(5s);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(f.error().message.find("connection closed by peer"), std::string::npos);
}

TEST(FrameChannelTest, TruncatedPayloadIsUnavailable) {
  SocketPair p;
  auto raw = encode_frame_header(FrameType::kControl, 100);
  ASSERT_TRUE(p.a->write_all(raw));
  std::vector<uint8_t> half(50, 1);
  ASSERT_TRUE(p.a->write_all(half));
  p.a.reset();
  auto f = p.cb->read_frame(5s);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, ErrorCode::kUnavailable);
}

TEST(FrameChannelTest, OversizedHeaderFromPeerIsProtocolError) {
  SocketPair p;
  auto raw = encode_frame_header(FrameType::kData, 5000000);
  ASSERT_TRUE(p.a->write_all(raw));
  auto f = p.cb->read_frame(5s);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, ErrorCode::kProtocol);
}

TEST(FrameChannelTest, SilenceIsTimeout) {
  SocketPair p;
  auto f = p.cb->read_frame(50ms);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, ErrorCode::kTimeout);
  EXPECT_EQ(f.error().message, "no data for 50 ms");
}

TEST(FdStreamTest, WriteToVanishedPeerIsUnavailable) {
  SocketPair p;
  p.b.reset();
  std::vector<uint8_t> data(1 << 20, 7);
  auto s = p.a->write_all(data);  // MSG_NOSIGNAL: no SIGPIPE kills the test
  ASSERT_FALSE(s);
  EXPECT_EQ(s.code(), ErrorCode::kUnavailable);
}

TEST(FdStreamTest, CloseWakesBlockedReader) {
  SocketPair p;
  Status result;
  std::thread reader([&] {
    std::array<uint8_t, 8> buf;
    result = p.b->read_exact(buf, 30s);
  });
  std::this_thread::sleep_for(50ms);
  p.b->close();
  reader.join();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(p.b->readable_now());  // a closed stream reports, it does not block
}

// The timeout of a read is one deadline for all of it: a writer that trickles a byte at a time
// cannot stretch it (it used to be renewed after every piece).
TEST(FdStreamTest, TrickleDoesNotRenewTheDeadline) {
  SocketPair p;
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    const uint8_t byte = 1;
    while (!stop) {
      if (!p.a->write_all(std::span(&byte, 1))) return;
      std::this_thread::sleep_for(50ms);
    }
  });
  std::array<uint8_t, 64> buf;
  auto start = std::chrono::steady_clock::now();
  Status s = p.b->read_exact(buf, 400ms);
  auto took = std::chrono::steady_clock::now() - start;
  stop = true;
  trickle.join();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.code(), ErrorCode::kTimeout) << s.message();
  EXPECT_LT(took, 1500ms);
}

// A frame must arrive whole within the channel's frame timeout of its first byte, and a header
// claiming the largest payload costs no more memory than the bytes that came.
TEST(FrameChannelTest, TrickledFrameIsDroppedAtTheFrameDeadline) {
  SocketPair p;
  p.cb->set_frame_timeout(300ms);
  auto header = encode_frame_header(FrameType::kControl, kMaxControlPayload);
  ASSERT_TRUE(p.a->write_all(header));
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    const uint8_t byte = 7;
    while (!stop) {
      if (!p.a->write_all(std::span(&byte, 1))) return;
      std::this_thread::sleep_for(20ms);
    }
  });
  auto start = std::chrono::steady_clock::now();
  auto frame = p.cb->read_frame(30s);  // a long wait for the first byte, not for the frame
  auto took = std::chrono::steady_clock::now() - start;
  stop = true;
  trickle.join();
  ASSERT_FALSE(frame);
  EXPECT_EQ(frame.error().code, ErrorCode::kTimeout) << frame.error().message;
  EXPECT_LT(took, 2s);
}

TEST(FrameChannelTest, WaitForTheFirstByteIsNotTheFrameDeadline) {
  SocketPair p;
  p.cb->set_frame_timeout(200ms);
  std::thread late([&] {
    std::this_thread::sleep_for(500ms);  // longer than the frame timeout, within the wait
    std::string big(300 * 1024, 'x');
    ASSERT_TRUE(p.ca->write_frame(FrameType::kControl, bytes_of(big)));
  });
  auto frame = p.cb->read_frame(5s);
  late.join();
  ASSERT_TRUE(frame) << frame.error().message;
  EXPECT_EQ(frame->payload.size(), 300u * 1024);
  EXPECT_EQ(frame->payload[12345], 'x');
}

TEST(FdStreamTest, WorksOverPipes) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  FdStream in(fds[0]);
  FdStream out(fds[1]);
  std::vector<uint8_t> data{1, 2, 3};
  ASSERT_TRUE(out.write_all(data));
  EXPECT_TRUE(in.readable_now());
  std::vector<uint8_t> got(3);
  ASSERT_TRUE(in.read_exact(got, 1s));
  EXPECT_EQ(got, data);
}

// The fuzz loops check each answer against an independent statement of the format, both ways:
// ok exactly when the input is valid.
bool header_is_valid(const std::array<uint8_t, kFrameHeaderSize>& b) {
  uint32_t len = (uint32_t{b[4]} << 24) | (uint32_t{b[5]} << 16) | (uint32_t{b[6]} << 8) | b[7];
  if (b[0] != 0x5A || b[2] != 0 || b[3] != 0) return false;
  switch (b[1]) {
    case 1:
      return len <= kMaxControlPayload;
    case 2:
      return len <= kMaxDataPayload;
    case 3:
      return len == kDataEndPayload;
    case 4:
      return len <= kMaxAbortPayload;
    default:
      return false;
  }
}

TEST(FrameFuzzTest, RandomHeaders) {
  std::mt19937 rng(12345);
  auto byte = [&] { return static_cast<uint8_t>(rng()); };
  int valid = 0;
  for (int i = 0; i < 20000; ++i) {
    std::array<uint8_t, kFrameHeaderSize> b;
    for (auto& x : b) x = byte();
    // Bias towards almost-valid headers, where the interesting bugs are.
    if (rng() % 4 != 0) b[0] = kFrameMagic;
    if (rng() % 4 != 0) b[1] = static_cast<uint8_t>(rng() % 6);
    if (rng() % 4 != 0) b[2] = b[3] = 0;
    if (rng() % 2 != 0) b[4] = b[5] = 0;
    if (rng() % 8 == 0) {
      b[6] = 0;
      b[7] = static_cast<uint8_t>(kDataEndPayload);
    }
    auto h = decode_frame_header(b);
    ASSERT_EQ(h.is_ok(), header_is_valid(b)) << "case " << i;
    if (h) {
      ++valid;
      EXPECT_EQ(static_cast<uint8_t>(h->type), b[1]);
    } else {
      EXPECT_EQ(h.error().code, ErrorCode::kProtocol);
    }
  }
  EXPECT_GT(valid, 1000);  // the bias reached the accepting paths too
}

TEST(FrameFuzzTest, RandomBlocks) {
  std::mt19937 rng(777);
  std::vector<uint8_t> sample(3000);
  for (size_t i = 0; i < sample.size(); ++i) sample[i] = static_cast<uint8_t>("abcab"[i % 5]);
  std::vector<uint8_t> valid_lz4;
  encode_block(sample, true, valid_lz4);
  ASSERT_EQ(valid_lz4[0], 1);

  int accepted = 0;
  std::vector<uint8_t> out;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> p;
    switch (rng() % 3) {
      case 0:  // pure noise
        p.resize(rng() % 64);
        for (auto& x : p) x = static_cast<uint8_t>(rng());
        break;
      case 1: {  // a plausible header over noise
        size_t body = rng() % 200;
        auto len = static_cast<uint32_t>(rng() % 2 ? body : rng() % 400);
        if (rng() % 16 == 0) len = static_cast<uint32_t>(rng());
        p = {static_cast<uint8_t>(rng() % 3), static_cast<uint8_t>(len >> 24),
             static_cast<uint8_t>(len >> 16), static_cast<uint8_t>(len >> 8),
             static_cast<uint8_t>(len)};
        for (size_t j = 0; j < body; ++j) p.push_back(static_cast<uint8_t>(rng()));
        break;
      }
      default:  // a valid lz4 block with a few bytes mutated or cut off
        p = valid_lz4;
        for (unsigned m = rng() % 4 + 1; m > 0; --m)
          p[rng() % p.size()] = static_cast<uint8_t>(rng());
        if (rng() % 4 == 0) p.resize(rng() % p.size());
        break;
    }
    Status s = decode_block(p, out);
    if (p.size() < kBlockHeaderSize || p[0] > 1) {
      ASSERT_FALSE(s) << "case " << i;
      continue;
    }
    uint32_t len = (uint32_t{p[1]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 8) | p[4];
    size_t body = p.size() - kBlockHeaderSize;
    bool valid;
    if (len > kMaxBlockSize) {
      valid = false;
    } else if (p[0] == 0) {
      valid = body == len;
    } else {
      std::vector<char> check(len + 1);
      valid = len > 0 && body > 0 &&
              LZ4_decompress_safe(reinterpret_cast<const char*>(p.data() + kBlockHeaderSize),
                                  check.data(), static_cast<int>(body),
                                  static_cast<int>(len)) == static_cast<int>(len);
    }
    ASSERT_EQ(s.is_ok(), valid) << "case " << i;
    if (s) {
      ++accepted;
      EXPECT_EQ(out.size(), len);
    } else {
      EXPECT_EQ(s.code(), ErrorCode::kProtocol);
    }
  }
  EXPECT_GT(accepted, 100);
}

}  // namespace
}  // namespace zrep
