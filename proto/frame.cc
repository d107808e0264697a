#include "proto/frame.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace zrep {
namespace {

// Big-endian helpers: the wire order is fixed, whatever the host's.
uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void store_be32(uint8_t* p, uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

uint64_t load_be64(const uint8_t* p) { return (uint64_t{load_be32(p)} << 32) | load_be32(p + 4); }

void store_be64(uint8_t* p, uint64_t v) {
  store_be32(p, static_cast<uint32_t>(v >> 32));
  store_be32(p + 4, static_cast<uint32_t>(v));
}

struct TypeLimits {
  const char* name;
  uint32_t max_length;
  bool exact;  // the length must equal max_length
};

// Per-type size limits keep a hostile or broken peer from making us allocate gigabytes.
bool limits_for(uint8_t type, TypeLimits& out) {
  switch (static_cast<FrameType>(type)) {
    case FrameType::kControl:
      out = {"control", kMaxControlPayload, false};
      return true;
    case FrameType::kData:
      out = {"data", kMaxDataPayload, false};
      return true;
    case FrameType::kDataEnd:
      out = {"data-end", kDataEndPayload, true};
      return true;
    case FrameType::kDataAbort:
      out = {"data-abort", kMaxAbortPayload, false};
      return true;
  }
  return false;
}

Error protocol_error(std::string message) {
  return make_error(ErrorCode::kProtocol, std::move(message));
}

// Cuts a reason to what a DataAbort frame may carry: back up over UTF-8 continuation bytes
// (10xxxxxx) so the cut falls at the start of a sequence.
std::string_view abort_reason(std::string_view message) {
  if (message.size() <= kMaxAbortPayload) return message;
  size_t n = kMaxAbortPayload;
  while (n > 0 && (static_cast<uint8_t>(message[n]) & 0xC0) == 0x80) --n;
  return message.substr(0, n);
}

}  // namespace

Result<FrameHeader> decode_frame_header(std::span<const uint8_t, kFrameHeaderSize> bytes) {
  if (bytes[0] != kFrameMagic) {
    return protocol_error(
        fmt::format("bad frame magic 0x{:02x} (expected 0x{:02x})", bytes[0], kFrameMagic));
  }
  TypeLimits limits;
  if (!limits_for(bytes[1], limits)) {
    return protocol_error(fmt::format("unknown frame type {}", bytes[1]));
  }
  if (bytes[2] != 0 || bytes[3] != 0) {
    return protocol_error(fmt::format("reserved frame header bytes are 0x{:02x}{:02x}, not zero",
                                      bytes[2], bytes[3]));
  }
  uint32_t length = load_be32(bytes.data() + 4);
  if (limits.exact && length != limits.max_length) {
    return protocol_error(fmt::format("bad frame length: {} frame of {} bytes (must be {})",
                                      limits.name, length, limits.max_length));
  }
  if (length > limits.max_length) {
    return protocol_error(fmt::format("frame too large: {} frame of {} bytes (limit {})",
                                      limits.name, length, limits.max_length));
  }
  return FrameHeader{static_cast<FrameType>(bytes[1]), length};
}

std::array<uint8_t, kFrameHeaderSize> encode_frame_header(FrameType type, uint32_t length) {
  std::array<uint8_t, kFrameHeaderSize> out{kFrameMagic, static_cast<uint8_t>(type), 0, 0};
  store_be32(out.data() + 4, length);
  return out;
}

std::vector<uint8_t> encode_data_end(const DataEnd& end) {
  std::vector<uint8_t> out(kDataEndPayload);
  store_be64(out.data(), end.total_bytes);
  std::copy(end.sha256.begin(), end.sha256.end(), out.begin() + 8);
  return out;
}

Result<DataEnd> decode_data_end(std::span<const uint8_t> payload) {
  if (payload.size() != kDataEndPayload) {
    return protocol_error(
        fmt::format("data-end payload of {} bytes (must be {})", payload.size(), kDataEndPayload));
  }
  DataEnd end;
  end.total_bytes = load_be64(payload.data());
  std::copy(payload.begin() + 8, payload.end(), end.sha256.begin());
  return end;
}

Status FrameChannel::write_frame(FrameType type, std::span<const uint8_t> payload) {
  // Refuse to send what the peer must reject: that is our bug, not the peer's.
  if (payload.size() > std::numeric_limits<uint32_t>::max()) {
    return make_error(ErrorCode::kInvalidArgument, "frame payload over 4 GiB");
  }
  auto header = encode_frame_header(type, static_cast<uint32_t>(payload.size()));
  auto valid = decode_frame_header(header);
  if (!valid) return make_error(ErrorCode::kInvalidArgument, valid.error().message);

  std::lock_guard lock(write_mu_);
  // One write for small frames, so TLS does not emit a tiny record for each header; large
  // payloads are not worth a copy.
  constexpr size_t kCoalesceLimit = 64 * 1024;
  if (payload.size() < kCoalesceLimit) {
    std::array<uint8_t, kFrameHeaderSize + kCoalesceLimit> buf;
    std::copy(header.begin(), header.end(), buf.begin());
    std::copy(payload.begin(), payload.end(), buf.begin() + kFrameHeaderSize);
    return stream_.write_all(std::span(buf.data(), kFrameHeaderSize + payload.size()));
  }
  ZREP_RETURN_IF_ERROR(stream_.write_all(header));
  return stream_.write_all(payload);
}

Status write_data_abort(FrameChannel& channel, std::string_view reason) {
  reason = abort_reason(reason);
  return channel.write_frame(FrameType::kDataAbort,
                             {reinterpret_cast<const uint8_t*>(reason.data()), reason.size()});
}

Result<Frame> FrameChannel::read_frame(std::chrono::milliseconds wait) {
  using Clock = std::chrono::steady_clock;
  std::array<uint8_t, kFrameHeaderSize> raw;
  ZREP_RETURN_IF_ERROR(stream_.read_exact(std::span(raw).first(1), wait));
  // From the first byte on, the frame has one deadline.
  const auto whole = std::min(wait, frame_timeout_);
  const auto deadline =
      Clock::now() + std::min<std::chrono::milliseconds>(whole, std::chrono::hours(24 * 365));
  auto left = [&deadline] {
    return std::max(std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()),
                    std::chrono::milliseconds(0));
  };
  auto timed_out = [&whole](const Status& s, const char* what) {
    if (s.code() != ErrorCode::kTimeout) return s.with_context(what);
    return Status(make_error(ErrorCode::kTimeout, std::string(what) +
                                                      ": the frame did not arrive whole within " +
                                                      std::to_string(whole.count()) + " ms"));
  };
  if (Status s = stream_.read_exact(std::span(raw).subspan(1), left()); !s) {
    return timed_out(s, "reading a frame header");
  }
  auto header = decode_frame_header(raw);
  if (!header) return header.error();
  Frame frame{header->type, {}};
  // Grow as the bytes arrive: a header claiming the limit costs nothing until they come.
  size_t have = 0;
  while (have < header->length) {
    // At most doubling what arrived: the copies cost less than the length of the frame.
    const size_t next =
        std::min<size_t>(header->length, have + std::max<size_t>(have, kFrameReadChunk));
    frame.payload.resize(next);
    Status s = stream_.read_exact(std::span(frame.payload).subspan(have, next - have), left());
    if (!s) return timed_out(s, "reading frame payload");
    have = next;
  }
  return frame;
}

}  // namespace zrep
