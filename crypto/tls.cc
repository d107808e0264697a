#include "crypto/tls.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <mutex>
#include <set>

#include "crypto/openssl_util.h"
#include "crypto/tls_session.h"

namespace zrep {

using X509CrlPtr = OpenSslPtr<X509_CRL, X509_CRL_free>;

struct TlsContext::Impl {
  SslCtxPtr ctx;
  std::string ca_file;  // named in handshake errors
  std::vector<X509Ptr> ca;
  std::string crl_file;

  // What the last good load of crl_file gave: a verify store (the CA and the CRLs, checked for
  // every peer certificate) and the serial numbers it revokes. Guarded by mu; a handshake takes
  // a reference to the store, so a reload never changes one under way.
  struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    timespec mtime{};
    bool operator==(const FileId& o) const {
      return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
             mtime.tv_nsec == o.mtime.tv_nsec;
    }
  };
  mutable std::mutex mu;
  X509StorePtr store;
  std::set<std::string> revoked;
  FileId loaded{};
  FileId failed{};          // the file as it was when it last failed to load (not retried)
  std::string problem;      // why the file as it is now does not load ("" when it does)
  uint64_t generation = 0;  // loads so far
};

namespace {

struct LoadedCrl {
  X509StorePtr store;
  std::set<std::string> revoked;
};

// Reads every CRL in `path`; each must be issued and signed by one of the CA certificates.
Result<LoadedCrl> load_crl(const std::string& path, const std::vector<X509Ptr>& ca) {
  std::FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) return file_error(errno, "cannot open CRL file", path);
  std::vector<X509CrlPtr> crls;
  while (X509_CRL* crl = PEM_read_X509_CRL(f, nullptr, nullptr, nullptr)) crls.emplace_back(crl);
  std::fclose(f);
  const unsigned long last = ERR_peek_last_error();
  const bool clean_end =
      ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  if (!clean_end && last != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "CRL file " + path + " is not valid PEM: " + openssl_errors());
  }
  openssl_errors();  // the end-of-file "no start line"
  if (crls.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "CRL file " + path + " holds no CRL (-----BEGIN X509 CRL-----)");
  }
  LoadedCrl out;
  out.store.reset(X509_STORE_new());
  if (!out.store) return make_error(ErrorCode::kInternal, "out of memory");
  for (const X509Ptr& c : ca) X509_STORE_add_cert(out.store.get(), c.get());
  for (const X509CrlPtr& crl : crls) {
    const X509* issuer = nullptr;
    for (const X509Ptr& c : ca) {
      if (X509_NAME_cmp(X509_get_subject_name(c.get()), X509_CRL_get_issuer(crl.get())) == 0 &&
          X509_CRL_verify(crl.get(), X509_get0_pubkey(c.get())) == 1) {
        issuer = c.get();
      }
    }
    openssl_errors();
    if (issuer == nullptr) {
      return make_error(ErrorCode::kInvalidArgument,
                        "CRL file " + path + " holds a CRL that is not signed by the CA");
    }
    STACK_OF(X509_REVOKED)* list = X509_CRL_get_REVOKED(crl.get());
    for (int i = 0; i < sk_X509_REVOKED_num(list); ++i) {
      out.revoked.insert(
          serial_hex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(list, i))));
    }
    X509_STORE_add_crl(out.store.get(), crl.get());
  }
  // The peer's own certificate against the CRL (the CA is this deployment's root).
  X509_STORE_set_flags(out.store.get(), X509_V_FLAG_CRL_CHECK);
  return out;
}

Result<TlsContext::Impl::FileId> file_id(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return file_error(errno, "cannot read CRL file", path);
  return TlsContext::Impl::FileId{st.st_dev, st.st_ino, st.st_size, st.st_mtim};
}

// Reloads impl.crl_file when it changed since the last try; returns (a reference to) the store
// to verify with (null: the context's own, no CRL configured).
X509StorePtr current_store(TlsContext::Impl& impl) {
  if (impl.crl_file.empty()) return nullptr;
  std::lock_guard<std::mutex> lock(impl.mu);
  auto id = file_id(impl.crl_file);
  std::string problem;
  if (!id) {
    problem = id.error().message;
  } else if (*id == impl.loaded) {
    impl.problem.clear();
  } else if (*id == impl.failed) {
    problem = impl.problem;
  } else {
    auto crl = load_crl(impl.crl_file, impl.ca);
    if (crl) {
      impl.store = std::move(crl->store);
      impl.revoked = std::move(crl->revoked);
      impl.loaded = *id;
      impl.problem.clear();
      ++impl.generation;
    } else {
      impl.failed = *id;
      problem = crl.error().message;
    }
  }
  if (!problem.empty()) impl.problem = problem;
  if (!impl.store || X509_STORE_up_ref(impl.store.get()) != 1) return nullptr;
  return X509StorePtr(impl.store.get());
}

using std::chrono::milliseconds;

// write_all gives up when the peer has not taken all of it (one frame) within this long.
// A pool busy syncing a transaction group can stall `zfs recv` (and so the peer's reads) for
// minutes; only a longer silence means the peer is gone.
constexpr auto kWriteStallTimeout = std::chrono::seconds(600);

// Peer identity is checked inside the handshake (in the verify callback), so that a refused peer
// is told so by a TLS alert rather than by a silently closed connection.

int peer_check_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool same_host_name(const std::string& a, const std::string& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

int verify_peer_name(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok != 1) {
    // An out-of-date CRL still says which certificates are revoked: use it rather than refuse
    // every peer when nobody renewed it (pki revoke writes CRLs valid for ten years).
    const int err = X509_STORE_CTX_get_error(store);
    return err == X509_V_ERR_CRL_HAS_EXPIRED || err == X509_V_ERR_CRL_NOT_YET_VALID ? 1 : 0;
  }
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;  // a CA: its names do not matter
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* check = static_cast<TlsStream::Impl::PeerCheck*>(SSL_get_ex_data(ssl, peer_check_index()));
  if (check == nullptr) return 0;
  check->presented = x509_names(X509_STORE_CTX_get_current_cert(store));
  check->serial = serial_hex(X509_get0_serialNumber(X509_STORE_CTX_get_current_cert(store)));
  for (const std::string& name : check->acceptable) {
    for (const std::string& presented : check->presented) {
      if (same_host_name(name, presented)) {
        check->matched = name;
        return 1;
      }
    }
  }
  check->refused = true;
  X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
  return 0;
}

std::string quoted_list(const std::vector<std::string>& names) {
  if (names.empty()) return "no name";
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "'" : ", '") + name + "'";
  return text;
}

Error handshake_error(const TlsStream::Impl& s, const TlsContext::Impl& ctx, const Error& e,
                      milliseconds timeout) {
  const auto& check = s.check;
  if (check.refused && SSL_is_server(s.ssl.get())) {
    return make_error(
        ErrorCode::kPermissionDenied,
        s.peer + " presented certificate for " + quoted_list(check.presented) +
            ", which is not an allowed peer (allowed: " + quoted_list(check.acceptable) + ")");
  }
  if (check.refused) {
    return make_error(ErrorCode::kPermissionDenied,
                      s.peer + " presented certificate for " + quoted_list(check.presented) +
                          ", expected " + quoted_list(check.acceptable));
  }
  if (e.code == ErrorCode::kTimeout) {
    return make_error(ErrorCode::kTimeout, "TLS handshake with " + s.peer + " timed out after " +
                                               std::to_string(timeout.count()) + " ms");
  }
  if (e.code == ErrorCode::kUnavailable) {
    return make_error(ErrorCode::kUnavailable, "TLS handshake failed: " + e.message);
  }
  std::string why = e.message;
  long verify = SSL_get_verify_result(s.ssl.get());
  if (verify == X509_V_ERR_CERT_REVOKED) {
    why += " (its certificate is revoked by " + ctx.crl_file + ")";
  } else if (verify != X509_V_OK) {
    why += std::string(" (") + X509_verify_cert_error_string(verify) +
           "; this host trusts only the CA in " + ctx.ca_file + ")";
  }
  return make_error(ErrorCode::kPermissionDenied,
                    "TLS handshake with " + s.peer + " failed: " + why);
}

// Runs the handshake on `fd` (owned from the first line, also on failure). The peer must carry
// one of `acceptable`; the matching name is left in check.matched.
Result<std::unique_ptr<TlsStream::Impl>> open_session(TlsContext& ctx, int fd, bool server,
                                                      std::vector<std::string> acceptable,
                                                      milliseconds timeout) {
  auto s = std::make_unique<TlsStream::Impl>();
  s->fd = fd;
  if (fd < 0) return make_error(ErrorCode::kInvalidArgument, "TLS on an invalid socket");
  s->peer = describe_peer(fd);
  s->check.acceptable = std::move(acceptable);

  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    return make_error(ErrorCode::kInternal,
                      "cannot make socket non-blocking: " + errno_text(errno));
  }
  const std::shared_ptr<TlsContext::Impl> impl = ctx.impl();
  s->ssl.reset(SSL_new(impl->ctx.get()));
  BIO* bio = s->ssl ? new_socket_bio(&s->fd) : nullptr;
  if (bio == nullptr) {
    return make_error(ErrorCode::kInternal, "cannot start a TLS session: " + openssl_errors());
  }
  SSL_set_bio(s->ssl.get(), bio, bio);
  if (server) {
    SSL_set_accept_state(s->ssl.get());
  } else {
    SSL_set_connect_state(s->ssl.get());
  }
  SSL_set_ex_data(s->ssl.get(), peer_check_index(), &s->check);
  if (X509StorePtr with_crl = current_store(*impl)) {
    if (SSL_set1_verify_cert_store(s->ssl.get(), with_crl.get()) != 1) {
      return make_error(ErrorCode::kInternal, "cannot use the CRL: " + openssl_errors());
    }
  }

  auto done = drive(*s, deadline_after(timeout), [](SSL* ssl) { return SSL_do_handshake(ssl); });
  if (!done) return handshake_error(*s, *impl, done.error(), timeout);
  if (s->check.matched.empty()) {  // the callback saw no certificate: never trust that
    return make_error(ErrorCode::kPermissionDenied,
                      "TLS handshake with " + s->peer + " ended without a verified certificate");
  }
  return s;
}

// create() and reload(): the files, loaded and checked, in a context of their own.
Result<std::shared_ptr<TlsContext::Impl>> load_context(const TlsFiles& files) {
  auto ca = load_certificates(files.ca_file, "CA");
  if (!ca) return ca.error();
  auto cert = load_certificate(files.cert_file, "certificate");
  if (!cert) return cert.error();
  auto key = load_private_key(files.key_file);
  if (!key) return key.error();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    openssl_errors();  // drop the queue: the message below says it all
    return make_error(
        ErrorCode::kInvalidArgument,
        "key file " + files.key_file + " does not match certificate " + files.cert_file);
  }
  ZREP_RETURN_IF_ERROR(check_chains_to_ca(*ca, cert->get(), files.cert_file, files.ca_file));

  auto impl = std::make_shared<TlsContext::Impl>();
  impl->ca_file = files.ca_file;
  impl->crl_file = files.crl_file;
  if (!files.crl_file.empty()) {
    auto id = file_id(files.crl_file);
    if (!id) return id.error();
    auto crl = load_crl(files.crl_file, *ca);
    if (!crl) return crl.error();
    std::string mine = serial_hex(X509_get0_serialNumber(cert->get()));
    if (crl->revoked.count(mine) != 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "this host's certificate " + files.cert_file + " is revoked by " +
                            files.crl_file + ": issue a new one (zrep-agent pki issue)");
    }
    impl->store = std::move(crl->store);
    impl->revoked = std::move(crl->revoked);
    impl->loaded = *id;
    impl->generation = 1;
  }
  impl->ctx.reset(SSL_CTX_new(TLS_method()));
  SSL_CTX* ctx = impl->ctx.get();
  auto fail = [](const std::string& doing) {
    return make_error(ErrorCode::kInvalidArgument, doing + ": " + openssl_errors());
  };
  if (ctx == nullptr) return fail("cannot make a TLS context");
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
    return fail("this OpenSSL cannot do TLS 1.3");
  }
  if (SSL_CTX_use_certificate(ctx, cert->get()) != 1) {
    return fail("cannot use certificate " + files.cert_file);
  }
  if (SSL_CTX_use_PrivateKey(ctx, key->get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return fail("cannot use key file " + files.key_file + " with certificate " + files.cert_file);
  }
  // Only this CA: never the system's default trust store.
  if (SSL_CTX_load_verify_locations(ctx, files.ca_file.c_str(), nullptr) != 1) {
    return fail("cannot load CA file " + files.ca_file);
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_peer_name);
  // No session tickets (nothing to resume, and no post-handshake records to surprise readers).
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // Non-blocking writes return after each record, so write_all can time out on lack of progress.
  // Only our own certificate goes on the wire: every peer already has the CA.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_NO_AUTO_CHAIN);
  impl->ca = std::move(*ca);
  return impl;
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::create(const TlsFiles& files) {
  auto impl = load_context(files);
  if (!impl) return impl.error();
  return std::shared_ptr<TlsContext>(new TlsContext(std::move(*impl)));
}

Status TlsContext::reload(const TlsFiles& files) {
  auto impl = load_context(files);
  if (!impl) return impl.error();
  std::lock_guard<std::mutex> lock(mu_);
  impl_ = std::move(*impl);
  return Status::ok();
}

std::shared_ptr<TlsContext::Impl> TlsContext::impl() const {
  std::lock_guard<std::mutex> lock(mu_);
  return impl_;
}

void release_thread_tls_state() { OPENSSL_thread_stop(); }

TlsContext::TlsContext(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsContext::~TlsContext() = default;

TlsContext::CrlState TlsContext::refresh_crl() {
  const std::shared_ptr<Impl> now = impl();
  current_store(*now);
  std::lock_guard<std::mutex> lock(now->mu);
  return {now->generation, now->revoked.size(), now->problem};
}

std::string TlsContext::crl_problem() const {
  const std::shared_ptr<Impl> now = impl();
  std::lock_guard<std::mutex> lock(now->mu);
  return now->problem;
}

bool TlsContext::is_revoked(const std::string& serial) const {
  const std::shared_ptr<Impl> now = impl();
  std::lock_guard<std::mutex> lock(now->mu);
  return now->revoked.count(serial) != 0;
}

Result<std::unique_ptr<TlsStream>> TlsStream::connect(TlsContext& ctx, int fd,
                                                      const std::string& expected_peer,
                                                      milliseconds timeout) {
  auto s = open_session(ctx, fd, false, {expected_peer}, timeout);
  if (!s) return s.error();
  std::string name = (*s)->check.matched;
  return std::unique_ptr<TlsStream>(new TlsStream(std::move(*s), std::move(name)));
}

Result<std::unique_ptr<TlsStream>> TlsStream::accept(TlsContext& ctx, int fd,
                                                     const std::vector<std::string>& allowed_peers,
                                                     milliseconds timeout) {
  auto s = open_session(ctx, fd, true, allowed_peers, timeout);
  if (!s) return s.error();
  std::string name = (*s)->check.matched;
  return std::unique_ptr<TlsStream>(new TlsStream(std::move(*s), std::move(name)));
}

TlsStream::TlsStream(std::unique_ptr<Impl> impl, std::string peer_name)
    : impl_(std::move(impl)), peer_name_(std::move(peer_name)) {}

TlsStream::~TlsStream() { TlsStream::close(); }

const std::string& TlsStream::peer_serial() const { return impl_->check.serial; }

namespace {

Error stream_error(const TlsStream::Impl& s, const Error& e, const std::string& timeout_message) {
  switch (e.code) {
    case ErrorCode::kTimeout:
      return make_error(ErrorCode::kTimeout, timeout_message);
    case ErrorCode::kPermissionDenied:
      return make_error(e.code, s.peer + " refused this host: " + e.message);
    case ErrorCode::kProtocol:
      return make_error(e.code, "TLS session with " + s.peer + " failed: " + e.message);
    default:
      return e;
  }
}

}  // namespace

Status TlsStream::write_all(std::span<const uint8_t> data) {
  // One deadline for the whole write (a frame), not renewed per record: a peer that takes a
  // byte at a time cannot stretch one frame beyond it.
  const auto deadline = deadline_after(kWriteStallTimeout);
  size_t done = 0;
  while (done < data.size()) {
    ZREP_RETURN_IF_ERROR(impl_->check_open());
    int length = static_cast<int>(std::min<size_t>(data.size() - done, INT_MAX));
    auto n = drive(*impl_, deadline,
                   [&](SSL* ssl) { return SSL_write(ssl, data.data() + done, length); });
    if (!n) {
      return stream_error(*impl_, n.error(),
                          impl_->peer + " did not take a frame within " +
                              std::to_string(kWriteStallTimeout.count()) + " s");
    }
    done += static_cast<size_t>(*n);
  }
  return Status::ok();
}

Status TlsStream::read_exact(std::span<uint8_t> out, milliseconds timeout) {
  // One deadline for the whole read, not renewed per piece: a peer that trickles a byte at a
  // time must not hold this reader (and what it holds) longer than `timeout`.
  const auto deadline = deadline_after(timeout);
  size_t done = 0;
  while (done < out.size()) {
    ZREP_RETURN_IF_ERROR(impl_->check_open());
    int length = static_cast<int>(std::min<size_t>(out.size() - done, INT_MAX));
    auto n =
        drive(*impl_, deadline, [&](SSL* ssl) { return SSL_read(ssl, out.data() + done, length); });
    if (!n) {
      return stream_error(
          *impl_, n.error(),
          "no data from " + impl_->peer + " within " + std::to_string(timeout.count()) + " ms");
    }
    done += static_cast<size_t>(*n);
  }
  return Status::ok();
}

bool TlsStream::readable_now() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (SSL_has_pending(impl_->ssl.get()) == 1) return true;
  }
  pollfd p{impl_->fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

void TlsStream::close() {
  if (!impl_ || impl_->closed.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    // Best effort close_notify: one non-blocking try, never waiting for the peer's reply.
    if (!impl_->broken && SSL_is_init_finished(impl_->ssl.get()) == 1) {
      SSL_shutdown(impl_->ssl.get());
    }
    ERR_clear_error();
  }
  // shutdown(), not close(): it wakes a thread blocked in poll() on this fd, and the fd number
  // cannot be reused under that thread before the destructor runs.
  ::shutdown(impl_->fd, SHUT_RDWR);
}

}  // namespace zrep
