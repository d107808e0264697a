// The first record of a `zfs send` stream (DRR_BEGIN), parsed and checked before a byte of the
// stream reaches `zfs recv`. Pure, unit-tested.
//
// A peer may only send what it asked to send: one plain filesystem substream (no compound
// package, so no properties, children or mountpoints ride along; no clone), from the agreed
// incremental base (or full), to the agreed snapshot.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/result.h"

namespace zrep {

// drr_type, drr_payloadlen, then drr_begin up to and including drr_toname[256].
inline constexpr size_t kStreamHeaderSize = 8 + 48 + 256;

struct StreamHeader {
  bool compound = false;  // DMU_COMPOUNDSTREAM: a package (-R, -p, -I on OpenZFS)
  bool clone = false;     // DRR_FLAG_CLONE
  uint32_t objset_type = 0;
  uint64_t to_guid = 0;
  uint64_t from_guid = 0;
  std::string to_name;
};

// kProtocol when the bytes are not a DRR_BEGIN record (either byte order).
Result<StreamHeader> parse_stream_header(std::span<const uint8_t> bytes);

// Checks a stream is one plain filesystem substream from `from_guid` (0: full) to `to_guid`.
Status check_stream_header(std::span<const uint8_t> bytes, uint64_t to_guid, uint64_t from_guid);

}  // namespace zrep
