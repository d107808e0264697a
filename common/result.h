// Status and Result<T>: errors as values, each carrying a message a human can act on.
//
// Every operation that touches ZFS, files, processes or the network returns one of these.
// A Status/Result is a plain value: copy it, move it, read it from any thread.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace zrep {

enum class ErrorCode {
  kInvalidArgument,   // bad input from a user or a peer
  kNotFound,          // dataset, snapshot, peer, file does not exist
  kAlreadyExists,     // would overwrite something
  kPermissionDenied,  // authorization or certificate refused
  kUnavailable,       // peer or daemon unreachable, connection lost
  kTimeout,           // an operation took longer than its limit
  kProtocol,          // malformed or unexpected message/frame
  kZfs,               // a zfs command failed (message carries its stderr)
  kModified,          // destination was modified since its last snapshot
  kNoSpace,           // pool or disk full
  kCorrupt,           // checksum or GUID mismatch
  kConflict,          // state does not allow the operation (not master, demoted, ...)
  kBusy,              // another operation holds the filesystem's lock, here or on the peer
  kSplitBrain,        // both hosts claim to be the master at one epoch: neither sends
  kInternal,          // a bug or an unexpected system error
};

std::string_view error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error e) : error_(std::move(e)) {}  // NOLINT: implicit on purpose
  static Status ok() { return Status(); }

  bool is_ok() const { return !error_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  const Error& error() const {
    assert(error_);
    return *error_;
  }
  ErrorCode code() const { return error().code; }
  const std::string& message() const { return error().message; }
  // "what happened: why" — prefixes context to an error, keeps ok as ok.
  Status with_context(std::string_view context) const;

 private:
  std::optional<Error> error_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                        // NOLINT: implicit on purpose
  Result(Error e) : v_(std::move(e)) {}                            // NOLINT
  Result(const Status& s) : v_(s.error()) { assert(!s.is_ok()); }  // NOLINT

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }
  T& value() & {
    assert(is_ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(is_ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(is_ok());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<Error>(v_); }
  Status status() const { return is_ok() ? Status::ok() : Status(error()); }

 private:
  std::variant<T, Error> v_;
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace zrep

// Returns early from the enclosing function when `expr` (a Status) is an error.
#define ZREP_RETURN_IF_ERROR(expr)                          \
  do {                                                      \
    ::zrep::Status zrep_status_ = (expr);                   \
    if (!zrep_status_.is_ok()) return zrep_status_.error(); \
  } while (0)
