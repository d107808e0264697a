// Send and receive streams: starting zfs send and zfs recv (argv from SendSpec and RecvSpec),
// waiting for them (finish), resumable receives (tokens, recv -A), and stream_size.
#include <unistd.h>

#include <cctype>
#include <cerrno>

#include <fmt/format.h>

#include <string>
#include <vector>

#include "agent/logic/zfs_names.h"
#include "agent/zfs/zfs.h"
#include "agent/zfs/zfs_internal.h"
#include "agent/zfs/zfs_parse.h"

namespace zrep {
namespace {

using std::chrono::milliseconds;
using zfs_internal::failure;
using zfs_internal::seconds_text;
using zfs_internal::spawn_failure;

}  // namespace

Result<Child> Zfs::start_send(const SendSpec& spec) const {
  ZREP_RETURN_IF_ERROR(validate_snapshot_name(spec.snapshot));
  if (spec.from) {
    ZREP_RETURN_IF_ERROR(spec.from->find('#') != std::string::npos
                             ? validate_bookmark_name(*spec.from)
                             : validate_snapshot_name(*spec.from));
  }
  if (spec.raw && !features_.raw_send) {
    return make_error(ErrorCode::kInvalidArgument,
                      "raw sends (-w) need OpenZFS; this ZFS is " + features_.version);
  }
  if (spec.compressed && !features_.compressed_send) {
    return make_error(ErrorCode::kInvalidArgument,
                      "compressed sends (-c) need OpenZFS; this ZFS is " + features_.version);
  }
  std::vector<std::string> argv{options_.zfs_program, "send"};
  if (!spec.resume_token.empty()) {
    // The token carries the snapshot, the base and the flags of the interrupted stream.
    if (!features_.resumable_receive) {
      return make_error(ErrorCode::kInvalidArgument,
                        "resuming a send (-t) needs OpenZFS; this ZFS is " + features_.version);
    }
    ZREP_RETURN_IF_ERROR(validate_resume_token(spec.resume_token));
    argv.insert(argv.end(), {"-t", spec.resume_token});
    auto child = Child::spawn(argv, StdioMode::kNull, StdioMode::kPipe);
    if (!child) return spawn_failure(child.error());
    return child;
  }
  if (spec.raw) argv.push_back("-w");
  if (spec.compressed) argv.push_back("-c");
  if (spec.from) {
    argv.push_back(spec.intermediates ? "-I" : "-i");
    argv.push_back(*spec.from);
  }
  argv.push_back(spec.snapshot);
  auto child = Child::spawn(argv, StdioMode::kNull, StdioMode::kPipe);
  if (!child) return spawn_failure(child.error());
  return child;
}

Result<Child> Zfs::start_recv(const RecvSpec& spec) const {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(spec.target));
  if (spec.resumable && !features_.resumable_receive) {
    return make_error(ErrorCode::kInvalidArgument,
                      "resumable receive (-s) needs OpenZFS; this ZFS is " + features_.version);
  }
  if ((spec.no_mount || !spec.props.empty()) && !features_.recv_options) {
    return make_error(ErrorCode::kInvalidArgument,
                      "recv -u and -o need OpenZFS; this ZFS is " + features_.version);
  }
  std::vector<std::string> argv{options_.zfs_program, "recv"};
  if (spec.force) argv.push_back("-F");
  if (spec.resumable) argv.push_back("-s");
  if (spec.no_mount) argv.push_back("-u");
  for (const auto& [prop, value] : spec.props) {
    ZREP_RETURN_IF_ERROR(validate_property_name(prop));
    ZREP_RETURN_IF_ERROR(validate_property_value(prop, value));
    argv.insert(argv.end(), {"-o", prop + "=" + value});
  }
  argv.push_back(spec.target);
  auto child = Child::spawn(argv, StdioMode::kPipe, StdioMode::kNull);
  if (!child) return spawn_failure(child.error());
  return child;
}

Status Zfs::finish(Child& child, const std::string& what, milliseconds timeout) const {
  ProcessOutput out = child.wait(timeout);
  if (out.timed_out) {
    std::string said = condense_zfs_stderr(out.err);
    return make_error(ErrorCode::kTimeout,
                      fmt::format("{}: zfs did not finish within {} and was killed{}{}", what,
                                  seconds_text(timeout), said.empty() ? "" : "; it said: ", said));
  }
  if (out.exit_code != 0) return failure(out, what);
  return Status::ok();
}

Result<uint64_t> Zfs::stream_size(const std::string& from, const std::string& to) const {
  SendSpec spec;
  spec.snapshot = to;
  spec.from = from;
  spec.intermediates = false;
  auto child = start_send(spec);
  if (!child) return child.error();
  uint64_t total = 0;
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = ::read(child->stdout_fd(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    total += static_cast<uint64_t>(n);
  }
  ZREP_RETURN_IF_ERROR(finish(*child, "zfs send -i " + from + " " + to, options_.destroy_timeout));
  return total;
}

Result<std::string> Zfs::resume_token(const std::string& fs) const {
  if (!features_.resumable_receive) return std::string();
  auto p = get_props(fs, {"receive_resume_token"});
  if (!p) return p.error();
  auto it = p->find("receive_resume_token");
  if (it == p->end() || it->second == "-") return std::string();
  ZREP_RETURN_IF_ERROR(validate_resume_token(it->second));
  return it->second;
}

Result<std::string> Zfs::resume_token_contents(const std::string& token) const {
  if (!features_.resumable_receive) {
    return make_error(ErrorCode::kInvalidArgument,
                      "resume tokens need OpenZFS; this ZFS is " + features_.version);
  }
  ZREP_RETURN_IF_ERROR(validate_resume_token(token));
  auto out = zfs({"send", "-nvt", token});
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot read the resume token");
  return out->out;
}

Status Zfs::abort_partial_receive(const std::string& fs) const {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  auto out = zfs({"recv", "-A", fs});
  if (!out) return out.error();
  if (out->exit_code != 0) return failure(*out, "cannot discard the partial receive into " + fs);
  return Status::ok();
}

Status validate_resume_token(const std::string& token) {
  bool ok = token.size() >= 3 && token.size() <= 65536 && token[0] != '-';
  for (char c : token) {
    ok = ok && (std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == '-');
  }
  if (!ok) {
    return make_error(ErrorCode::kInvalidArgument,
                      "not a receive resume token: '" + token.substr(0, 40) + "'");
  }
  return Status::ok();
}

}  // namespace zrep
