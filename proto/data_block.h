// Encoding of one data frame's payload: a chunk of a zfs send stream, lz4-compressed when that
// makes it smaller.
//
//   byte 0     codec: 0 = stored, 1 = lz4 block
//   bytes 1-4  uncompressed length, big endian (<= kMaxBlockSize)
//   bytes 5-   the stored bytes, or one LZ4 block that decodes to exactly that length
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"

namespace zrep {

inline constexpr size_t kMaxBlockSize = 1u << 20;
inline constexpr size_t kBlockHeaderSize = 5;

enum class BlockCodec : uint8_t { kStored = 0, kLz4 = 1 };

// Encodes `raw` (at most kMaxBlockSize bytes) into `out` (resized). With `compress` false, or
// when lz4 does not shrink the chunk, the bytes are stored.
void encode_block(std::span<const uint8_t> raw, bool compress, std::vector<uint8_t>& out);

// Decodes a payload into `out` (resized to the uncompressed length). Rejects unknown codecs,
// lengths over kMaxBlockSize, and lz4 data that does not decode to exactly the stated length.
Status decode_block(std::span<const uint8_t> payload, std::vector<uint8_t>& out);

}  // namespace zrep
