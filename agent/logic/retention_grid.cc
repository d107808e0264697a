#include "agent/logic/retention_grid.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

namespace zrep {
namespace {

constexpr size_t kMaxTerms = 64;
constexpr uint32_t kMaxIntervals = 10000;
constexpr int64_t kMaxSpan = 100LL * 366 * 86400;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<uint64_t> number(std::string_view s) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return n;
}

std::optional<int64_t> duration(std::string_view s) {
  if (s.size() < 2) return std::nullopt;
  static const std::map<char, int64_t> kUnits{
      {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
  auto unit = kUnits.find(s.back());
  if (unit == kUnits.end()) return std::nullopt;
  auto n = number(s.substr(0, s.size() - 1));
  if (!n || *n == 0 || *n > static_cast<uint64_t>(kMaxSpan / unit->second)) return std::nullopt;
  return static_cast<int64_t>(*n) * unit->second;
}

Result<GridTerm> parse_term(std::string_view raw) {
  const std::string_view t = trim(raw);
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kInvalidArgument,
                      "retention grid term '" + std::string(t) + "': " + why +
                          " (write terms like '24x1h' or '1x1h(keep=all)', joined by '|')");
  };
  std::string_view body = t, keep;
  if (auto open = t.find('('); open != std::string_view::npos) {
    if (t.back() != ')') return bad("the '(' is not closed at its end");
    body = trim(t.substr(0, open));
    keep = trim(t.substr(open + 1, t.size() - open - 2));
  }
  const auto x = body.find('x');
  if (x == std::string_view::npos) return bad("it is not COUNTxDURATION");
  GridTerm term;
  auto count = number(trim(body.substr(0, x)));
  if (!count || *count == 0 || *count > kMaxIntervals) {
    return bad("the count must be a number from 1 to " + std::to_string(kMaxIntervals));
  }
  term.count = static_cast<uint32_t>(*count);
  auto length = duration(trim(body.substr(x + 1)));
  if (!length) return bad("the duration must be a number with s, m, h, d or w, e.g. 1h");
  term.length = *length;
  if (!keep.empty() || body.size() != t.size()) {
    const auto eq = keep.find('=');
    if (eq == std::string_view::npos || trim(keep.substr(0, eq)) != "keep") {
      return bad("only '(keep=N)' or '(keep=all)' may follow");
    }
    const std::string_view k = trim(keep.substr(eq + 1));
    if (k == "all") {
      term.keep.reset();
    } else if (auto n = number(k); n && *n >= 1 && *n <= kMaxIntervals) {
      term.keep = static_cast<uint32_t>(*n);
    } else {
      return bad("keep must be 'all' or a number from 1 to " + std::to_string(kMaxIntervals));
    }
  }
  term.text = std::to_string(term.count) + "x" + std::string(trim(body.substr(x + 1)));
  if (!term.keep) {
    term.text += "(keep=all)";
  } else if (*term.keep != 1) {
    term.text += "(keep=" + std::to_string(*term.keep) + ")";
  }
  return term;
}

}  // namespace

std::string RetentionGrid::text() const {
  std::string out;
  for (const auto& t : terms) out += (out.empty() ? "" : " | ") + t.text;
  return out;
}

Result<RetentionGrid> parse_retention_grid(std::string_view text) {
  RetentionGrid grid;
  if (trim(text).empty()) return grid;
  int64_t span = 0;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t bar = std::min(text.find('|', start), text.size());
    auto term = parse_term(text.substr(start, bar - start));
    if (!term) return term.error();
    span += term->length * term->count;
    if (span > kMaxSpan) {
      return make_error(ErrorCode::kInvalidArgument,
                        "retention grid '" + std::string(text) + "' spans more than 100 years");
    }
    grid.terms.push_back(std::move(*term));
    if (grid.terms.size() > kMaxTerms) {
      return make_error(ErrorCode::kInvalidArgument,
                        "retention grid '" + std::string(text) + "' has more than 64 terms");
    }
    start = bar + 1;
  }
  return grid;
}

std::vector<std::string> grid_keeps(const RetentionGrid& grid,
                                    const std::vector<GridSnapshot>& snapshots, int64_t now) {
  std::vector<std::string> why(snapshots.size());
  // Which interval each snapshot falls in: (term, interval) -> its snapshots.
  std::map<std::pair<size_t, uint32_t>, std::vector<size_t>> buckets;
  for (size_t i = 0; i < snapshots.size(); ++i) {
    const int64_t age = std::max<int64_t>(0, now - snapshots[i].creation);
    int64_t edge = 0;  // age at which the current term starts
    for (size_t t = 0; t < grid.terms.size(); ++t) {
      const GridTerm& term = grid.terms[t];
      const int64_t end = edge + term.length * term.count;
      if (age < end) {
        buckets[{t, static_cast<uint32_t>((age - edge) / term.length)}].push_back(i);
        break;
      }
      edge = end;
    }
  }
  for (auto& [key, members] : buckets) {
    const GridTerm& term = grid.terms[key.first];
    std::stable_sort(members.begin(), members.end(), [&](size_t a, size_t b) {
      return snapshots[a].creation < snapshots[b].creation;
    });
    const size_t keep = term.keep ? std::min<size_t>(*term.keep, members.size()) : members.size();
    for (size_t k = 0; k < keep; ++k) {
      why[members[k]] = "grid " + term.text + ": interval " + std::to_string(key.second + 1) +
                        " of " + std::to_string(term.count);
    }
  }
  return why;
}

}  // namespace zrep
