#include "agent/logic/zfs_names.h"

#include <fmt/format.h>

#include <charconv>

namespace zrep {
namespace {

bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool is_name_char(char c) {
  return is_ascii_letter(c) || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
         c == '-';
}

// Names in messages come from users and peers: no control characters or escape sequences may
// reach a terminal or a log line, and a huge name is cut short.
std::string printable(std::string_view s) {
  constexpr size_t kMaxShown = 80;
  std::string out;
  for (char c : s.substr(0, kMaxShown)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f) ? '?' : c;
  }
  if (s.size() > kMaxShown) out += "...";
  return out;
}

Error invalid(std::string_view kind, std::string_view name, std::string_view why) {
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("invalid {} name '{}': {}", kind, printable(name), why));
}

// Why a component (a path element or a snapshot part) is unacceptable; empty when it is fine.
std::string component_problem(std::string_view c) {
  if (c.empty()) return "empty name component (a leading, trailing or doubled '/')";
  if (c == "." || c == "..") return "'.' and '..' are not allowed as name components";
  if (c.front() == '-') return "a name component may not start with '-'";
  for (char ch : c) {
    if (!is_name_char(ch)) {
      return fmt::format("character '{}' is not allowed (use letters, digits, '_', '.', ':', '-')",
                         printable(std::string_view(&ch, 1)));
    }
  }
  return {};
}

std::string dataset_problem(std::string_view name) {
  if (name.find('@') != std::string_view::npos) return "a dataset name may not contain '@'";
  size_t start = 0;
  while (true) {
    size_t slash = name.find('/', start);
    std::string problem = component_problem(name.substr(start, slash - start));
    if (!problem.empty()) return problem;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (!is_ascii_letter(name.front())) return "the pool name must start with a letter";
  return {};
}

std::string length_problem(std::string_view name) {
  if (name.empty()) return "the name is empty";
  if (name.size() > kMaxDatasetNameLength) {
    return fmt::format("longer than {} characters", kMaxDatasetNameLength);
  }
  return {};
}

}  // namespace

Status validate_dataset_name(std::string_view name) {
  std::string problem = length_problem(name);
  if (problem.empty()) problem = dataset_problem(name);
  if (!problem.empty()) return invalid("dataset", name, problem);
  return Status::ok();
}

Status validate_snapshot_name(std::string_view name) {
  std::string problem = length_problem(name);
  size_t at = name.find('@');
  if (problem.empty() && (at == std::string_view::npos || name.find('@', at + 1) != name.npos)) {
    problem = "a snapshot name has exactly one '@' (dataset@snapshot)";
  }
  if (problem.empty()) problem = dataset_problem(name.substr(0, at));
  if (problem.empty()) {
    std::string_view snap = name.substr(at + 1);
    problem = snap.empty() ? "the snapshot part after '@' is empty" : component_problem(snap);
  }
  if (!problem.empty()) return invalid("snapshot", name, problem);
  return Status::ok();
}

Status validate_bookmark_name(std::string_view name) {
  std::string as_snapshot(name);
  auto hash = as_snapshot.find('#');
  if (hash == std::string::npos || as_snapshot.find('@') != std::string::npos) {
    return invalid("bookmark", name, "a bookmark name has exactly one '#' (dataset#bookmark)");
  }
  as_snapshot[hash] = '@';
  if (Status s = validate_snapshot_name(as_snapshot); !s) {
    return invalid("bookmark", name, s.message());
  }
  return Status::ok();
}

std::string_view dataset_of(std::string_view snapshot_name) {
  return snapshot_name.substr(0, snapshot_name.find('@'));
}

std::string_view snap_part_of(std::string_view snapshot_name) {
  size_t at = snapshot_name.find('@');
  return at == std::string_view::npos ? std::string_view() : snapshot_name.substr(at + 1);
}

bool dataset_within(std::string_view dataset, std::string_view root) {
  if (root.empty() || !dataset.starts_with(root)) return false;
  return dataset.size() == root.size() || dataset[root.size()] == '/';
}

std::optional<uint32_t> parse_zrep_snap(std::string_view snap_part) {
  constexpr std::string_view kPrefix = "zrep_";
  constexpr size_t kDigits = 6;
  if (!snap_part.starts_with(kPrefix) || snap_part.size() != kPrefix.size() + kDigits) {
    return std::nullopt;
  }
  std::string_view hex = snap_part.substr(kPrefix.size());
  // Lowercase only: "zrep_00002A" is not a name zrep made, and two spellings of one sequence
  // number would confuse retention.
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  uint32_t seq = 0;
  std::from_chars(hex.data(), hex.data() + hex.size(), seq, 16);
  return seq;
}

std::string format_zrep_snap(uint32_t seq) { return fmt::format("zrep_{:06x}", seq); }

}  // namespace zrep
