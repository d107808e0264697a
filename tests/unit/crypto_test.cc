// crypto/: PKI generation, TLS contexts and real TLS 1.3 sessions on loopback TCP, checksums.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "common/host_name.h"
#include "crypto/pki.h"
#include "crypto/stream_checksum.h"
#include "crypto/tls.h"

namespace zrep {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kHandshakeTimeout{5000};

mode_t file_mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::vector<uint8_t> as_bytes(const std::string& text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

// A connected loopback TCP pair: {client fd, server fd}.
std::pair<int, int> tcp_pair() {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  EXPECT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(::listen(listener, 1), 0);
  EXPECT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &length), 0);
  int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  int server = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  EXPECT_GE(server, 0);
  ::close(listener);
  return {client, server};
}

class CryptoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/zrep-crypto-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    ca_ = root_ + "/pki";
    other_ = root_ + "/other";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // CA in ca_ with alpha, beta, gamma; another CA in other_ with alpha.
  void make_pkis() {
    ASSERT_TRUE(pki_init(ca_).is_ok());
    for (const char* host : {"alpha", "beta", "gamma"}) ASSERT_TRUE(pki_issue(ca_, host).is_ok());
    ASSERT_TRUE(pki_init(other_).is_ok());
    ASSERT_TRUE(pki_issue(other_, "alpha").is_ok());
  }

  static TlsFiles files(const std::string& dir, const std::string& host) {
    return TlsFiles{dir + "/ca.crt", dir + "/" + host + ".crt", dir + "/" + host + ".key"};
  }

  static std::shared_ptr<TlsContext> context(const std::string& dir, const std::string& host) {
    auto ctx = TlsContext::create(files(dir, host));
    EXPECT_TRUE(ctx.is_ok()) << (ctx ? "" : ctx.error().message);
    return ctx ? *ctx : nullptr;
  }

  struct Session {
    Result<std::unique_ptr<TlsStream>> client = make_error(ErrorCode::kInternal, "not run");
    Result<std::unique_ptr<TlsStream>> server = make_error(ErrorCode::kInternal, "not run");
  };

  // Handshakes `client` (dialling `expected`) with `server` (allowing `allowed`) on loopback.
  static Session handshake(TlsContext& client, const std::string& expected, TlsContext& server,
                           const std::vector<std::string>& allowed) {
    auto [client_fd, server_fd] = tcp_pair();
    Session session;
    std::thread server_thread([&, fd = server_fd] {
      session.server = TlsStream::accept(server, fd, allowed, kHandshakeTimeout);
    });
    session.client = TlsStream::connect(client, client_fd, expected, kHandshakeTimeout);
    server_thread.join();
    return session;
  }

  std::string root_, ca_, other_;
};

TEST_F(CryptoTest, PkiInitMakesPrivateCaKeyAndRefusesToOverwrite) {
  ASSERT_TRUE(pki_init(ca_).is_ok());
  EXPECT_EQ(file_mode(ca_), 0700u);
  EXPECT_EQ(file_mode(ca_ + "/ca.key"), 0600u);
  EXPECT_EQ(file_mode(ca_ + "/ca.crt") & 0600u, 0600u);
  auto names = certificate_names(ca_ + "/ca.crt");
  ASSERT_TRUE(names.is_ok());
  EXPECT_EQ(names->front(), "zrep-agent CA");

  Status again = pki_init(ca_);
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.code(), ErrorCode::kAlreadyExists);
  EXPECT_NE(again.message().find(ca_ + "/ca.key"), std::string::npos) << again.message();
}

TEST_F(CryptoTest, PkiIssueMakesHostKeyAndCertificate) {
  Status no_ca = pki_issue(ca_, "alpha");
  ASSERT_FALSE(no_ca.is_ok());
  EXPECT_NE(no_ca.message().find("pki init"), std::string::npos) << no_ca.message();

  ASSERT_TRUE(pki_init(ca_).is_ok());
  ASSERT_TRUE(pki_issue(ca_, "alpha").is_ok());
  EXPECT_EQ(file_mode(ca_ + "/alpha.key"), 0600u);
  auto names = certificate_names(ca_ + "/alpha.crt");
  ASSERT_TRUE(names.is_ok()) << names.error().message;
  EXPECT_EQ(names->front(), "alpha");
  EXPECT_NE(std::find(names->begin(), names->end(), "alpha"), names->end());

  Status again = pki_issue(ca_, "alpha");
  EXPECT_EQ(again.code(), ErrorCode::kAlreadyExists);
}

TEST_F(CryptoTest, HostileHostNamesAreRefused) {
  ASSERT_TRUE(pki_init(ca_).is_ok());
  for (const std::string& host : std::vector<std::string>{
           "", "..", "a b", "-x", "x-", "../x", "x/y", "a..b", "x.", std::string(64, 'a'), "a_b"}) {
    EXPECT_FALSE(is_valid_host_name(host)) << host;
    Status issued = pki_issue(ca_, host);
    EXPECT_EQ(issued.code(), ErrorCode::kInvalidArgument) << host;
  }
  for (const std::string& host :
       std::vector<std::string>{"alpha", "db-1.example.com", "A9", std::string(63, 'a')}) {
    EXPECT_TRUE(is_valid_host_name(host)) << host;
  }
  EXPECT_FALSE(is_valid_host_name(std::string(127, 'a') + "." + std::string(126, 'b')));
}

TEST_F(CryptoTest, ContextCreationExplainsBadFiles) {
  make_pkis();
  TlsFiles missing = files(ca_, "alpha");
  missing.key_file = ca_ + "/nope.key";
  auto no_key = TlsContext::create(missing);
  ASSERT_FALSE(no_key.is_ok());
  EXPECT_NE(no_key.error().message.find("cannot read key file " + missing.key_file),
            std::string::npos)
      << no_key.error().message;
  EXPECT_NE(no_key.error().message.find("No such file"), std::string::npos);

  TlsFiles mismatched = files(ca_, "alpha");
  mismatched.key_file = ca_ + "/beta.key";
  auto wrong_key = TlsContext::create(mismatched);
  ASSERT_FALSE(wrong_key.is_ok());
  EXPECT_NE(wrong_key.error().message.find("does not match"), std::string::npos)
      << wrong_key.error().message;

  TlsFiles foreign = files(other_, "alpha");
  foreign.ca_file = ca_ + "/ca.crt";
  auto other_ca = TlsContext::create(foreign);
  ASSERT_FALSE(other_ca.is_ok());
  EXPECT_EQ(other_ca.error().message,
            "certificate " + foreign.cert_file + " is not signed by the CA in " + foreign.ca_file);

  std::ofstream(root_ + "/junk.crt") << "not a certificate\n";
  TlsFiles junk = files(ca_, "alpha");
  junk.cert_file = root_ + "/junk.crt";
  auto bad_cert = TlsContext::create(junk);
  ASSERT_FALSE(bad_cert.is_ok());
  EXPECT_NE(bad_cert.error().message.find(junk.cert_file), std::string::npos);
}

TEST_F(CryptoTest, SameCaPeersTalkBothWays) {
  make_pkis();
  auto alpha = context(ca_, "alpha");
  auto beta = context(ca_, "beta");
  Session session = handshake(*alpha, "beta", *beta, {"gamma", "alpha"});
  ASSERT_TRUE(session.client.is_ok()) << session.client.error().message;
  ASSERT_TRUE(session.server.is_ok()) << session.server.error().message;
  TlsStream& client = **session.client;
  TlsStream& server = **session.server;
  EXPECT_EQ(client.peer_name(), "beta");
  EXPECT_EQ(server.peer_name(), "alpha");

  // 1 MiB each way at once: the client writes from one thread and reads from another, the
  // server echoes.
  std::vector<uint8_t> sent(1 << 20);
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<uint8_t>(i * 7 + i / 1000);
  auto writer = std::async(std::launch::async, [&] { return client.write_all(sent); });
  auto echo = std::async(std::launch::async, [&]() -> Status {
    std::vector<uint8_t> chunk(65536);
    for (size_t done = 0; done < sent.size(); done += chunk.size()) {
      ZREP_RETURN_IF_ERROR(server.read_exact(chunk, milliseconds(5000)));
      ZREP_RETURN_IF_ERROR(server.write_all(chunk));
    }
    return Status::ok();
  });
  std::vector<uint8_t> received(sent.size());
  Status read = client.read_exact(received, milliseconds(5000));
  EXPECT_TRUE(writer.get().is_ok());
  EXPECT_TRUE(echo.get().is_ok());
  ASSERT_TRUE(read.is_ok()) << read.message();
  EXPECT_TRUE(received == sent);
  EXPECT_FALSE(client.readable_now());

  // A silent peer: read_exact gives up after about the timeout.
  std::vector<uint8_t> byte(1);
  auto start = Clock::now();
  Status silent = server.read_exact(byte, milliseconds(200));
  auto waited = Clock::now() - start;
  EXPECT_EQ(silent.code(), ErrorCode::kTimeout);
  EXPECT_GE(waited, milliseconds(190));
  EXPECT_LT(waited, milliseconds(2000));

  ASSERT_TRUE(server.write_all(as_bytes("x")).is_ok());
  ASSERT_TRUE(client.read_exact(byte, milliseconds(1000)).is_ok());
  EXPECT_EQ(byte[0], 'x');

  // The server hangs up: the client's read fails as "closed by peer", not as a timeout.
  server.close();
  Status closed = client.read_exact(byte, milliseconds(5000));
  EXPECT_EQ(closed.code(), ErrorCode::kUnavailable);
  EXPECT_NE(closed.message().find("connection closed by peer"), std::string::npos)
      << closed.message();
}

TEST_F(CryptoTest, RevokedCertificatesAreRefusedAndTheCrlIsReloadedWhenItChanges) {
  make_pkis();
  ASSERT_TRUE(pki_issue(ca_, "delta").is_ok());
  // Contexts read their files when made: these outlive the revocations below.
  auto alpha = context(ca_, "alpha");
  auto gamma = context(ca_, "gamma");
  auto delta = context(ca_, "delta");

  auto revoked_gamma = pki_revoke(ca_, "gamma");
  ASSERT_TRUE(revoked_gamma.is_ok()) << revoked_gamma.error().message;
  EXPECT_EQ(revoked_gamma->revoked, 1u);
  EXPECT_TRUE(std::filesystem::exists(revoked_gamma->moved_to));
  EXPECT_FALSE(std::filesystem::exists(ca_ + "/gamma.crt"));
  EXPECT_FALSE(std::filesystem::exists(ca_ + "/gamma.key"));
  ASSERT_TRUE(pki_issue(ca_, "gamma").is_ok()) << "the host can get a new pair";

  TlsFiles beta_files = files(ca_, "beta");
  beta_files.crl_file = ca_ + "/crl.pem";
  auto made = TlsContext::create(beta_files);
  ASSERT_TRUE(made.is_ok()) << made.error().message;
  TlsContext& beta = **made;

  Session ok = handshake(*alpha, "beta", beta, {"alpha", "gamma"});
  EXPECT_TRUE(ok.server.is_ok()) << ok.server.error().message;
  EXPECT_TRUE(ok.client.is_ok()) << ok.client.error().message;

  // A revoked client is refused by the server, and a revoked server by the client.
  Session stolen = handshake(*gamma, "beta", beta, {"alpha", "gamma"});
  ASSERT_FALSE(stolen.server.is_ok());
  EXPECT_EQ(stolen.server.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(stolen.server.error().message.find("revoked"), std::string::npos)
      << stolen.server.error().message;
  if (stolen.client) {  // TLS 1.3: the client is told at its first read
    std::vector<uint8_t> byte(1);
    EXPECT_FALSE((*stolen.client)->read_exact(byte, milliseconds(5000)).is_ok());
  }
  Session dialled = handshake(beta, "gamma", *gamma, {"beta"});
  EXPECT_FALSE(dialled.client.is_ok());
  EXPECT_FALSE(dialled.server.is_ok());

  // Revoking alpha too replaces crl.pem: the next handshake sees it, without a new context.
  auto revoked_alpha = pki_revoke(ca_, "alpha");
  ASSERT_TRUE(revoked_alpha.is_ok()) << revoked_alpha.error().message;
  EXPECT_EQ(revoked_alpha->revoked, 2u) << "the CRL keeps gamma";
  Session after = handshake(*alpha, "beta", beta, {"alpha", "gamma"});
  EXPECT_FALSE(after.server.is_ok());
  TlsContext::CrlState state = beta.refresh_crl();
  EXPECT_EQ(state.generation, 2u);
  EXPECT_EQ(state.revoked, 2u);
  EXPECT_EQ(state.problem, "");
  EXPECT_TRUE(beta.is_revoked(revoked_alpha->serial));
  EXPECT_FALSE(beta.is_revoked("01"));

  // A CRL file that stops loading keeps the revocations in force and says why.
  {
    std::ofstream garbage(beta_files.crl_file, std::ios::trunc);
    garbage << "-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n";
  }
  state = beta.refresh_crl();
  EXPECT_NE(state.problem, "");
  EXPECT_EQ(state.generation, 2u);
  Session still = handshake(*alpha, "beta", beta, {"alpha", "gamma", "delta"});
  EXPECT_FALSE(still.server.is_ok()) << "a broken CRL file must not lift a revocation";
  Session honest = handshake(*delta, "beta", beta, {"alpha", "gamma", "delta"});
  EXPECT_TRUE(honest.server.is_ok()) << honest.server.error().message;
  std::filesystem::remove(beta_files.crl_file);
  EXPECT_NE(beta.refresh_crl().problem.find("crl.pem"), std::string::npos);
  auto revoked_delta = pki_revoke(ca_, "delta");
  ASSERT_TRUE(revoked_delta.is_ok()) << "a new crl.pem when there is none";
  EXPECT_EQ(revoked_delta->revoked, 1u);

  // A host whose own certificate is revoked, or a CRL from another CA, does not start.
  const std::string& moved = revoked_delta->moved_to;
  TlsFiles own{ca_ + "/ca.crt", moved, moved.substr(0, moved.size() - 4) + ".key",
               ca_ + "/crl.pem"};
  auto refused = TlsContext::create(own);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.error().message.find("is revoked"), std::string::npos)
      << refused.error().message;
  ASSERT_TRUE(pki_issue(other_, "beta").is_ok());
  ASSERT_TRUE(pki_revoke(other_, "beta").is_ok());
  TlsFiles foreign = files(ca_, "gamma");
  foreign.crl_file = other_ + "/crl.pem";
  auto wrong_ca = TlsContext::create(foreign);
  ASSERT_FALSE(wrong_ca.is_ok());
  EXPECT_NE(wrong_ca.error().message.find("not signed by the CA"), std::string::npos)
      << wrong_ca.error().message;
}

// A reload: new handshakes (either side) present the new certificate, a session open before
// goes on with the old one, and files that do not load keep the running context.
TEST_F(CryptoTest, ReloadPresentsTheNewCertificateToNewHandshakesOnly) {
  make_pkis();
  auto alpha = context(ca_, "alpha");
  auto beta = context(ca_, "beta");
  Session before = handshake(*alpha, "beta", *beta, {"alpha"});
  ASSERT_TRUE(before.client.is_ok() && before.server.is_ok());
  const std::string old_serial = (*before.client)->peer_serial();

  // Re-issued: the old pair moved aside, a new one in its place, loaded from other paths.
  for (const char* ext : {".crt", ".key"})
    std::filesystem::rename(ca_ + "/beta" + ext, ca_ + "/beta-old" + ext);
  ASSERT_TRUE(pki_issue(ca_, "beta").is_ok());
  for (const char* ext : {".crt", ".key"})
    std::filesystem::rename(ca_ + "/beta" + ext, ca_ + "/beta-new" + ext);
  TlsFiles fresh{ca_ + "/ca.crt", ca_ + "/beta-new.crt", ca_ + "/beta-new.key"};

  // Bad files first (a missing key, a key of another pair, a pair of another CA): each keeps
  // the running context.
  EXPECT_FALSE(beta->reload({fresh.ca_file, fresh.cert_file, ca_ + "/nothing.key"}).is_ok());
  Status bad = beta->reload({fresh.ca_file, fresh.cert_file, ca_ + "/beta-old.key"});
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.message().find("does not match"), std::string::npos) << bad.message();
  EXPECT_FALSE(beta->reload({fresh.ca_file, other_ + "/alpha.crt", other_ + "/alpha.key"}).is_ok());
  Session still_old = handshake(*alpha, "beta", *beta, {"alpha"});
  ASSERT_TRUE(still_old.client.is_ok()) << still_old.client.error().message;
  EXPECT_EQ((*still_old.client)->peer_serial(), old_serial);

  ASSERT_TRUE(beta->reload(fresh).is_ok());
  Session accepted = handshake(*alpha, "beta", *beta, {"alpha"});
  ASSERT_TRUE(accepted.client.is_ok()) << accepted.client.error().message;
  ASSERT_TRUE(accepted.server.is_ok()) << accepted.server.error().message;
  const std::string new_serial = (*accepted.client)->peer_serial();
  EXPECT_NE(new_serial, old_serial);
  Session dialled = handshake(*beta, "alpha", *alpha, {"beta"});  // beta dials: the new one too
  ASSERT_TRUE(dialled.server.is_ok()) << dialled.server.error().message;
  EXPECT_EQ((*dialled.server)->peer_serial(), new_serial);

  // The session from before the reload goes on.
  std::vector<uint8_t> byte(1);
  ASSERT_TRUE((*before.server)->write_all(as_bytes("y")).is_ok());
  ASSERT_TRUE((*before.client)->read_exact(byte, milliseconds(2000)).is_ok());
  EXPECT_EQ(byte[0], 'y');
}

TEST_F(CryptoTest, CloseWakesABlockedReader) {
  make_pkis();
  auto alpha = context(ca_, "alpha");
  auto beta = context(ca_, "beta");
  Session session = handshake(*alpha, "beta", *beta, {"alpha"});
  ASSERT_TRUE(session.client.is_ok() && session.server.is_ok());
  TlsStream& client = **session.client;
  auto start = Clock::now();
  auto reader = std::async(std::launch::async, [&] {
    std::vector<uint8_t> byte(1);
    return client.read_exact(byte, milliseconds(10000));
  });
  std::this_thread::sleep_for(milliseconds(100));
  client.close();
  EXPECT_EQ(reader.get().code(), ErrorCode::kUnavailable);
  EXPECT_LT(Clock::now() - start, milliseconds(5000));
  EXPECT_FALSE(client.write_all(as_bytes("late")).is_ok());
}

// Data the peer sent before a close() waits in the socket buffer: it is not read any more.
TEST_F(CryptoTest, AClosedSessionReadsNothingThatWasStillBuffered) {
  make_pkis();
  auto alpha = context(ca_, "alpha");
  auto beta = context(ca_, "beta");
  Session session = handshake(*alpha, "beta", *beta, {"alpha"});
  ASSERT_TRUE(session.client.is_ok() && session.server.is_ok());
  ASSERT_TRUE((*session.server)->write_all(as_bytes("buffered")).is_ok());
  for (int i = 0; i < 100 && !(*session.client)->readable_now(); ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_TRUE((*session.client)->readable_now());
  (*session.client)->close();
  std::vector<uint8_t> got(8);
  Status read = (*session.client)->read_exact(got, milliseconds(1000));
  EXPECT_EQ(read.code(), ErrorCode::kUnavailable) << read.message();
}

TEST_F(CryptoTest, PeerFromAnotherCaIsRefusedByBothSides) {
  make_pkis();
  auto foreign = context(other_, "alpha");
  auto beta = context(ca_, "beta");
  Session session = handshake(*foreign, "beta", *beta, {"alpha"});
  ASSERT_FALSE(session.client.is_ok());
  ASSERT_FALSE(session.server.is_ok());
  EXPECT_EQ(session.client.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(session.server.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(session.client.error().message.find("certificate verify failed"), std::string::npos)
      << session.client.error().message;
}

TEST_F(CryptoTest, ServerRefusesANameItDoesNotAllow) {
  make_pkis();
  auto gamma = context(ca_, "gamma");
  auto beta = context(ca_, "beta");
  Session session = handshake(*gamma, "beta", *beta, {"alpha"});
  ASSERT_FALSE(session.server.is_ok());
  EXPECT_EQ(session.server.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(session.server.error().message.find("'gamma'"), std::string::npos)
      << session.server.error().message;
  // TLS 1.3: the client finishes first, then learns of the refusal from the server's alert.
  if (session.client.is_ok()) {
    std::vector<uint8_t> byte(1);
    Status read = (*session.client)->read_exact(byte, milliseconds(5000));
    EXPECT_EQ(read.code(), ErrorCode::kPermissionDenied) << read.message();
  }
}

TEST_F(CryptoTest, ClientRefusesAServerWithTheWrongName) {
  make_pkis();
  auto alpha = context(ca_, "alpha");
  auto gamma = context(ca_, "gamma");
  Session session = handshake(*alpha, "beta", *gamma, {"alpha"});
  ASSERT_FALSE(session.client.is_ok());
  EXPECT_EQ(session.client.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(session.client.error().message.find("presented certificate for 'gamma', expected "
                                                "'beta'"),
            std::string::npos)
      << session.client.error().message;
  EXPECT_FALSE(session.server.is_ok());
}

TEST_F(CryptoTest, GarbageAndSilenceFailTheHandshakeCleanly) {
  make_pkis();
  auto beta = context(ca_, "beta");
  {
    auto [client_fd, server_fd] = tcp_pair();
    const std::string request = "GET / HTTP/1.0\r\n\r\n";
    ASSERT_EQ(::send(client_fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    auto accepted = TlsStream::accept(*beta, server_fd, {"alpha"}, milliseconds(2000));
    ASSERT_FALSE(accepted.is_ok());
    EXPECT_NE(accepted.error().code, ErrorCode::kTimeout) << accepted.error().message;
    ::close(client_fd);
  }
  {
    auto [client_fd, server_fd] = tcp_pair();
    auto start = Clock::now();
    auto accepted = TlsStream::accept(*beta, server_fd, {"alpha"}, milliseconds(300));
    ASSERT_FALSE(accepted.is_ok());
    EXPECT_EQ(accepted.error().code, ErrorCode::kTimeout);
    EXPECT_LT(Clock::now() - start, milliseconds(3000));
    ::close(client_fd);
  }
}

TEST(StreamChecksumTest, KnownSha256) {
  StreamChecksum sum;
  sum.update(as_bytes("a"));
  sum.update(as_bytes(""));
  sum.update(as_bytes("bc"));
  auto digest = sum.finish();
  EXPECT_EQ(StreamChecksum::hex(digest),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  StreamChecksum empty;
  EXPECT_EQ(StreamChecksum::hex(empty.finish()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace zrep
