// How `serve` logs: to stderr, with its own timestamps on a terminal or in a file; under the
// systemd journal (stderr is the stream $JOURNAL_STREAM names) without them, each line
// prefixed with its syslog priority ("<3>" for an error), so `journalctl -p err` finds the
// errors and the journal's own timestamp is the only one.
#pragma once

#include <sys/types.h>

#include <spdlog/spdlog.h>

#include <string>

namespace zrep {

// The syslog priority of a log level: trace and debug 7, info 6, warn 4, err 3, critical 2.
int syslog_priority(spdlog::level::level_enum level);

// Whether $JOURNAL_STREAM ("DEVICE:INODE", set by systemd) names the file whose device and
// inode are `dev` and `ino`.
bool names_journal_stream(const char* journal_stream, dev_t dev, ino_t ino);

// Whether this process's stderr is the systemd journal.
bool stderr_is_journal();

// The formatter for `logger`'s lines: journal style when `journal`, else timestamp, level and
// `host` as before.
void set_log_format(spdlog::logger& logger, const std::string& host, bool journal);

}  // namespace zrep
