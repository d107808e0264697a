#include "crypto/pki.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <functional>
#include <utility>

#include "common/host_name.h"
#include "crypto/openssl_util.h"

namespace zrep {
namespace {

// Certificates start an hour in the past so that a host whose clock is a little behind the one
// that issued them still accepts them.
constexpr long kBackdateSeconds = 3600;

Error openssl_error(std::string_view doing) {
  return make_error(ErrorCode::kInternal, std::string(doing) + ": " + openssl_errors());
}

Status ensure_directory(const std::string& dir) {
  if (dir.empty()) return make_error(ErrorCode::kInvalidArgument, "no PKI directory given");
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::ok();
    return make_error(ErrorCode::kInvalidArgument, dir + " exists and is not a directory");
  }
  if (errno != ENOENT) return file_error(errno, "cannot access", dir);
  // 0700: the directory holds the CA key.
  if (::mkdir(dir.c_str(), 0700) != 0) return file_error(errno, "cannot create directory", dir);
  return Status::ok();
}

Status refuse_existing(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    return make_error(ErrorCode::kAlreadyExists,
                      path + " already exists: refusing to overwrite it");
  }
  return Status::ok();
}

// Creates `path` with `mode` (O_EXCL: never replaces a file, and a key is 0600 from its first
// byte) and fills it with `write`. Removes the file again if anything fails.
Status write_new_file(const std::string& path, mode_t mode,
                      const std::function<bool(FILE*)>& write) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) return refuse_existing(path);
    return file_error(errno, "cannot create", path);
  }
  FILE* file = ::fdopen(fd, "w");
  if (file == nullptr) {
    int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return file_error(err, "cannot write", path);
  }
  bool ok = write(file);
  int err = errno;
  ok = ok && std::fflush(file) == 0 && ::fsync(fd) == 0;
  if (!ok) err = errno;
  if (std::fclose(file) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(path.c_str());
    std::string why = ERR_peek_error() != 0 ? openssl_errors() : errno_text(err);
    return make_error(ErrorCode::kInternal, "cannot write " + path + ": " + why);
  }
  return Status::ok();
}

Status write_key(const std::string& path, EVP_PKEY* key) {
  return write_new_file(path, 0600, [key](FILE* f) {
    return PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  });
}

Status write_certificate(const std::string& path, X509* cert) {
  return write_new_file(path, 0644, [cert](FILE* f) { return PEM_write_X509(f, cert) == 1; });
}

Result<PkeyPtr> make_key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return openssl_error("cannot generate an ECDSA P-256 key");
  return key;
}

Status set_random_serial(X509* cert) {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return openssl_error("cannot get random bytes for a serial number");
  }
  bytes[0] &= 0x7f;  // serial numbers are positive (RFC 5280)
  BignumPtr serial(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  if (!serial || BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) == nullptr) {
    return openssl_error("cannot set a serial number");
  }
  return Status::ok();
}

// Adds an extension written in openssl.cnf syntax ("critical,CA:TRUE"). `issuer` is the signing
// certificate (the certificate itself when self-signed), for authorityKeyIdentifier.
Status add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx{};
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return openssl_error(std::string("cannot add certificate extension ") + OBJ_nid2sn(nid));
  }
  return Status::ok();
}

struct Issuer {
  X509* cert = nullptr;  // nullptr: self-signed
  EVP_PKEY* key = nullptr;
};

// A v3 certificate for `key` named CN=`common_name`, with `extensions`, signed SHA-256 by
// `issuer`.
Result<X509Ptr> make_certificate(const std::string& common_name, EVP_PKEY* key, Issuer issuer,
                                 int valid_days,
                                 const std::vector<std::pair<int, std::string>>& extensions) {
  X509Ptr cert(X509_new());
  if (!cert) return openssl_error("cannot make a certificate");
  X509* x = cert.get();
  if (issuer.cert == nullptr) issuer = Issuer{x, key};

  X509_NAME* name = X509_get_subject_name(x);
  bool ok = X509_set_version(x, X509_VERSION_3) == 1 &&
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>(common_name.c_str()),
                                       -1, -1, 0) == 1 &&
            X509_set_issuer_name(x, X509_get_subject_name(issuer.cert)) == 1 &&
            X509_gmtime_adj(X509_getm_notBefore(x), -kBackdateSeconds) != nullptr &&
            X509_time_adj_ex(X509_getm_notAfter(x), valid_days, 0, nullptr) != nullptr &&
            X509_set_pubkey(x, key) == 1;
  if (!ok) return openssl_error("cannot fill in the certificate for " + common_name);
  ZREP_RETURN_IF_ERROR(set_random_serial(x));
  for (const auto& [nid, value] : extensions) {
    ZREP_RETURN_IF_ERROR(add_extension(x, issuer.cert, nid, value.c_str()));
  }
  if (X509_sign(x, issuer.key, EVP_sha256()) <= 0) {
    return openssl_error("cannot sign the certificate for " + common_name);
  }
  return cert;
}

Status check_valid_days(int valid_days) {
  if (valid_days > 0) return Status::ok();
  return make_error(ErrorCode::kInvalidArgument,
                    "validity must be at least one day, not " + std::to_string(valid_days));
}

struct Ca {
  X509Ptr cert;
  PkeyPtr key;
};

Result<Ca> load_ca(const std::string& dir) {
  const std::string ca_key_path = dir + "/" + kCaKeyFile;
  const std::string ca_cert_path = dir + "/ca.crt";
  if (::access(ca_key_path.c_str(), F_OK) != 0 || ::access(ca_cert_path.c_str(), F_OK) != 0) {
    return make_error(ErrorCode::kNotFound,
                      "no CA in " + dir + ": run 'zrep-agent pki init " + dir + "' first");
  }
  auto ca_key = load_private_key(ca_key_path);
  if (!ca_key) return ca_key.error();
  auto ca_cert = load_certificate(ca_cert_path, "CA certificate");
  if (!ca_cert) return ca_cert.error();
  if (X509_check_private_key(ca_cert->get(), ca_key->get()) != 1) {
    openssl_errors();  // drop the queue: the message below says it all
    return make_error(ErrorCode::kInvalidArgument,
                      "CA key " + ca_key_path + " does not match CA certificate " + ca_cert_path);
  }
  return Ca{std::move(*ca_cert), std::move(*ca_key)};
}

using X509CrlPtr = OpenSslPtr<X509_CRL, X509_CRL_free>;
using Asn1TimePtr = OpenSslPtr<ASN1_TIME, ASN1_TIME_free>;

// A CRL's entries as (serial, revocation time), from an existing crl.pem signed by `ca`.
Status read_revoked(const std::string& path, const Ca& ca,
                    std::vector<std::pair<BignumPtr, time_t>>& out) {
  std::FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) {
    if (errno == ENOENT) return Status::ok();
    return file_error(errno, "cannot open", path);
  }
  X509CrlPtr crl(PEM_read_X509_CRL(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  if (!crl || X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.cert.get())) != 1) {
    openssl_errors();
    return make_error(ErrorCode::kInvalidArgument,
                      path + " is not a CRL signed by this CA: move it away to start a new one");
  }
  STACK_OF(X509_REVOKED)* list = X509_CRL_get_REVOKED(crl.get());
  for (int i = 0; i < sk_X509_REVOKED_num(list); ++i) {
    const X509_REVOKED* r = sk_X509_REVOKED_value(list, i);
    BignumPtr serial(ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(r), nullptr));
    struct tm when {};
    time_t at = ASN1_TIME_to_tm(X509_REVOKED_get0_revocationDate(r), &when) == 1
                    ? timegm(&when)
                    : std::time(nullptr);
    if (!serial) return openssl_error("cannot read " + path);
    out.emplace_back(std::move(serial), at);
  }
  return Status::ok();
}

Result<X509CrlPtr> make_crl(const Ca& ca, const std::vector<std::pair<BignumPtr, time_t>>& revoked,
                            int valid_days) {
  X509CrlPtr crl(X509_CRL_new());
  Asn1TimePtr now(ASN1_TIME_adj(nullptr, std::time(nullptr), 0, -kBackdateSeconds));
  Asn1TimePtr next(ASN1_TIME_adj(nullptr, std::time(nullptr), valid_days, 0));
  if (!crl || !now || !next) return openssl_error("cannot make a CRL");
  bool ok = X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) == 1 &&
            X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.cert.get())) == 1 &&
            X509_CRL_set1_lastUpdate(crl.get(), now.get()) == 1 &&
            X509_CRL_set1_nextUpdate(crl.get(), next.get()) == 1;
  for (const auto& [serial, at] : revoked) {
    X509_REVOKED* r = X509_REVOKED_new();
    OpenSslPtr<ASN1_INTEGER, ASN1_INTEGER_free> number(BN_to_ASN1_INTEGER(serial.get(), nullptr));
    Asn1TimePtr when(ASN1_TIME_set(nullptr, at));
    ok = ok && r != nullptr && number && when &&
         X509_REVOKED_set_serialNumber(r, number.get()) == 1 &&
         X509_REVOKED_set_revocationDate(r, when.get()) == 1 &&
         X509_CRL_add0_revoked(crl.get(), r) == 1;
    if (!ok) {
      X509_REVOKED_free(r);
      break;
    }
  }
  ok = ok && X509_CRL_sort(crl.get()) == 1 &&
       X509_CRL_sign(crl.get(), ca.key.get(), EVP_sha256()) > 0;
  if (!ok) return openssl_error("cannot make a CRL");
  return crl;
}

}  // namespace

Status pki_init(const std::string& dir, int valid_days) {
  ZREP_RETURN_IF_ERROR(check_valid_days(valid_days));
  ZREP_RETURN_IF_ERROR(ensure_directory(dir));
  const std::string key_path = dir + "/" + kCaKeyFile;
  const std::string cert_path = dir + "/ca.crt";
  // Check both first so that a refusal leaves nothing half made.
  ZREP_RETURN_IF_ERROR(refuse_existing(key_path));
  ZREP_RETURN_IF_ERROR(refuse_existing(cert_path));

  auto key = make_key();
  if (!key) return key.status();
  auto cert = make_certificate("zrep-agent CA", key->get(), Issuer{}, valid_days,
                               {{NID_basic_constraints, "critical,CA:TRUE"},
                                {NID_key_usage, "critical,keyCertSign,cRLSign"},
                                {NID_subject_key_identifier, "hash"}});
  if (!cert) return cert.status();

  ZREP_RETURN_IF_ERROR(write_key(key_path, key->get()));
  Status written = write_certificate(cert_path, cert->get());
  if (!written) ::unlink(key_path.c_str());
  return written;
}

Status pki_issue(const std::string& dir, const std::string& host, int valid_days) {
  if (!is_valid_host_name(host)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "'" + host + "' is not a valid host name (letters, digits, '-' and '.', " +
                          "labels of 1 to 63 characters, at most 253 in all)");
  }
  if (host == "ca") {
    return make_error(ErrorCode::kInvalidArgument,
                      "'ca' cannot be a host name here: ca.key and ca.crt are the CA's own files");
  }
  ZREP_RETURN_IF_ERROR(check_valid_days(valid_days));

  auto ca = load_ca(dir);
  if (!ca) return ca.status();

  const std::string key_path = dir + "/" + host + ".key";
  const std::string cert_path = dir + "/" + host + ".crt";
  ZREP_RETURN_IF_ERROR(refuse_existing(key_path));
  ZREP_RETURN_IF_ERROR(refuse_existing(cert_path));

  auto key = make_key();
  if (!key) return key.status();
  auto cert = make_certificate(host, key->get(), Issuer{ca->cert.get(), ca->key.get()}, valid_days,
                               {{NID_subject_alt_name, "DNS:" + host},
                                {NID_basic_constraints, "critical,CA:FALSE"},
                                {NID_key_usage, "critical,digitalSignature"},
                                {NID_ext_key_usage, "serverAuth,clientAuth"},
                                {NID_subject_key_identifier, "hash"},
                                {NID_authority_key_identifier, "keyid:always"}});
  if (!cert) return cert.status();

  ZREP_RETURN_IF_ERROR(write_key(key_path, key->get()));
  Status written = write_certificate(cert_path, cert->get());
  if (!written) ::unlink(key_path.c_str());
  return written;
}

Result<RevokeResult> pki_revoke(const std::string& dir, const std::string& host, int valid_days) {
  if (!is_valid_host_name(host) || host == "ca") {
    return make_error(ErrorCode::kInvalidArgument, "'" + host + "' is not a host of this PKI");
  }
  ZREP_RETURN_IF_ERROR(check_valid_days(valid_days));
  auto ca = load_ca(dir);
  if (!ca) return ca.error();
  RevokeResult result;
  result.cert_file = dir + "/" + host + ".crt";
  result.crl_file = dir + "/crl.pem";
  auto cert = load_certificate(result.cert_file, "certificate");
  if (!cert) return cert.error();
  if (X509_verify(cert->get(), X509_get0_pubkey(ca->cert.get())) != 1) {
    openssl_errors();
    return make_error(ErrorCode::kInvalidArgument,
                      result.cert_file + " is not signed by the CA in " + dir);
  }
  std::vector<std::pair<BignumPtr, time_t>> revoked;
  ZREP_RETURN_IF_ERROR(read_revoked(result.crl_file, *ca, revoked));
  BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert->get()), nullptr));
  if (!serial) return openssl_error("cannot read the serial number of " + result.cert_file);
  char* hex = BN_bn2hex(serial.get());
  result.serial = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  bool listed = false;
  for (const auto& entry : revoked) listed = listed || BN_cmp(entry.first.get(), serial.get()) == 0;
  if (!listed) revoked.emplace_back(std::move(serial), std::time(nullptr));
  result.revoked = revoked.size();
  auto crl = make_crl(*ca, revoked, valid_days);
  if (!crl) return crl.error();

  // The new CRL replaces the old one in one rename: an agent reading it sees one or the other.
  const std::string tmp = result.crl_file + ".new";
  ::unlink(tmp.c_str());
  ZREP_RETURN_IF_ERROR(
      write_new_file(tmp, 0644, [&](FILE* f) { return PEM_write_X509_CRL(f, crl->get()) == 1; }));
  if (::rename(tmp.c_str(), result.crl_file.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return file_error(err, "cannot replace", result.crl_file);
  }
  // Out of the way, so that `pki issue` can make the host a new pair.
  const std::string aside = dir + "/" + host + ".revoked-" + result.serial;
  for (const char* ext : {".crt", ".key"}) {
    const std::string from = dir + "/" + host + ext;
    if (::access(from.c_str(), F_OK) == 0 && ::rename(from.c_str(), (aside + ext).c_str()) != 0) {
      return file_error(errno, "cannot move aside", from);
    }
  }
  result.moved_to = aside + ".crt";
  return result;
}

Result<std::vector<std::string>> certificate_names(const std::string& cert_file) {
  auto cert = load_certificate(cert_file, "certificate");
  if (!cert) return cert.error();
  return x509_names(cert->get());
}

Result<int64_t> certificate_not_after(const std::string& cert_file) {
  auto expiry = certificate_expiry(cert_file);  // the file's first certificate: this host's
  if (!expiry) return expiry.error();
  if (expiry->empty() || expiry->front().not_after == 0) {
    return make_error(ErrorCode::kInvalidArgument, cert_file + ": no readable expiry date");
  }
  return expiry->front().not_after;
}

namespace {

// An ASN1 time as unix seconds (0 when it cannot be read).
int64_t unix_seconds(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

std::string name_text(const X509_NAME* name) {
  char buf[256];
  X509_NAME_oneline(name, buf, sizeof buf);
  return buf;
}

}  // namespace

Result<std::vector<Expiry>> certificate_expiry(const std::string& pem_file) {
  auto certs = load_certificates(pem_file, "certificate");
  if (!certs) return certs.error();
  std::vector<Expiry> out;
  for (const X509Ptr& c : *certs) {
    out.push_back(
        {name_text(X509_get_subject_name(c.get())), unix_seconds(X509_get0_notAfter(c.get()))});
  }
  return out;
}

Result<std::vector<Expiry>> crl_expiry(const std::string& crl_file) {
  std::FILE* f = std::fopen(crl_file.c_str(), "re");
  if (f == nullptr) return file_error(errno, "cannot open CRL file", crl_file);
  std::vector<Expiry> out;
  while (X509_CRL* crl = PEM_read_X509_CRL(f, nullptr, nullptr, nullptr)) {
    out.push_back({"CRL of " + name_text(X509_CRL_get_issuer(crl)),
                   unix_seconds(X509_CRL_get0_nextUpdate(crl))});
    X509_CRL_free(crl);
  }
  std::fclose(f);
  openssl_errors();  // the end-of-file "no start line"
  if (out.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "CRL file " + crl_file + " holds no CRL (-----BEGIN X509 CRL-----)");
  }
  return out;
}

}  // namespace zrep
