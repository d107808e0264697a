#include "agent/daemon/log_format.h"

#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/pattern_formatter.h>

#include <cstdlib>
#include <memory>
#include <string_view>

namespace zrep {
namespace {

// The %* flag: the line's syslog priority.
class PriorityFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string text = std::to_string(syslog_priority(msg.level));
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<PriorityFlag>();
  }
};

}  // namespace

int syslog_priority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::critical:
      return 2;
    case spdlog::level::err:
      return 3;
    case spdlog::level::warn:
      return 4;
    case spdlog::level::info:
      return 6;
    default:
      return 7;
  }
}

bool names_journal_stream(const char* journal_stream, dev_t dev, ino_t ino) {
  if (journal_stream == nullptr) return false;
  const std::string_view text(journal_stream);
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) return false;
  const std::string dev_text(text.substr(0, colon)), ino_text(text.substr(colon + 1));
  char* end = nullptr;
  const unsigned long long want_dev = std::strtoull(dev_text.c_str(), &end, 10);
  if (*end != '\0') return false;
  const unsigned long long want_ino = std::strtoull(ino_text.c_str(), &end, 10);
  if (*end != '\0') return false;
  return want_dev == static_cast<unsigned long long>(dev) &&
         want_ino == static_cast<unsigned long long>(ino);
}

bool stderr_is_journal() {
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return names_journal_stream(std::getenv("JOURNAL_STREAM"), st.st_dev, st.st_ino);
}

void set_log_format(spdlog::logger& logger, const std::string& host, bool journal) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (journal) {
    formatter->add_flag<PriorityFlag>('*').set_pattern("<%*>%l [" + host + "] %v");
  } else {
    formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [" + host + "] %v");
  }
  logger.set_formatter(std::move(formatter));
}

}  // namespace zrep
