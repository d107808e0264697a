// ProgressTicker: calls a progress callback at most once per interval, plus once at the end, so a
// fast transfer does not flood the caller (the CLI, the status socket) with updates.
#pragma once

#include <chrono>
#include <functional>

namespace zrep {

template <typename Progress>
class ProgressTicker {
 public:
  using Fn = std::function<void(const Progress&)>;

  // `fn` (may be empty) must outlive the ticker.
  ProgressTicker(const Fn& fn, std::chrono::milliseconds interval)
      : fn_(fn), interval_(interval), last_(std::chrono::steady_clock::now()) {}

  // Reports `progress` if an interval has passed since the start or the last report.
  void tick(const Progress& progress) {
    if (!fn_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < interval_) return;
    last_ = now;
    fn_(progress);
  }
  // Reports the final state, however recent the last report was.
  void finish(const Progress& progress) {
    if (fn_) fn_(progress);
  }

 private:
  const Fn& fn_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace zrep
