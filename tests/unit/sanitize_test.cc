#include "common/sanitize.h"

#include <gtest/gtest.h>

#include <string>

namespace zrep {
namespace {

TEST(SanitizePeerText, KeepsPrintableText) {
  EXPECT_EQ(sanitize_peer_text("tank/a is locked by beta (agent 1f2e) for 'sync'"),
            "tank/a is locked by beta (agent 1f2e) for 'sync'");
  EXPECT_EQ(sanitize_peer_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa2"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa2");  // é € and a turtle
  EXPECT_EQ(sanitize_peer_text(""), "");
  EXPECT_EQ(sanitize_peer_text("back\\slash"), "back\\slash");
}

TEST(SanitizePeerText, EscapesControlCharacters) {
  EXPECT_EQ(sanitize_peer_text("a\nb\rc\td"), "a\\x0ab\\x0dc\\x09d");
  EXPECT_EQ(sanitize_peer_text("\x1b[2J\x1b]0;owned\x07"), "\\x1b[2J\\x1b]0;owned\\x07");
  EXPECT_EQ(sanitize_peer_text(std::string("nul\0here", 8)), "nul\\x00here");
  EXPECT_EQ(sanitize_peer_text("del\x7f"), "del\\x7f");
  // C1 controls: U+009B is a one-character CSI on some terminals.
  EXPECT_EQ(sanitize_peer_text("\xc2\x9b"
                               "31m"),
            "\\u{009b}31m");
  // Bidirectional overrides and line separators hide or reorder what the operator reads.
  EXPECT_EQ(sanitize_peer_text("ok\xe2\x80\xaekcatta"), "ok\\u{202e}kcatta");
  EXPECT_EQ(sanitize_peer_text("a\xe2\x80\xa8"
                               "b"),
            "a\\u{2028}b");
}

TEST(SanitizePeerText, EscapesInvalidUtf8ByteByByte) {
  EXPECT_EQ(sanitize_peer_text("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(sanitize_peer_text("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(sanitize_peer_text("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // a surrogate
  EXPECT_EQ(sanitize_peer_text("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // > U+10FFFF
  EXPECT_EQ(sanitize_peer_text("cut \xe2\x82"), "cut \\xe2\\x82");            // truncated sequence
  EXPECT_EQ(sanitize_peer_text("\x80x"), "\\x80x");  // lone continuation byte
}

TEST(SanitizePeerText, CapsTheLengthWithoutSplittingAnything) {
  std::string long_text(5000, 'x');
  std::string out = sanitize_peer_text(long_text);
  EXPECT_EQ(out, std::string(kMaxPeerTextBytes, 'x') + "...[3976 more bytes]");

  EXPECT_EQ(sanitize_peer_text("abc\n", 5), "abc...[1 more bytes]");      // no half escape
  EXPECT_EQ(sanitize_peer_text("ab\xc3\xa9", 3), "ab...[2 more bytes]");  // no half sequence
  EXPECT_EQ(sanitize_peer_text("abc", 3), "abc");
}

TEST(SanitizePeerText, OutputIsAlwaysPrintable) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string out = sanitize_peer_text(all, 1 << 20);
  for (char c : out) {
    auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u >= 0x20 && u < 0x7F) << int{u};  // every byte >= 0x80 alone is invalid UTF-8
  }
}

}  // namespace
}  // namespace zrep
