#include "agent/fault.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace zrep {

void fault_point(const char* step) {
  static const char* armed = std::getenv("ZREP_FAULT_AT");
  if (armed == nullptr || std::strcmp(armed, step) != 0) return;
  spdlog::critical("fault injection: killing this agent at step '{}' (ZREP_FAULT_AT)", step);
  spdlog::default_logger()->flush();
  ::kill(::getpid(), SIGKILL);
  ::pause();
}

}  // namespace zrep
