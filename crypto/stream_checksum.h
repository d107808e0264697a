// SHA-256 of a byte stream, fed in pieces (OpenSSL EVP; uses SHA extensions when the CPU has them).
// Not thread-safe: one hasher per stream.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace zrep {

class StreamChecksum {
 public:
  StreamChecksum();
  ~StreamChecksum();
  StreamChecksum(const StreamChecksum&) = delete;
  StreamChecksum& operator=(const StreamChecksum&) = delete;

  void update(std::span<const uint8_t> data);
  std::array<uint8_t, 32> finish();  // once

  static std::string hex(std::span<const uint8_t> digest);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zrep
