// A test hook for crash safety: when the daemon's environment has ZREP_FAULT_AT=STEP, reaching
// fault_point("STEP") kills the process at once with SIGKILL (no cleanup, like a power cut or
// the OOM killer). The integration tests use it to stop an agent at every step of a failover.
#pragma once

namespace zrep {

void fault_point(const char* step);

}  // namespace zrep
