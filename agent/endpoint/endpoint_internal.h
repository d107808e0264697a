// Private to agent/endpoint: the helpers that several files of PeerService share (describe.cc
// and receive.cc). Nothing outside agent/endpoint includes this header.
#pragma once

#include <string>

namespace zrep::endpoint_internal {

// The parent dataset of fs ("" for a pool's root).
inline std::string parent_of(const std::string& fs) {
  auto slash = fs.rfind('/');
  return slash == std::string::npos ? std::string() : fs.substr(0, slash);
}

}  // namespace zrep::endpoint_internal
