#include "crypto/openssl_util.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace zrep {
namespace {

// PEM files we load are a few KiB; anything much larger is the wrong file.
constexpr size_t kMaxPemFileSize = 1 << 20;

Result<std::string> read_small_file(const std::string& path, std::string_view what) {
  const std::string doing = "cannot read " + std::string(what) + " file";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return file_error(errno, doing, path);
  std::string data;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return file_error(err, doing, path);
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > kMaxPemFileSize) {
      ::close(fd);
      return make_error(ErrorCode::kInvalidArgument,
                        std::string(what) + " file " + path + " is too large to be a PEM file");
    }
  }
  ::close(fd);
  return data;
}

BioPtr memory_bio(const std::string& data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// Never prompt on a terminal for a pass phrase: agent keys are unencrypted by design.
int no_password(char*, int, int, void*) { return -1; }

}  // namespace

std::string openssl_errors() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    std::string item;
    if (reason != nullptr) {
      item = reason;
    } else {
      char buf[256];
      ERR_error_string_n(code, buf, sizeof buf);
      item = buf;
    }
    if (text.find(item) != std::string::npos) continue;
    if (!text.empty()) text += "; ";
    text += item;
  }
  return text.empty() ? "unknown OpenSSL error" : text;
}

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

Error file_error(int err, std::string_view doing, const std::string& path) {
  ErrorCode code = ErrorCode::kInternal;
  if (err == ENOENT || err == ENOTDIR) code = ErrorCode::kNotFound;
  if (err == EACCES || err == EPERM) code = ErrorCode::kPermissionDenied;
  if (err == EEXIST) code = ErrorCode::kAlreadyExists;
  return make_error(code, std::string(doing) + " " + path + ": " + errno_text(err));
}

Result<std::vector<X509Ptr>> load_certificates(const std::string& path, std::string_view what) {
  auto data = read_small_file(path, what);
  if (!data) return data.error();
  BioPtr bio = memory_bio(*data);
  if (!bio) return make_error(ErrorCode::kInternal, "out of memory: " + openssl_errors());
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr)) {
    certs.emplace_back(cert);
  }
  // The loop always ends on an error ("no start line" at the end of the data).
  std::string why = openssl_errors();
  if (certs.empty()) {
    return make_error(ErrorCode::kInvalidArgument, std::string(what) + " file " + path +
                                                       " holds no PEM certificate (" + why + ")");
  }
  return certs;
}

Result<X509Ptr> load_certificate(const std::string& path, std::string_view what) {
  auto certs = load_certificates(path, what);
  if (!certs) return certs.error();
  return std::move(certs->front());
}

Result<PkeyPtr> load_private_key(const std::string& path) {
  auto data = read_small_file(path, "key");
  if (!data) return data.error();
  BioPtr bio = memory_bio(*data);
  if (!bio) return make_error(ErrorCode::kInternal, "out of memory: " + openssl_errors());
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
  if (!key) {
    return make_error(ErrorCode::kInvalidArgument,
                      "key file " + path + " holds no usable private key (it must be an " +
                          "unencrypted PEM key): " + openssl_errors());
  }
  return key;
}

std::vector<std::string> x509_names(X509* cert) {
  std::vector<std::string> names;
  auto add = [&names](const unsigned char* data, int length) {
    if (data == nullptr || length <= 0) return;
    std::string name(reinterpret_cast<const char*>(data), static_cast<size_t>(length));
    if (name.find('\0') != std::string::npos) return;
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  };

  X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
    unsigned char* utf8 = nullptr;
    int length = ASN1_STRING_to_UTF8(&utf8, value);
    add(utf8, length);
    OPENSSL_free(utf8);
  }

  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* san = sk_GENERAL_NAME_value(sans, i);
      if (san->type != GEN_DNS) continue;
      add(ASN1_STRING_get0_data(san->d.dNSName), ASN1_STRING_length(san->d.dNSName));
    }
    GENERAL_NAMES_free(sans);
  }
  return names;
}

std::string serial_hex(const ASN1_INTEGER* serial) {
  BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return {};
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return {};
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

Status check_chains_to_ca(const std::vector<X509Ptr>& ca, X509* cert, const std::string& cert_file,
                          const std::string& ca_file) {
  X509StorePtr store(X509_STORE_new());
  X509StoreCtxPtr verify(X509_STORE_CTX_new());
  if (!store || !verify) return make_error(ErrorCode::kInternal, "out of memory");
  for (const X509Ptr& ca_cert : ca) X509_STORE_add_cert(store.get(), ca_cert.get());
  if (X509_STORE_CTX_init(verify.get(), store.get(), cert, nullptr) != 1) {
    return make_error(ErrorCode::kInternal, "cannot check certificate: " + openssl_errors());
  }
  if (X509_verify_cert(verify.get()) == 1) return Status::ok();
  openssl_errors();  // drop the queue: the verify error says it all
  int err = X509_STORE_CTX_get_error(verify.get());
  switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return make_error(ErrorCode::kInvalidArgument,
                        "certificate " + cert_file + " is not signed by the CA in " + ca_file);
    default:
      return make_error(ErrorCode::kInvalidArgument,
                        "certificate " + cert_file + " does not verify against the CA in " +
                            ca_file + ": " + X509_verify_cert_error_string(err));
  }
}

}  // namespace zrep
