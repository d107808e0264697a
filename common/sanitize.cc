#include "common/sanitize.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

namespace zrep {
namespace {

// The length of the valid UTF-8 sequence at text[i] and its code point; 0 when invalid.
size_t utf8_sequence(std::string_view text, size_t i, uint32_t& cp) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t b0 = byte(i);
  size_t len = 0;
  uint32_t min = 0;
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1Fu;
    min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0Fu;
    min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07u;
    min = 0x10000;
  } else {
    return 0;
  }
  if (text.size() - i < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// Code points that are not control characters but reorder, hide or break lines of text.
bool invisible_format_control(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x200B && cp <= 0x200F) ||
         (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFEFF;
}

}  // namespace

std::string sanitize_peer_text(std::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  size_t i = 0;
  while (i < text.size()) {
    uint32_t cp = 0;
    size_t len = utf8_sequence(text, i, cp);
    std::string piece;
    if (len == 0) {
      piece = fmt::format("\\x{:02x}", static_cast<uint8_t>(text[i]));
      len = 1;
    } else if (cp < 0x20 || cp == 0x7F) {
      piece = fmt::format("\\x{:02x}", cp);
    } else if (invisible_format_control(cp)) {
      piece = fmt::format("\\u{{{:04x}}}", cp);
    } else {
      piece.assign(text.substr(i, len));
    }
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
    i += len;
  }
  if (i < text.size()) out += fmt::format("...[{} more bytes]", text.size() - i);
  return out;
}

std::string printable_text(std::string text) {
  if (text.size() > 500) text = text.substr(0, 500) + "...";
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return text;
}

}  // namespace zrep
