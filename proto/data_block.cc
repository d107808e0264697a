#include "proto/data_block.h"

#include <fmt/format.h>
#include <lz4.h>

#include <algorithm>
#include <cassert>

namespace zrep {
namespace {

uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void write_header(uint8_t* p, BlockCodec codec, size_t raw_length) {
  auto v = static_cast<uint32_t>(raw_length);
  p[0] = static_cast<uint8_t>(codec);
  for (int i = 4; i >= 1; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

Error protocol_error(std::string message) {
  return make_error(ErrorCode::kProtocol, std::move(message));
}

}  // namespace

void encode_block(std::span<const uint8_t> raw, bool compress, std::vector<uint8_t>& out) {
  assert(raw.size() <= kMaxBlockSize);
  const int raw_size = static_cast<int>(raw.size());
  if (compress && raw_size > 0) {
    const int bound = LZ4_compressBound(raw_size);
    out.resize(kBlockHeaderSize + static_cast<size_t>(bound));
    const int n = LZ4_compress_default(reinterpret_cast<const char*>(raw.data()),
                                       reinterpret_cast<char*>(out.data() + kBlockHeaderSize),
                                       raw_size, bound);
    // Only keep lz4 when it pays: incompressible chunks (already compressed or encrypted
    // datasets) go stored, so the receiver does not pay for a useless decode.
    if (n > 0 && n < raw_size) {
      write_header(out.data(), BlockCodec::kLz4, raw.size());
      out.resize(kBlockHeaderSize + static_cast<size_t>(n));
      return;
    }
  }
  out.resize(kBlockHeaderSize + raw.size());
  write_header(out.data(), BlockCodec::kStored, raw.size());
  std::copy(raw.begin(), raw.end(), out.begin() + kBlockHeaderSize);
}

Status decode_block(std::span<const uint8_t> payload, std::vector<uint8_t>& out) {
  if (payload.size() < kBlockHeaderSize) {
    return protocol_error(fmt::format("data block of {} bytes is shorter than its {}-byte header",
                                      payload.size(), kBlockHeaderSize));
  }
  const uint8_t codec = payload[0];
  const uint32_t length = load_be32(payload.data() + 1);
  const auto body = payload.subspan(kBlockHeaderSize);
  if (length > kMaxBlockSize) {
    return protocol_error(
        fmt::format("data block of {} bytes exceeds the {}-byte limit", length, kMaxBlockSize));
  }
  switch (static_cast<BlockCodec>(codec)) {
    case BlockCodec::kStored:
      if (body.size() != length) {
        return protocol_error(
            fmt::format("stored data block says {} bytes but carries {}", length, body.size()));
      }
      out.assign(body.begin(), body.end());
      return Status::ok();
    case BlockCodec::kLz4: {
      // The encoder never emits an empty lz4 block, and a bounded input keeps the int casts safe.
      if (length == 0 || body.empty() ||
          body.size() > static_cast<size_t>(LZ4_compressBound(static_cast<int>(kMaxBlockSize)))) {
        return protocol_error(fmt::format("lz4 data block of {} bytes for {} bytes is malformed",
                                          body.size(), length));
      }
      out.resize(length);
      const int n = LZ4_decompress_safe(reinterpret_cast<const char*>(body.data()),
                                        reinterpret_cast<char*>(out.data()),
                                        static_cast<int>(body.size()), static_cast<int>(length));
      if (n != static_cast<int>(length)) {
        return protocol_error(
            n < 0 ? fmt::format("corrupt lz4 data block (stated length {} bytes)", length)
                  : fmt::format("lz4 data block decodes to {} bytes, stated {}", n, length));
      }
      return Status::ok();
    }
  }
  return protocol_error(fmt::format("unknown data block codec {}", codec));
}

}  // namespace zrep
