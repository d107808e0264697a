// The `zrep-agent` command line: `serve` runs the daemon; every other command (but `pki`) is a
// client of the local daemon's control socket.
#pragma once

namespace zrep {

// Exit codes: 0 done, 1 the operation failed, 2 usage error, 3 the daemon is not running.
int run_cli(int argc, char** argv);

}  // namespace zrep
