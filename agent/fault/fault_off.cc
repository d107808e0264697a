// The production build's fault points: no-ops. The production binary (zrep-agent) links this
// file instead of fault.cc, so it holds no code that reads ZREP_FAULT_AT, ZREP_PAUSE_AT or
// ZREP_CLOCK_OFFSET.
#include "agent/fault/fault.h"

#include <ctime>

namespace zrep {

void fault_point(const char* /*step*/) {}

int64_t retention_clock() { return static_cast<int64_t>(::time(nullptr)); }

}  // namespace zrep
