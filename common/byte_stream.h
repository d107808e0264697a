// ByteStream: a blocking, bidirectional byte pipe (a TLS session, a Unix socket, a socketpair).
//
// One reader thread and one writer thread may use a stream at the same time; two concurrent
// readers (or writers) may not.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>

#include "common/result.h"

namespace zrep {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Writes all of `data` or fails (kUnavailable when the peer is gone, kTimeout).
  virtual Status write_all(std::span<const uint8_t> data) = 0;
  // Fills all of `out` or fails: kUnavailable on EOF/reset (message says so), kTimeout when
  // `out` is not full within `timeout` (one deadline for the whole read, not renewed per piece:
  // a peer that trickles a byte at a time cannot hold a reader longer than that).
  virtual Status read_exact(std::span<uint8_t> out, std::chrono::milliseconds timeout) = 0;
  // True when a read would not block now (data buffered or readable on the socket).
  virtual bool readable_now() = 0;
  // Shuts the stream down; pending and later reads and writes fail.
  virtual void close() = 0;
};

// A ByteStream over a connected stream socket or pipe pair the object owns (closed on destruction).
class FdStream : public ByteStream {
 public:
  explicit FdStream(int fd) : fd_(fd) {}
  ~FdStream() override;
  FdStream(const FdStream&) = delete;
  FdStream& operator=(const FdStream&) = delete;

  Status write_all(std::span<const uint8_t> data) override;
  Status read_exact(std::span<uint8_t> out, std::chrono::milliseconds timeout) override;
  bool readable_now() override;
  void close() override;
  int fd() const { return fd_; }

 private:
  int fd_;
};

}  // namespace zrep
