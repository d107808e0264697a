// How far a transfer has come, as the send and the receive pipelines report it.
#pragma once

#include <cstdint>
#include <functional>

namespace zrep {

struct TransferProgress {
  uint64_t raw_bytes = 0;   // bytes of the zfs stream so far
  uint64_t wire_bytes = 0;  // bytes of data-frame payload so far (after lz4)
};
using ProgressFn = std::function<void(const TransferProgress&)>;

}  // namespace zrep
