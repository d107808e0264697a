#include "receiver/stream_header.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace zrep {
namespace {

std::vector<uint8_t> header(uint64_t versioninfo, uint32_t type, uint32_t flags, uint64_t to,
                            uint64_t from, bool swap = false) {
  std::vector<uint8_t> b(kStreamHeaderSize, 0);
  auto put32 = [&](size_t off, uint32_t v) {
    if (swap) v = __builtin_bswap32(v);
    std::memcpy(b.data() + off, &v, 4);
  };
  auto put64 = [&](size_t off, uint64_t v) {
    if (swap) v = __builtin_bswap64(v);
    std::memcpy(b.data() + off, &v, 8);
  };
  put32(0, 0);  // DRR_BEGIN
  put64(8, 0x2F5bacbacULL);
  put64(16, versioninfo);
  put32(32, type);
  put32(36, flags);
  put64(40, to);
  put64(48, from);
  std::memcpy(b.data() + 56, "pool/fs@zrep_000001", 19);
  return b;
}

TEST(StreamHeader, AcceptsThePlainSubstreamThatWasAgreed) {
  auto b = header(0x11, 2, 0, 77, 66);
  auto h = parse_stream_header(b);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->to_name, "pool/fs@zrep_000001");
  EXPECT_TRUE(check_stream_header(b, 77, 66));
  EXPECT_TRUE(check_stream_header(header(0x11, 2, 0, 77, 66, true), 77, 66)) << "other byte order";
}

TEST(StreamHeader, RefusesWhatWasNotAgreed) {
  EXPECT_EQ(check_stream_header(header(0x12, 2, 0, 77, 66), 77, 66).code(),
            ErrorCode::kPermissionDenied);  // compound: properties, children
  EXPECT_FALSE(check_stream_header(header(0x11, 2, 1, 77, 66), 77, 66));  // clone
  EXPECT_FALSE(check_stream_header(header(0x11, 3, 0, 77, 66), 77, 66));  // a zvol
  EXPECT_FALSE(check_stream_header(header(0x11, 2, 0, 77, 65), 77, 66));  // another base
  EXPECT_FALSE(check_stream_header(header(0x11, 2, 0, 77, 66), 77, 0));   // incremental, not full
  EXPECT_FALSE(check_stream_header(header(0x11, 2, 0, 78, 66), 77, 66));  // another snapshot
}

TEST(StreamHeader, GarbageIsNotAStream) {
  std::vector<uint8_t> short_one(100, 0);
  EXPECT_EQ(parse_stream_header(short_one).error().code, ErrorCode::kProtocol);
  std::mt19937 rng(5);
  std::vector<uint8_t> b(kStreamHeaderSize);
  for (int i = 0; i < 2000; ++i) {
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    EXPECT_FALSE(check_stream_header(b, 1, 0));
  }
}

}  // namespace
}  // namespace zrep
