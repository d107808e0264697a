// zrep-agent: the daemon and its command-line client in one binary.
#include "agent/cli/cli.h"

int main(int argc, char** argv) { return zrep::run_cli(argc, argv); }
