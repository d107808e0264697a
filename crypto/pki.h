// A small PKI for a set of agents: one CA, one key and certificate per host (OpenSSL APIs, no
// `openssl` program). Keys are ECDSA P-256, written mode 0600; certificates are PEM.
//
//   DIR/ca.key  DIR/ca.crt          pki_init
//   DIR/HOST.key  DIR/HOST.crt      pki_issue (CN=HOST, SAN DNS:HOST, client+server auth)
//   DIR/crl.pem                     pki_revoke (the revoked certificates, for [tls] crl)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace zrep {

// The CA key pki_init writes, in the PKI directory: never on a host beside its own key.
inline constexpr const char* kCaKeyFile = "ca.key";

// Makes DIR (0700) if needed and a new CA in it. Refuses (kAlreadyExists) to overwrite an
// existing ca.key or ca.crt.
Status pki_init(const std::string& dir, int valid_days = 3650);

// Issues a key and certificate for `host` signed by DIR's CA. `host` must be a valid host name
// (letters, digits, '-', '.', at most 253 characters). Refuses to overwrite existing files.
Status pki_issue(const std::string& dir, const std::string& host, int valid_days = 825);

// Revokes DIR/HOST.crt: adds its serial number to DIR/crl.pem (made if missing; replaced in one
// rename, signed by the CA, valid for `valid_days`) and moves HOST.crt and HOST.key aside to
// HOST.revoked-SERIAL.crt/.key, so that `pki_issue` can make the host a new pair. Copy crl.pem
// to every host's [tls] crl: agents reread it within seconds and refuse the certificate.
struct RevokeResult {
  std::string cert_file, crl_file, moved_to, serial;
  size_t revoked = 0;  // certificates crl.pem lists now
};
Result<RevokeResult> pki_revoke(const std::string& dir, const std::string& host,
                                int valid_days = 3650);

// The names a certificate file carries (subject CN first, then DNS SANs), for `pki show`-style
// diagnostics and for tests.
Result<std::vector<std::string>> certificate_names(const std::string& cert_file);

// When a certificate file's certificate expires (its notAfter), as a unix time.
Result<int64_t> certificate_not_after(const std::string& cert_file);

// When what a PEM file holds stops being valid (unix seconds), for `doctor`: each certificate's
// notAfter with its subject, and each CRL's nextUpdate (0 for a CRL without one).
struct Expiry {
  std::string what;  // the certificate's subject, or "CRL of ISSUER"
  int64_t not_after = 0;
};
Result<std::vector<Expiry>> certificate_expiry(const std::string& pem_file);
Result<std::vector<Expiry>> crl_expiry(const std::string& crl_file);

}  // namespace zrep
