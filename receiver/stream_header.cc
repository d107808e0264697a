#include "receiver/stream_header.h"

#include <fmt/format.h>

#include <cstring>

namespace zrep {
namespace {

constexpr uint64_t kBackupMagic = 0x2F5bacbacULL;
constexpr uint32_t kDrrBegin = 0;
constexpr uint64_t kHeaderTypeMask = 0x3;  // DMU_GET_STREAM_HDRTYPE
constexpr uint64_t kCompoundStream = 0x2;  // DMU_COMPOUNDSTREAM
constexpr uint32_t kFlagClone = 0x1;       // DRR_FLAG_CLONE
constexpr uint32_t kObjsetZfs = 2;         // DMU_OST_ZFS

// Reads integers in the byte order the stream was written in (the sender's native one).
class Reader {
 public:
  Reader(std::span<const uint8_t> b, bool swap) : b_(b), swap_(swap) {}
  uint32_t u32(size_t off) const {
    uint32_t v;
    std::memcpy(&v, b_.data() + off, sizeof v);
    return swap_ ? __builtin_bswap32(v) : v;
  }
  uint64_t u64(size_t off) const {
    uint64_t v;
    std::memcpy(&v, b_.data() + off, sizeof v);
    return swap_ ? __builtin_bswap64(v) : v;
  }

 private:
  std::span<const uint8_t> b_;
  bool swap_;
};

}  // namespace

Result<StreamHeader> parse_stream_header(std::span<const uint8_t> bytes) {
  if (bytes.size() < kStreamHeaderSize) {
    return make_error(
        ErrorCode::kProtocol,
        fmt::format("the send stream is {} bytes long, too short for its header", bytes.size()));
  }
  uint64_t magic;
  std::memcpy(&magic, bytes.data() + 8, sizeof magic);
  const bool swap = magic == __builtin_bswap64(kBackupMagic);
  if (magic != kBackupMagic && !swap) {
    return make_error(ErrorCode::kProtocol, "the data is not a zfs send stream (bad magic)");
  }
  Reader r(bytes, swap);
  if (r.u32(0) != kDrrBegin) {
    return make_error(ErrorCode::kProtocol, "the send stream does not start with a BEGIN record");
  }
  StreamHeader h;
  h.compound = (r.u64(16) & kHeaderTypeMask) == kCompoundStream;
  h.objset_type = r.u32(32);
  h.clone = (r.u32(36) & kFlagClone) != 0;
  h.to_guid = r.u64(40);
  h.from_guid = r.u64(48);
  const char* name = reinterpret_cast<const char*>(bytes.data() + 56);
  h.to_name.assign(name, strnlen(name, 256));
  return h;
}

Status check_stream_header(std::span<const uint8_t> bytes, uint64_t to_guid, uint64_t from_guid) {
  auto h = parse_stream_header(bytes);
  if (!h) return h.error();
  auto refuse = [](const std::string& why) {
    return make_error(ErrorCode::kPermissionDenied, "refusing the send stream: " + why);
  };
  if (h->compound) return refuse("it is a compound stream (properties or child datasets)");
  if (h->clone) return refuse("it is a clone stream");
  if (h->objset_type != kObjsetZfs) return refuse("it is not a filesystem stream");
  if (h->from_guid != from_guid) {
    return refuse(fmt::format("it starts from snapshot GUID {}, not the agreed base {}",
                              h->from_guid, from_guid));
  }
  if (h->to_guid != to_guid) {
    return refuse(
        fmt::format("it carries snapshot GUID {}, not the agreed {}", h->to_guid, to_guid));
  }
  return Status::ok();
}

}  // namespace zrep
