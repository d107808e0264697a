// Helpers shared by the crypto/ sources (internal to crypto/, not part of its interface):
// owning pointers for OpenSSL objects, OpenSSL's error queue as text, and PEM loading whose
// errors name the file and say what is wrong with it.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace zrep {

template <auto Free>
struct OpenSslFree {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
template <typename T, auto Free>
using OpenSslPtr = std::unique_ptr<T, OpenSslFree<Free>>;

using BioPtr = OpenSslPtr<BIO, BIO_free_all>;
using BignumPtr = OpenSslPtr<BIGNUM, BN_free>;
using MdCtxPtr = OpenSslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using PkeyPtr = OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
using SslCtxPtr = OpenSslPtr<SSL_CTX, SSL_CTX_free>;
using SslPtr = OpenSslPtr<SSL, SSL_free>;
using X509Ptr = OpenSslPtr<X509, X509_free>;
using X509ExtensionPtr = OpenSslPtr<X509_EXTENSION, X509_EXTENSION_free>;
using X509StorePtr = OpenSslPtr<X509_STORE, X509_STORE_free>;
using X509StoreCtxPtr = OpenSslPtr<X509_STORE_CTX, X509_STORE_CTX_free>;

// Empties this thread's OpenSSL error queue and returns its reasons, e.g. "certificate verify
// failed" ("unknown OpenSSL error" when the queue was empty).
std::string openssl_errors();

// strerror(err), thread-safe.
std::string errno_text(int err);

// An Error for a failed system call on `path`, with a code that matches errno (kNotFound,
// kPermissionDenied, kAlreadyExists, else kInternal): "<doing> PATH: <strerror>".
Error file_error(int err, std::string_view doing, const std::string& path);

// The first certificate of a PEM file. `what` names the file's role in errors ("certificate").
Result<X509Ptr> load_certificate(const std::string& path, std::string_view what);
// Every certificate of a PEM file (a CA file may hold more than one); at least one.
Result<std::vector<X509Ptr>> load_certificates(const std::string& path, std::string_view what);
// An unencrypted PEM private key.
Result<PkeyPtr> load_private_key(const std::string& path);

// The names a certificate carries: subject CNs first, then DNS SANs, without duplicates. Names
// with an embedded NUL are dropped (they could never match a host name honestly).
std::vector<std::string> x509_names(X509* cert);

// A certificate's serial number in upper-case hex ("" when it has none OpenSSL can read).
std::string serial_hex(const ASN1_INTEGER* serial);

// Whether `cert` chains to one of `ca`; the error names both files and says what is wrong.
Status check_chains_to_ca(const std::vector<X509Ptr>& ca, X509* cert, const std::string& cert_file,
                          const std::string& ca_file);

}  // namespace zrep
