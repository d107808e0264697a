// `zrep-agent pki`: makes a CA and host certificates and revokes them, in a directory, without
// the daemon (crypto/pki.h does the work; this file registers the commands and prints where the
// files went).
#include <iostream>
#include <memory>
#include <string>

#include "agent/cli/cli_internal.h"
#include "crypto/pki.h"

namespace zrep::cli {
namespace {

struct PkiOptions {
  std::string dir, host;
};

void add_pki_init(CLI::App& pki, const std::shared_ptr<PkiOptions>& o, int& rc) {
  auto* cmd = pki.add_subcommand("init", "make a new CA in DIR (ca.key, ca.crt)");
  cmd->add_option("DIR", o->dir, "directory for the CA")->required();
  cmd->callback([&rc, o] {
    Status s = pki_init(o->dir);
    rc = s ? 0 : fail(s.message());
    if (s)
      std::cout << "CA written to " << o->dir << "/ca.crt (key: " << o->dir
                << "/ca.key, mode 0600)\n";
  });
}

void add_pki_issue(CLI::App& pki, const std::shared_ptr<PkiOptions>& o, int& rc) {
  auto* cmd = pki.add_subcommand("issue", "issue a key and certificate for HOST from DIR's CA");
  cmd->add_option("DIR", o->dir, "directory holding the CA")->required();
  cmd->add_option("HOST", o->host, "host name (as in 'host' of its config)")->required();
  cmd->callback([&rc, o] {
    Status s = pki_issue(o->dir, o->host);
    rc = s ? 0 : fail(s.message());
    if (s) {
      std::cout << "certificate for " << o->host << " written to " << o->dir << "/" << o->host
                << ".crt (key: " << o->dir << "/" << o->host << ".key, mode 0600)\n";
    }
  });
}

void add_pki_revoke(CLI::App& pki, const std::shared_ptr<PkiOptions>& o, int& rc) {
  auto* cmd = pki.add_subcommand(
      "revoke",
      "revoke HOST's certificate: add it to DIR/crl.pem (copy that to [tls] crl on "
      "every host) and move HOST.crt/.key aside for a new 'pki issue'");
  cmd->add_option("DIR", o->dir, "directory holding the CA")->required();
  cmd->add_option("HOST", o->host, "host whose certificate DIR/HOST.crt to revoke")->required();
  cmd->callback([&rc, o] {
    auto r = pki_revoke(o->dir, o->host);
    rc = r ? 0 : fail(r.status().message());
    if (r) {
      std::cout << "revoked " << r->cert_file << " (serial " << r->serial << "), moved to "
                << r->moved_to << "\n"
                << r->crl_file << " now lists " << r->revoked << " certificate(s): copy it to "
                << "the file [tls] crl names on every host (agents reread it within 5 s)\n";
    }
  });
}

}  // namespace

void add_pki_commands(CLI::App& app, int& rc) {
  auto* pki = app.add_subcommand("pki", "make a CA and host certificates, revoke them");
  pki->require_subcommand(1);
  auto o = std::make_shared<PkiOptions>();  // the subcommands share DIR and HOST
  add_pki_init(*pki, o, rc);
  add_pki_issue(*pki, o, rc);
  add_pki_revoke(*pki, o, rc);
}

}  // namespace zrep::cli
