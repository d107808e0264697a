// The values a config writes as text: sizes ("512M", parse_size) and addresses ("HOST:PORT",
// "[IPV6]:PORT", parse_endpoint), declared in config.h. Pure functions, unit-tested.
#include <cctype>
#include <charconv>

#include "agent/config/config.h"

namespace zrep {

Result<uint64_t> parse_size(std::string_view text) {
  auto bad = make_error(ErrorCode::kInvalidArgument,
                        "'" + std::string(text) + "' is not a size (e.g. 1024, 512M, 2G)");
  if (text.empty()) return bad;
  uint64_t shift = 0;
  switch (text.back()) {
    case 'K':
    case 'k':
      shift = 10;
      break;
    case 'M':
    case 'm':
      shift = 20;
      break;
    case 'G':
    case 'g':
      shift = 30;
      break;
    case 'T':
    case 't':
      shift = 40;
      break;
    default:
      break;
  }
  std::string_view digits = shift != 0 ? text.substr(0, text.size() - 1) : text;
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size()) return bad;
  if (shift != 0 && n > (UINT64_MAX >> shift)) return bad;
  return n << shift;
}

std::string Endpoint::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<Endpoint> parse_endpoint(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidArgument, "bad address '" + std::string(text) +
                                                       "': " + std::string(why) +
                                                       " (expected HOST:PORT or [IPV6]:PORT)");
  };
  Endpoint ep;
  std::string_view port_text;
  if (text.empty()) return bad("empty");
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    ep.host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("expected ':' after ']'");
      port_text = rest.substr(1);
    }
  } else {
    auto colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') != colon) {
      return bad("an IPv6 address must be written in brackets");
    }
    ep.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) port_text = text.substr(colon + 1);
  }
  if (ep.host.empty()) return bad("no host");
  for (char c : ep.host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
          c == '_')) {
      return bad("the host has characters that are not allowed");
    }
  }
  if (port_text.empty()) {
    ep.port = kDefaultPort;
  } else {
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return bad("the port must be a number from 1 to 65535");
    }
    ep.port = static_cast<uint16_t>(value);
  }
  return ep;
}

}  // namespace zrep
