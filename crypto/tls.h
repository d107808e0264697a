// Mutually authenticated TLS 1.3 sessions between agents.
//
// A peer is accepted only if its certificate chains to the configured CA (and only that CA: the
// system trust store is never used) and one of its names (subject CN or a DNS SAN) is a peer
// name the caller allows. The client checks the server the same way against the one name it
// dialled. TlsContext may be shared by threads; reload() replaces its files for the handshakes
// that start after it (a session keeps what it started with). A TlsStream is used by one reader
// and one writer thread at a time (see ByteStream).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/byte_stream.h"
#include "common/result.h"

namespace zrep {

struct TlsFiles {
  std::string ca_file;    // PEM, the CA that signs every agent's certificate
  std::string cert_file;  // PEM, this host's certificate
  std::string key_file;   // PEM, this host's private key
  // PEM, optional: certificate revocation lists signed by the CA. A peer whose certificate is
  // listed is refused, on both sides of a handshake. The file is checked at every handshake
  // and reloaded when it changes (inode, size or modification time); a file that stops loading
  // (missing, half written, not signed by the CA) keeps the revocations last loaded and is
  // reported by crl_problem(). An expired CRL still revokes what it lists.
  std::string crl_file = {};
};

// Frees OpenSSL's state for the calling thread (its random generators) now rather than at
// thread exit: for detached threads, which the process may outlive by no more than a moment.
void release_thread_tls_state();

class TlsContext {
 public:
  // Loads and checks the files (key matches certificate, certificate chains to the CA).
  // Errors name the file and say what is wrong with it.
  static Result<std::shared_ptr<TlsContext>> create(const TlsFiles& files);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Loads `files` (new paths, or the same files rewritten) with the checks of create() and makes
  // them what new handshakes, accepted and dialled, use; sessions open already keep theirs. On
  // an error the context stays as it was and the error says which file is wrong.
  Status reload(const TlsFiles& files);

  // With a crl_file: rereads it now if it changed (handshakes do this too) and says what is in
  // force. `problem` is what is wrong with the file as it is now ("" when it loaded or there is
  // none); the revocations last loaded stay in force whatever it says.
  struct CrlState {
    uint64_t generation = 0;  // successful loads so far (0: no crl_file)
    size_t revoked = 0;       // certificates the loaded CRLs list
    std::string problem;
  };
  CrlState refresh_crl();
  std::string crl_problem() const;
  // Whether the CRL last loaded lists this serial number (hex, as TlsStream::peer_serial()).
  bool is_revoked(const std::string& serial_hex) const;

  struct Impl;
  // The files in use now; a handshake holds on to the one it started with.
  std::shared_ptr<Impl> impl() const;

 private:
  explicit TlsContext(std::shared_ptr<Impl> impl);
  mutable std::mutex mu_;
  std::shared_ptr<Impl> impl_;  // guarded by mu_
};

class TlsStream : public ByteStream {
 public:
  // Client side, on a connected TCP socket `fd` (ownership taken, also on failure).
  static Result<std::unique_ptr<TlsStream>> connect(TlsContext& ctx, int fd,
                                                    const std::string& expected_peer,
                                                    std::chrono::milliseconds timeout);
  // Server side, on an accepted socket `fd` (ownership taken, also on failure). The peer's
  // certificate must carry one of `allowed_peers`; the matching name becomes peer_name().
  static Result<std::unique_ptr<TlsStream>> accept(TlsContext& ctx, int fd,
                                                   const std::vector<std::string>& allowed_peers,
                                                   std::chrono::milliseconds timeout);
  ~TlsStream() override;

  Status write_all(std::span<const uint8_t> data) override;
  Status read_exact(std::span<uint8_t> out, std::chrono::milliseconds timeout) override;
  bool readable_now() override;
  void close() override;

  // The authenticated name of the peer (from its certificate).
  const std::string& peer_name() const { return peer_name_; }
  // The serial number of the peer's certificate (upper-case hex), to find its sessions when
  // the certificate is revoked.
  const std::string& peer_serial() const;

  struct Impl;

 private:
  TlsStream(std::unique_ptr<Impl> impl, std::string peer_name);
  std::unique_ptr<Impl> impl_;
  std::string peer_name_;
};

}  // namespace zrep
