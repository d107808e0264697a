// The data block decoder (proto/data_block.h: stored or lz4) on a peer's data frame payload.
#include <cstdint>
#include <vector>

#include "proto/data_block.h"
#include "tests/fuzz/fuzz_util.h"

using namespace zrep;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> raw;
  Status s = decode_block({data, size}, raw);
  if (!s) return 0;
  ZREP_FUZZ_CHECK(raw.size() <= kMaxBlockSize);
  // What decodes re-encodes (both ways) and decodes to the same bytes.
  for (bool compress : {false, true}) {
    std::vector<uint8_t> encoded, back;
    encode_block(raw, compress, encoded);
    ZREP_FUZZ_CHECK(decode_block(encoded, back).is_ok());
    ZREP_FUZZ_CHECK(back == raw);
  }
  return 0;
}
