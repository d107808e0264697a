// Host names as zrep uses them: a peer's name in the config, a certificate's CN, the host part
// of "host:pool/fs". RFC 1123 labels: letters, digits and '-', 1 to 63 characters each, not
// starting or ending with '-', at most 253 characters in all.
#pragma once

#include <string>

namespace zrep {

bool is_valid_host_name(const std::string& host);

}  // namespace zrep
