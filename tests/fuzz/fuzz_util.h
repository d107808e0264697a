// Helpers shared by the libFuzzer targets (tests/fuzz/*_fuzz.cc).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include "common/byte_stream.h"

namespace zrep::fuzz {

// A fuzz target's own invariant does not hold: a finding.
#define ZREP_FUZZ_CHECK(cond)                                                                \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

// A ByteStream that reads the fuzz input and keeps what is written: what a peer sends, at once,
// and what the code under test answers.
class InputStream : public ByteStream {
 public:
  explicit InputStream(std::span<const uint8_t> in) : in_(in) {}
  Status write_all(std::span<const uint8_t> data) override {
    out_.append(reinterpret_cast<const char*>(data.data()), data.size());
    return Status::ok();
  }
  Status read_exact(std::span<uint8_t> out, std::chrono::milliseconds /*timeout*/) override {
    if (in_.size() - pos_ < out.size()) {
      pos_ = in_.size();
      return make_error(ErrorCode::kUnavailable, "end of input");
    }
    std::copy_n(in_.begin() + static_cast<std::ptrdiff_t>(pos_), out.size(), out.begin());
    pos_ += out.size();
    return Status::ok();
  }
  bool readable_now() override { return pos_ < in_.size(); }
  void close() override { pos_ = in_.size(); }
  size_t written() const { return out_.size(); }
  const std::string& output() const { return out_; }

 private:
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  std::string out_;
};

}  // namespace zrep::fuzz
