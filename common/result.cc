#include "common/result.h"

namespace zrep {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid-argument";
    case ErrorCode::kNotFound:
      return "not-found";
    case ErrorCode::kAlreadyExists:
      return "already-exists";
    case ErrorCode::kPermissionDenied:
      return "permission-denied";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kProtocol:
      return "protocol";
    case ErrorCode::kZfs:
      return "zfs";
    case ErrorCode::kModified:
      return "destination-modified";
    case ErrorCode::kNoSpace:
      return "no-space";
    case ErrorCode::kCorrupt:
      return "corrupt";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kBusy:
      return "busy";
    case ErrorCode::kSplitBrain:
      return "split-brain";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

Status Status::with_context(std::string_view context) const {
  if (is_ok()) return *this;
  return Error{error_->code, std::string(context) + ": " + error_->message};
}

}  // namespace zrep
