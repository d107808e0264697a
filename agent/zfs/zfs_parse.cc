#include "agent/zfs/zfs_parse.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>

namespace zrep {
namespace {

constexpr size_t kMaxPropertyNameLength = 255;
constexpr size_t kMaxPropertyValueLength = 4096;
constexpr size_t kMaxMessageLength = 600;

// The native properties zrep-agent reads or sets. Anything else must be a user property.
// Space-separated, with a space at both ends, for a whole-word search.
constexpr std::string_view kNativeProperties =
    " "
    "available used referenced logicalused logicalreferenced usedbysnapshots usedbydataset "
    "usedbychildren usedbyrefreservation compressratio refcompressratio creation createtxg "
    "guid type origin mounted mountpoint canmount readonly compression recordsize atime "
    "quota refquota reservation refreservation snapdir written receive_resume_token "
    "encryption keystatus keylocation encryptionroot name userrefs defer_destroy version checksum "
    "sync copies dedup setuid devices exec ";

// Hostile text (from zfs, which echoes our arguments, or a user) must not put escape sequences
// into terminals or logs.
std::string printable(std::string_view s, size_t max_shown) {
  std::string out;
  for (char c : s.substr(0, max_shown)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (s.size() > max_shown) out += "...";
  return out;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

bool zfs_unreachable(std::string_view lower) {
  for (std::string_view marker :
       {"failed to initialize", "zfs-fuse daemon", "/dev/zfs", "modules are not loaded",
        "modules cannot be auto-loaded", "modprobe zfs", "libzfs"}) {
    if (contains(lower, marker)) return true;
  }
  return false;
}

std::string_view first_line(std::string_view s) {
  s = s.substr(0, s.find('\n'));
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}

// Splits `line` at its first `N - 1` tabs; the last field keeps any further tabs.
template <size_t N>
std::optional<std::array<std::string_view, N>> split_tabs(std::string_view line) {
  std::array<std::string_view, N> fields;
  for (size_t i = 0; i + 1 < N; ++i) {
    size_t tab = line.find('\t');
    if (tab == std::string_view::npos) return std::nullopt;
    fields[i] = line.substr(0, tab);
    line.remove_prefix(tab + 1);
  }
  fields[N - 1] = line;
  return fields;
}

// Splits a line ending in a source column: `N` leading fields, then the value (which may itself
// hold tabs), then the source (which never does).
template <size_t N>
std::optional<std::array<std::string_view, N + 2>> split_with_source(std::string_view line) {
  size_t last = line.rfind('\t');
  if (last == std::string_view::npos) return std::nullopt;
  auto head = split_tabs<N + 1>(line.substr(0, last));
  if (!head) return std::nullopt;
  std::array<std::string_view, N + 2> fields;
  std::copy(head->begin(), head->end(), fields.begin());
  fields[N + 1] = line.substr(last + 1);
  return fields;
}

// The value a property really has; nullopt when unset.
std::optional<std::string> effective_value(std::string_view prop, std::string_view value,
                                           std::string_view source, bool legacy) {
  if (legacy && prop == "readonly" && source == "temporary" && value == "off") return "on";
  if (value == "-") return std::nullopt;
  return std::string(value);
}

template <typename Fn>
Status for_each_line(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty()) ZREP_RETURN_IF_ERROR(fn(line));
  }
  return Status::ok();
}

Error unexpected_output(std::string_view command, std::string_view line) {
  return make_error(ErrorCode::kZfs, fmt::format("unexpected output from '{}': '{}'", command,
                                                 printable(line, 200)));
}

}  // namespace

Result<ZfsFeatures> parse_zfs_version(const ProcessOutput& out) {
  if (out.exit_code == 0) {
    std::string_view line = first_line(out.out);
    int major = 0, minor = 0;
    std::string_view rest = line.substr(std::min<size_t>(4, line.size()));
    auto [p1, e1] = std::from_chars(rest.data(), rest.data() + rest.size(), major);
    bool ok = line.starts_with("zfs-") && e1 == std::errc() && p1 != rest.data() &&
              p1 < rest.data() + rest.size() && *p1 == '.';
    if (ok) {
      auto [p2, e2] = std::from_chars(p1 + 1, rest.data() + rest.size(), minor);
      ok = e2 == std::errc() && p2 != p1 + 1;
    }
    if (!ok) return unexpected_output("zfs version", line);
    ZfsFeatures f;
    f.dialect = ZfsFeatures::Dialect::kOpenZfs;
    // "zfs-2.3.2-1": the release suffix after the version says nothing about features.
    f.version = std::string(line.substr(0, line.find('-', 4)));
    f.major = major;
    f.minor = minor;
    // `zfs version` exists since OpenZFS 0.8, which already has every feature below.
    f.list_parsable = f.holds = f.bookmarks = f.resumable_receive = true;
    f.raw_send = f.compressed_send = f.written_property = f.send_size_estimate = true;
    f.recv_options = true;
    return f;
  }
  std::string lower = lowercase(out.err + "\n" + out.out);
  if (zfs_unreachable(lower)) {
    return make_error(ErrorCode::kUnavailable,
                      "ZFS is not running (" + condense_zfs_stderr(out.err) +
                          "); start it: for zfs-fuse run 'zfs-fuse' or 'systemctl start "
                          "zfs-fuse', for OpenZFS load the module with 'modprobe zfs'");
  }
  if (contains(lower, "permission denied")) {
    return make_error(ErrorCode::kPermissionDenied,
                      "zfs refused: " + condense_zfs_stderr(out.err) + " (run zrep-agent as root)");
  }
  if (contains(lower, "unrecognized command")) {
    ZfsFeatures f;  // every feature off: the zfs-fuse / pool version 23 dialect
    f.version = "legacy (no 'zfs version')";
    return f;
  }
  return make_error(ErrorCode::kZfs, fmt::format("'zfs version' failed (exit {}): {}",
                                                 out.exit_code, condense_zfs_stderr(out.err)));
}

std::optional<uint64_t> parse_u64(std::string_view text) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<int64_t> parse_i64(std::string_view text) {
  std::string_view digits = text.starts_with('-') ? text.substr(1) : text;
  if (digits.empty() || digits.front() < '0' || digits.front() > '9') return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

Result<std::map<std::string, std::string>> parse_props(std::string_view out, bool legacy) {
  std::map<std::string, std::string> props;
  Status s = for_each_line(out, [&](std::string_view line) -> Status {
    auto fields = split_with_source<1>(line);
    if (!fields) return unexpected_output("zfs get", line);
    auto [prop, value, source] = *fields;
    // zrep's own properties count only where they were set: a filesystem created below a
    // replicated one inherits them, and must not look like a master or a replica.
    if (prop.starts_with("zrep:") && source != "local") return Status::ok();
    if (auto v = effective_value(prop, value, source, legacy)) props.emplace(prop, *v);
    return Status::ok();
  });
  if (!s) return s;
  return props;
}

Result<DatasetProps> parse_local_props(std::string_view out, bool legacy) {
  DatasetProps found;
  Status s = for_each_line(out, [&](std::string_view line) -> Status {
    auto fields = split_with_source<2>(line);
    if (!fields) return unexpected_output("zfs get", line);
    auto [name, prop, value, source] = *fields;
    if (name.find_first_of("@#") != std::string_view::npos) return Status::ok();
    if (source != "local" && !(legacy && prop == "readonly" && source == "temporary")) {
      return Status::ok();
    }
    if (auto v = effective_value(prop, value, source, legacy))
      found[std::string(name)][std::string(prop)] = *v;
    return Status::ok();
  });
  if (!s) return s;
  return found;
}

Result<std::vector<SnapshotInfo>> parse_snapshot_listing(std::string_view fs,
                                                         std::string_view out) {
  const std::string prefix = std::string(fs) + "@";
  std::map<std::string, SnapshotInfo> by_name;
  std::map<std::string, int> seen;  // which of guid (1), createtxg (2) each snapshot had
  Status s = for_each_line(out, [&](std::string_view line) -> Status {
    auto fields = split_tabs<3>(line);
    if (!fields) return unexpected_output("zfs get", line);
    auto [name, prop, value] = *fields;
    if (!name.starts_with(prefix)) return Status::ok();  // fs itself, children, bookmarks
    SnapshotInfo& info = by_name[std::string(name)];
    info.name = name;
    if (prop == "zrep:sent") {
      if (value == "-") return Status::ok();
      info.sent = parse_i64(value);
      if (!info.sent) {
        return make_error(ErrorCode::kZfs,
                          fmt::format("snapshot {} has zrep:sent='{}', not a unix time; fix it "
                                      "with 'zfs set zrep:sent=<time>' or 'zfs inherit zrep:sent'",
                                      printable(name, 300), printable(value, 80)));
      }
      return Status::ok();
    }
    if (prop == "creation") {
      auto when = parse_i64(value);
      if (!when) return unexpected_output("zfs get", line);
      info.creation = *when;
      return Status::ok();
    }
    std::optional<uint64_t> number = parse_u64(value);
    if (!number || (prop != "guid" && prop != "createtxg"))
      return unexpected_output("zfs get", line);
    (prop == "guid" ? info.guid : info.createtxg) = *number;
    seen[info.name] |= prop == "guid" ? 1 : 2;
    return Status::ok();
  });
  if (!s) return s;
  std::vector<SnapshotInfo> snapshots;
  for (auto& [name, info] : by_name) {
    if (seen[name] != 3) {
      return make_error(ErrorCode::kZfs,
                        "zfs get did not report guid and createtxg of " + printable(name, 300));
    }
    snapshots.push_back(std::move(info));
  }
  std::stable_sort(
      snapshots.begin(), snapshots.end(),
      [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.createtxg < b.createtxg; });
  return snapshots;
}

Status validate_property_name(std::string_view prop) {
  auto invalid = [&](std::string_view why) -> Status {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("invalid property name '{}': {}", printable(prop, 80), why));
  };
  if (prop.empty()) return invalid("the name is empty");
  if (prop.size() > kMaxPropertyNameLength) return invalid("too long");
  if (prop.front() < 'a' || prop.front() > 'z') return invalid("it must start with a letter");
  for (char c : prop) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == ':' ||
              c == '.' || c == '-';
    if (!ok) return invalid("only lowercase letters, digits, '_', ':', '.' and '-' are allowed");
  }
  if (contains(prop, ":")) return Status::ok();
  if (contains(kNativeProperties, " " + std::string(prop) + " ")) return Status::ok();
  return invalid("not a property zrep-agent uses (user properties contain ':')");
}

Status validate_property_value(std::string_view prop, std::string_view value) {
  auto invalid = [&](std::string_view why) -> Status {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("invalid value '{}' for property {}: {}", printable(value, 80),
                                  printable(prop, 80), why));
  };
  if (value.empty()) return invalid("empty (inherit the property to clear it)");
  if (value.size() > kMaxPropertyValueLength) return invalid("too long");
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return invalid("control characters are not allowed");
  }
  return Status::ok();
}

std::string condense_zfs_stderr(std::string_view err) {
  std::string out;
  bool space = false;
  for (size_t pos = 0; pos < err.size();) {
    size_t nl = err.find('\n', pos);
    std::string_view line = err.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? err.size() : nl + 1;
    size_t text = line.find_first_not_of(" \t");
    if (text != std::string_view::npos && line.substr(text).starts_with("usage:")) break;
    for (char c : line) {
      if (c == ' ' || c == '\t' || c == '\r') {
        space = !out.empty();
      } else {
        if (space) out += ' ';
        space = false;
        out += c;
      }
    }
    space = !out.empty();
  }
  return printable(out, kMaxMessageLength);
}

ErrorCode classify_zfs_error(const std::string& stderr_text) {
  std::string e = lowercase(condense_zfs_stderr(stderr_text));
  // Order matters: "destination ... has been modified" and "... does not exist" both mention
  // the destination, and "already exists" must not be read as "exists".
  if (zfs_unreachable(e)) return ErrorCode::kUnavailable;
  if (contains(e, "has been modified")) return ErrorCode::kModified;
  if (contains(e, "out of space") || contains(e, "no space left") ||
      contains(e, "quota exceeded")) {
    return ErrorCode::kNoSpace;
  }
  if (contains(e, "already exists")) return ErrorCode::kAlreadyExists;
  if (contains(e, "does not exist") || contains(e, "no such pool") ||
      contains(e, "could not find any snapshots")) {  // OpenZFS: destroy of a missing snapshot
    return ErrorCode::kNotFound;
  }
  size_t dest = e.find("destination");
  if (dest != std::string::npos && e.find(" exists", dest) != std::string::npos) {
    return ErrorCode::kAlreadyExists;
  }
  if (contains(e, "permission denied")) return ErrorCode::kPermissionDenied;
  return ErrorCode::kZfs;
}

namespace {

std::string unescape_mount_field(std::string_view f) {
  std::string out;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == '\\' && f.size() - i >= 4 && f[i + 1] >= '0' && f[i + 1] <= '3' &&
        f[i + 2] >= '0' && f[i + 2] <= '7' && f[i + 3] >= '0' && f[i + 3] <= '7') {
      out.push_back(
          static_cast<char>((f[i + 1] - '0') * 64 + (f[i + 2] - '0') * 8 + (f[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(f[i]);
    }
  }
  return out;
}

}  // namespace

std::optional<std::vector<std::string>> mount_options_at(std::string_view proc_mounts,
                                                         std::string_view mountpoint) {
  std::optional<std::vector<std::string>> found;
  size_t pos = 0;
  while (pos < proc_mounts.size()) {
    size_t nl = proc_mounts.find('\n', pos);
    std::string_view line =
        proc_mounts.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? proc_mounts.size() : nl + 1;
    std::vector<std::string_view> fields;
    size_t f = 0;
    while (f < line.size() && fields.size() < 4) {
      size_t sp = line.find(' ', f);
      fields.push_back(
          line.substr(f, sp == std::string_view::npos ? std::string_view::npos : sp - f));
      f = sp == std::string_view::npos ? line.size() : sp + 1;
    }
    if (fields.size() < 4 || unescape_mount_field(fields[1]) != mountpoint) continue;
    std::vector<std::string> opts;
    size_t o = 0;
    std::string_view all = fields[3];
    while (o <= all.size()) {
      size_t comma = all.find(',', o);
      opts.emplace_back(
          all.substr(o, comma == std::string_view::npos ? std::string_view::npos : comma - o));
      if (comma == std::string_view::npos) break;
      o = comma + 1;
    }
    found = std::move(opts);
  }
  return found;
}

}  // namespace zrep
