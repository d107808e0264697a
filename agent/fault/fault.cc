#include "agent/fault/fault.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>

namespace zrep {

void fault_point(const char* step) {
  static const char* kill_at = std::getenv("ZREP_FAULT_AT");
  static const char* pause_at = std::getenv("ZREP_PAUSE_AT");
  if (pause_at != nullptr) {
    std::string spec(pause_at);
    auto colon = spec.rfind(':');
    if (colon != std::string::npos && spec.substr(0, colon) == step) {
      int secs = std::atoi(spec.c_str() + colon + 1);
      spdlog::warn("fault injection: pausing {} s at step '{}' (ZREP_PAUSE_AT)", secs, step);
      std::this_thread::sleep_for(std::chrono::seconds(secs));
    }
  }
  if (kill_at == nullptr || std::strcmp(kill_at, step) != 0) return;
  spdlog::critical("fault injection: killing this agent at step '{}' (ZREP_FAULT_AT)", step);
  spdlog::default_logger()->flush();
  ::kill(::getpid(), SIGKILL);
  ::pause();
}

int64_t retention_clock() {
  static const int64_t offset = [] {
    const char* v = std::getenv("ZREP_CLOCK_OFFSET");
    return v == nullptr ? 0 : std::strtoll(v, nullptr, 10);
  }();
  return static_cast<int64_t>(::time(nullptr)) + offset;
}

}  // namespace zrep
