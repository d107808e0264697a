// The frame codec (proto/frame.h) on what a peer sends: a byte stream read frame by frame, as
// FrameChannel::read_frame does on a session, each frame's payload decoded as its type says.
#include <cstdint>
#include <vector>

#include "proto/data_block.h"
#include "proto/frame.h"
#include "tests/fuzz/fuzz_util.h"

using namespace zrep;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::InputStream in({data, size});
  FrameChannel channel(in);
  std::vector<uint8_t> block;
  for (int frames = 0; frames < 64; ++frames) {
    auto frame = channel.read_frame(std::chrono::milliseconds(1));
    if (!frame) break;
    const uint32_t length = static_cast<uint32_t>(frame->payload.size());
    // What was accepted is what the encoder writes, and stays within the type's limit.
    auto header = encode_frame_header(frame->type, length);
    auto again = decode_frame_header(header);
    ZREP_FUZZ_CHECK(again && again->type == frame->type && again->length == length);
    switch (frame->type) {
      case FrameType::kControl:
        ZREP_FUZZ_CHECK(length <= kMaxControlPayload);
        break;
      case FrameType::kData:
        ZREP_FUZZ_CHECK(length <= kMaxDataPayload);
        if (decode_block(frame->payload, block)) ZREP_FUZZ_CHECK(block.size() <= kMaxBlockSize);
        break;
      case FrameType::kDataEnd: {
        auto end = decode_data_end(frame->payload);
        ZREP_FUZZ_CHECK(end.is_ok());
        ZREP_FUZZ_CHECK(encode_data_end(*end) == frame->payload);
        break;
      }
      case FrameType::kDataAbort:
        ZREP_FUZZ_CHECK(length <= kMaxAbortPayload);
        break;
    }
  }
  // A reply written back goes through the same checks (write_frame validates its header).
  const uint8_t pong[] = {1, 2, 3};
  ZREP_FUZZ_CHECK(channel.write_frame(FrameType::kControl, pong).is_ok());
  if (size > 0) {
    std::string_view reason(reinterpret_cast<const char*>(data), size);
    ZREP_FUZZ_CHECK(write_data_abort(channel, reason).is_ok());
  }
  return 0;
}
