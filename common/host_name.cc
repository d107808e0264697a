#include "common/host_name.h"

namespace zrep {

bool is_valid_host_name(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  size_t start = 0;
  while (start <= host.size()) {
    size_t end = host.find('.', start);
    if (end == std::string::npos) end = host.size();
    size_t length = end - start;
    if (length < 1 || length > 63) return false;
    if (host[start] == '-' || host[end - 1] == '-') return false;
    for (size_t i = start; i < end; ++i) {
      char c = host[i];
      bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
    start = end + 1;
  }
  return true;
}

}  // namespace zrep
