// The production build's fault points: no-ops. The production binary (zrep-agent) links this
// file instead of fault.cc, so it holds no code that reads ZREP_FAULT_AT or ZREP_PAUSE_AT.
#include "agent/fault/fault.h"

namespace zrep {

void fault_point(const char* /*step*/) {}

}  // namespace zrep
