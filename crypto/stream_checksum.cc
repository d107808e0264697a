#include "crypto/stream_checksum.h"

#include <cassert>
#include <cstdio>
#include <cstdlib>

#include "crypto/openssl_util.h"

namespace zrep {
namespace {

// SHA-256 in OpenSSL fails only when the library itself is broken (no memory, no default
// provider); there is no sensible way to go on hashing a stream then.
[[noreturn]] void fatal(const char* what) {
  std::fprintf(stderr, "zrep-agent: SHA-256 %s failed: %s\n", what, openssl_errors().c_str());
  std::abort();
}

}  // namespace

struct StreamChecksum::Impl {
  MdCtxPtr ctx;
  bool finished = false;
};

StreamChecksum::StreamChecksum() : impl_(std::make_unique<Impl>()) {
  impl_->ctx.reset(EVP_MD_CTX_new());
  if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx.get(), EVP_sha256(), nullptr) != 1) {
    fatal("init");
  }
}

StreamChecksum::~StreamChecksum() = default;

void StreamChecksum::update(std::span<const uint8_t> data) {
  assert(!impl_->finished);
  if (data.empty()) return;
  if (EVP_DigestUpdate(impl_->ctx.get(), data.data(), data.size()) != 1) fatal("update");
}

std::array<uint8_t, 32> StreamChecksum::finish() {
  assert(!impl_->finished);
  impl_->finished = true;
  std::array<uint8_t, 32> digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(impl_->ctx.get(), digest.data(), &length) != 1 ||
      length != digest.size()) {
    fatal("finish");
  }
  return digest;
}

std::string StreamChecksum::hex(std::span<const uint8_t> digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(digest.size() * 2);
  for (uint8_t byte : digest) {
    text += kDigits[byte >> 4];
    text += kDigits[byte & 0x0f];
  }
  return text;
}

}  // namespace zrep
