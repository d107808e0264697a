// Text from a peer made safe for a log line or a terminal. Pure, unit-tested and fuzzed.
//
// A peer's error messages, refusal reasons, lock owners and host names end up in this host's
// logs and in the CLI's output. A hostile peer could put newlines there (a forged log line),
// ANSI escape sequences (rewrite the operator's terminal, hide or fake output) or invalid
// UTF-8. sanitize_peer_text keeps printable UTF-8 as it is and writes everything else as a
// visible escape.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace zrep {

inline constexpr size_t kMaxPeerTextBytes = 1024;

// Returns `text` with
//   - C0 controls (including newline, tab and ESC), DEL, and bytes that are not part of a valid
//     UTF-8 sequence (overlong forms, surrogates, > U+10FFFF) written as "\xNN", one per byte;
//   - C1 controls (U+0080..U+009F) and the invisible Unicode format controls that reorder or
//     hide text (U+200B..U+200F, U+2028..U+202E, U+2060..U+2069, U+FEFF) written as "\u{XXXX}";
//   - everything else (printable ASCII, valid printable UTF-8) unchanged;
// and cut to at most `max_bytes` bytes of output (never inside an escape or a UTF-8 sequence),
// followed by "...[N more bytes]" when anything was cut.
std::string sanitize_peer_text(std::string_view text, size_t max_bytes = kMaxPeerTextBytes);

// Peer-supplied text for a log line or an error, short form: control characters (newlines,
// escapes) shown as '?', at most 500 characters.
std::string printable_text(std::string text);

}  // namespace zrep
