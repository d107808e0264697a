// The stream-header check (receiver/stream_header.h) on the first bytes of a peer's send stream.
#include <cstdint>
#include <cstring>

#include "receiver/stream_header.h"
#include "tests/fuzz/fuzz_util.h"

using namespace zrep;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  auto h = parse_stream_header(bytes);
  // The agreed GUIDs: from the header itself (the check must then depend only on the flags), and
  // from the input's last 16 bytes (arbitrary).
  uint64_t to = 0, from = 0;
  if (size >= 16) {
    std::memcpy(&to, data + size - 16, 8);
    std::memcpy(&from, data + size - 8, 8);
  }
  Status arbitrary = check_stream_header(bytes, to, from);
  if (!h) {
    ZREP_FUZZ_CHECK(!arbitrary);
    return 0;
  }
  ZREP_FUZZ_CHECK(h->to_name.size() <= 256);
  Status own = check_stream_header(bytes, h->to_guid, h->from_guid);
  if (own) ZREP_FUZZ_CHECK(!h->compound && !h->clone);
  if (arbitrary) ZREP_FUZZ_CHECK(to == h->to_guid && from == h->from_guid && own);
  return 0;
}
