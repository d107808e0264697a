#include "proto/data_block.h"

#include <gtest/gtest.h>

#include <random>

namespace zrep {
namespace {

std::vector<uint8_t> random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(rng());
  return v;
}

std::vector<uint8_t> text_bytes(size_t n) {
  const std::string line = "zrep_000123 sent=1700000000 guid=123456789 readonly=on\n";
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(line[i % line.size()]);
  return v;
}

uint32_t stated_length(const std::vector<uint8_t>& p) {
  return (uint32_t{p[1]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 8) | p[4];
}

void set_stated_length(std::vector<uint8_t>& p, uint32_t len) {
  p[1] = static_cast<uint8_t>(len >> 24);
  p[2] = static_cast<uint8_t>(len >> 16);
  p[3] = static_cast<uint8_t>(len >> 8);
  p[4] = static_cast<uint8_t>(len);
}

TEST(DataBlockTest, CompressibleRoundTrip) {
  for (auto raw : {text_bytes(256 * 1024), std::vector<uint8_t>(kMaxBlockSize, 0), text_bytes(7)}) {
    std::vector<uint8_t> encoded, decoded;
    encode_block(raw, true, encoded);
    if (raw.size() > 100) {
      EXPECT_EQ(encoded[0], static_cast<uint8_t>(BlockCodec::kLz4));
      EXPECT_LT(encoded.size(), raw.size() / 4);
    }
    EXPECT_EQ(stated_length(encoded), raw.size());
    ASSERT_TRUE(decode_block(encoded, decoded));
    EXPECT_EQ(decoded, raw);
  }
}

TEST(DataBlockTest, IncompressibleIsStored) {
  auto raw = random_bytes(256 * 1024, 1);
  std::vector<uint8_t> encoded, decoded;
  encode_block(raw, true, encoded);
  EXPECT_EQ(encoded[0], static_cast<uint8_t>(BlockCodec::kStored));
  EXPECT_EQ(encoded.size(), raw.size() + kBlockHeaderSize);
  ASSERT_TRUE(decode_block(encoded, decoded));
  EXPECT_EQ(decoded, raw);
}

TEST(DataBlockTest, CompressFalseStores) {
  auto raw = text_bytes(10000);
  std::vector<uint8_t> encoded, decoded;
  encode_block(raw, false, encoded);
  EXPECT_EQ(encoded[0], static_cast<uint8_t>(BlockCodec::kStored));
  ASSERT_TRUE(decode_block(encoded, decoded));
  EXPECT_EQ(decoded, raw);
}

TEST(DataBlockTest, EmptyBlockRoundTrip) {
  std::vector<uint8_t> encoded, decoded{1, 2, 3};
  encode_block({}, true, encoded);
  EXPECT_EQ(encoded.size(), kBlockHeaderSize);
  ASSERT_TRUE(decode_block(encoded, decoded));
  EXPECT_TRUE(decoded.empty());
}

TEST(DataBlockTest, OutputBufferIsReused) {
  std::vector<uint8_t> encoded, decoded;
  encode_block(random_bytes(1000, 2), true, encoded);
  auto small = text_bytes(5000);
  encode_block(small, true, encoded);  // a previous, larger content must not leak through
  ASSERT_TRUE(decode_block(encoded, decoded));
  EXPECT_EQ(decoded, small);
}

TEST(DataBlockTest, CorruptLz4Rejected) {
  std::vector<uint8_t> encoded, decoded;
  encode_block(text_bytes(100000), true, encoded);
  ASSERT_EQ(encoded[0], static_cast<uint8_t>(BlockCodec::kLz4));

  auto truncated = encoded;
  truncated.resize(truncated.size() - 10);
  Status s = decode_block(truncated, decoded);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.code(), ErrorCode::kProtocol);

  auto garbage = encoded;
  std::fill(garbage.begin() + kBlockHeaderSize, garbage.end(), 0xFF);
  EXPECT_FALSE(decode_block(garbage, decoded));

  std::vector<uint8_t> empty_body(encoded.begin(), encoded.begin() + kBlockHeaderSize);
  EXPECT_FALSE(decode_block(empty_body, decoded));
}

TEST(DataBlockTest, Lz4LengthLiesRejected) {
  std::vector<uint8_t> encoded, decoded;
  encode_block(text_bytes(100000), true, encoded);
  for (uint32_t lie : {99999u, 100001u, 1u, 0u}) {
    auto p = encoded;
    set_stated_length(p, lie);
    Status s = decode_block(p, decoded);
    ASSERT_FALSE(s) << lie;
    EXPECT_EQ(s.code(), ErrorCode::kProtocol);
  }
}

TEST(DataBlockTest, StoredLengthLiesRejected) {
  std::vector<uint8_t> encoded, decoded;
  encode_block(random_bytes(1000, 3), false, encoded);
  for (uint32_t lie : {999u, 1001u, 0u}) {
    auto p = encoded;
    set_stated_length(p, lie);
    Status s = decode_block(p, decoded);
    ASSERT_FALSE(s) << lie;
    EXPECT_EQ(s.code(), ErrorCode::kProtocol);
    EXPECT_NE(s.message().find("stored"), std::string::npos);
  }
}

TEST(DataBlockTest, OverLimitAndUnknownCodecRejected) {
  std::vector<uint8_t> over(kBlockHeaderSize + kMaxBlockSize + 1, 0);
  set_stated_length(over, static_cast<uint32_t>(kMaxBlockSize + 1));
  std::vector<uint8_t> decoded;
  Status s = decode_block(over, decoded);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("limit"), std::string::npos);

  std::vector<uint8_t> unknown{7, 0, 0, 0, 1, 42};
  s = decode_block(unknown, decoded);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.message(), "unknown data block codec 7");

  std::vector<uint8_t> short_header{0, 0, 0};
  EXPECT_FALSE(decode_block(short_header, decoded));
}

}  // namespace
}  // namespace zrep
