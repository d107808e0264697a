// Retention by age: a grid of intervals going back from now, each keeping its oldest
// snapshot(s). Written like zrepl's grid, e.g. "1x1h(keep=all) | 24x1h | 14x1d":
//
//   - terms are separated by '|' and laid back to back, newest first: "1x1h(keep=all)" is the
//     hour before now, "24x1h" the 24 hours before that, "14x1d" the 14 days before those;
//   - "NxD" is N intervals of length D (D: a number with s, m, h, d or w);
//   - "(keep=K)" keeps the K oldest snapshots of each interval, "(keep=all)" every one; without
//     it, one (the oldest) is kept;
//   - a snapshot older than the whole grid is not kept by it (savecount and the safety rules of
//     retention.h still may keep it); one newer than now (a clock set back) counts as now.
//
// Pure and unit-tested (tests/unit/logic/retention_grid_test.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace zrep {

struct GridTerm {
  uint32_t count = 1;                // intervals
  int64_t length = 0;                // seconds each
  std::optional<uint32_t> keep = 1;  // per interval; nullopt: all
  std::string text;                  // as written, normalised ("24x1h", "1x1h(keep=all)")
};

struct RetentionGrid {
  std::vector<GridTerm> terms;
  std::string text() const;  // the terms joined by " | "
};

// "" -> an empty grid (retention by count only). kInvalidArgument, naming the bad term, for
// anything else that is not a grid. At most 64 terms, 10000 intervals in a term, 100 years in
// all.
Result<RetentionGrid> parse_retention_grid(std::string_view text);

struct GridSnapshot {
  int64_t creation = 0;  // unix time
};

// For each snapshot (any order), why the grid keeps it ("24x1h: interval 3 of 24") or "" when
// it does not.
std::vector<std::string> grid_keeps(const RetentionGrid& grid,
                                    const std::vector<GridSnapshot>& snapshots, int64_t now);

}  // namespace zrep
