// A stolen key is rotated without restarting the agent that trusts it: `pki revoke` writes
// crl.pem, the agent whose [tls] crl names it refuses the revoked certificate at the next
// handshake (as dialler here), and the host works again with a new pair from `pki issue`.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/testbed.h"

namespace zrep::testbed {
namespace {

TEST_F(PairTest, ARevokedPeerIsRefusedWithoutARestartAndANewPairWorks) {
  const std::string& pki = hosts_->pki_dir();
  const std::string crl = pki + "/crl.pem";
  // A CRL that lists some other host to begin with: alpha checks it from its start.
  must({ZREP_AGENT_BINARY, "pki", "issue", pki, "retired-host"});
  must({ZREP_AGENT_BINARY, "pki", "revoke", pki, "retired-host"});
  AgentSpec with_crl = hosts_->alpha_spec;
  with_crl.tls_extra = "crl = \"" + crl + "\"\n";
  hosts_->restart_alpha(with_crl);

  write_file(mnt(src_) + "/a.txt", "one");
  init();
  const auto before = snapshots(dst_);

  // beta's certificate is stolen: revoke it. alpha rereads crl.pem and refuses beta.
  must({ZREP_AGENT_BINARY, "pki", "revoke", pki, beta_name()});
  write_file(mnt(src_) + "/b.txt", "two");
  // The file is checked at every handshake: the very next sync is refused.
  ProcessOutput refused = alpha().cli({"sync", src_}, 60);
  EXPECT_NE(refused.exit_code, 0) << "alpha synced to a revoked peer: " << refused.out;
  EXPECT_NE((refused.out + refused.err).find("revoked"), std::string::npos)
      << refused.out << refused.err;
  EXPECT_EQ(snapshots(dst_), before) << "nothing reached the revoked peer";

  // A new pair for beta (same file names): syncs work again, alpha never restarted.
  must({ZREP_AGENT_BINARY, "pki", "issue", pki, beta_name()});
  hosts_->restart_beta(hosts_->beta_spec);
  auto r = alpha().cli({"sync", src_}, 120);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_newest_snapshot_same();
  expect_same_data();
}

}  // namespace
}  // namespace zrep::testbed
