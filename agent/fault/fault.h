// Test hooks for crash safety and concurrency, read from the daemon's environment:
//   ZREP_FAULT_AT=STEP        reaching fault_point("STEP") kills the process at once with
//                             SIGKILL (no cleanup, like a power cut or the OOM killer);
//   ZREP_PAUSE_AT=STEP:SECS   reaching fault_point("STEP") sleeps SECS seconds first (to hold
//                             a lock while a test tries a concurrent operation);
//   ZREP_CLOCK_OFFSET=SECS    retention_clock() runs SECS seconds ahead (retention by age is
//                             tested on snapshots made seconds apart, as if days passed).
// The integration tests use them to stop an agent at every step of a failover, and a
// receiving agent once 16 MiB of a stream arrived ("received-16m"). Unset, a
// fault point costs one string comparison.
//
// The hooks exist only in the test binary, zrep-agent-test (links fault.cc), which the
// integration tests run. The production binary, zrep-agent, links fault_off.cc: there a fault
// point is an empty function and none of the variables has any effect.
#pragma once

#include <cstdint>

namespace zrep {

void fault_point(const char* step);

// The unix time retention by age measures from (agent/logic/retention_grid.h): the wall clock;
// in the test binary shifted by ZREP_CLOCK_OFFSET.
int64_t retention_clock();

}  // namespace zrep
