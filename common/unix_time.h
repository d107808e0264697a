// The wall clock as the zrep properties record it: whole seconds since the Unix epoch.
#pragma once

#include <chrono>
#include <cstdint>

namespace zrep {

inline int64_t unix_time(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

inline int64_t unix_now() { return unix_time(std::chrono::system_clock::now()); }

}  // namespace zrep
