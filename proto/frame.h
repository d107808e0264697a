// The frame codec of the wire: a fixed 8-byte header and a payload.
//
//   byte 0     magic 0x5A ('Z')
//   byte 1     type (FrameType)
//   bytes 2-3  reserved, must be zero
//   bytes 4-7  payload length, big endian
//
// Control frames carry one serialized protobuf message; data frames carry one encoded block of
// a zfs send stream (see data_block.h). The codec does no I/O: it can be tested and fuzzed alone.
// FrameChannel (below) does the I/O over a ByteStream.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/byte_stream.h"
#include "common/result.h"

namespace zrep {

enum class FrameType : uint8_t {
  kControl = 1,    // protobuf message
  kData = 2,       // one data block of a send stream
  kDataEnd = 3,    // end of a send stream: 8-byte big-endian total length + 32-byte SHA-256
  kDataAbort = 4,  // the stream is abandoned; payload is a UTF-8 reason (either direction)
};

inline constexpr size_t kFrameHeaderSize = 8;
inline constexpr uint8_t kFrameMagic = 0x5A;
inline constexpr uint32_t kMaxControlPayload = 1u << 20;        // 1 MiB
inline constexpr uint32_t kMaxDataPayload = (1u << 20) + 1024;  // one block + its header
inline constexpr uint32_t kMaxAbortPayload = 4096;
inline constexpr uint32_t kDataEndPayload = 8 + 32;
// read_frame allocates at most this much (or what arrived so far, when more) ahead of the bytes
// that arrived.
inline constexpr size_t kFrameReadChunk = 64 * 1024;

struct FrameHeader {
  FrameType type;
  uint32_t length;
};

struct Frame {
  FrameType type;
  std::vector<uint8_t> payload;
};

// Validates magic, type, reserved bytes and the per-type length limit.
Result<FrameHeader> decode_frame_header(std::span<const uint8_t, kFrameHeaderSize> bytes);
std::array<uint8_t, kFrameHeaderSize> encode_frame_header(FrameType type, uint32_t length);

struct DataEnd {
  uint64_t total_bytes = 0;
  std::array<uint8_t, 32> sha256{};
};
std::vector<uint8_t> encode_data_end(const DataEnd& end);
Result<DataEnd> decode_data_end(std::span<const uint8_t> payload);

// Frames over a ByteStream. read_frame and write_frame may be called from different threads;
// writes are serialized by a mutex so heartbeat and data writers cannot interleave a frame.
class FrameChannel {
 public:
  explicit FrameChannel(ByteStream& stream) : stream_(stream) {}

  Status write_frame(FrameType type, std::span<const uint8_t> payload);
  // Reads one frame: its first byte may take up to `wait`; the whole frame must then arrive
  // within `wait` (or the channel's frame timeout, when shorter) of that first byte: one
  // deadline per frame, not renewed per piece. The payload buffer grows as bytes arrive, never
  // to the length the header claims before they are there.
  Result<Frame> read_frame(std::chrono::milliseconds wait);
  // Caps the time a frame may take once its first byte arrived (default: no cap beyond `wait`).
  void set_frame_timeout(std::chrono::milliseconds timeout) { frame_timeout_ = timeout; }
  bool readable_now() { return stream_.readable_now(); }
  void close() { stream_.close(); }

 private:
  ByteStream& stream_;
  std::mutex write_mu_;
  std::chrono::milliseconds frame_timeout_ = std::chrono::milliseconds::max();
};

// Writes a DataAbort frame carrying `reason`, cut to kMaxAbortPayload bytes without splitting a
// UTF-8 sequence (a long error message must not make the abort itself fail).
Status write_data_abort(FrameChannel& channel, std::string_view reason);

}  // namespace zrep
