// doctor's offline checks (diagnose.h): the config, the PKI files, ZFS, filesystems, min_free.
#include "agent/ops/diagnose.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "agent/logic/zrep_props.h"
#include "agent/zfs/zfs.h"
#include "crypto/pki.h"
#include "crypto/tls.h"

namespace zrep {
namespace {

using L = control::Check;

std::string dir_of(const std::string& file) {
  std::string dir = std::filesystem::path(file).parent_path().string();
  return dir.empty() ? "." : dir;
}

std::string issue_hint(const Config& c) {
  return "issue this host a key and certificate from your CA: 'zrep-agent pki issue PKI_DIR " +
         c.host + "' where the CA key is kept, then copy " + c.host + ".key, " + c.host +
         ".crt and ca.crt here";
}

void pki_checks(const Config& c, int64_t now, std::vector<control::Check>& out) {
  auto names = certificate_names(c.cert_file);
  if (!names) {
    out.push_back(make_check("certificate", L::LEVEL_FAIL, names.error().message, issue_hint(c)));
  } else if (std::find(names->begin(), names->end(), c.host) == names->end()) {
    std::string list;
    for (const auto& n : *names) list += (list.empty() ? "" : ", ") + n;
    out.push_back(make_check(
        "certificate name", L::LEVEL_FAIL,
        c.cert_file + " names " + (list.empty() ? "nothing" : list) + ", not this host '" + c.host +
            "'",
        "set host = the name in the certificate in " + c.source + ", or " + issue_hint(c)));
  } else {
    out.push_back(make_check("certificate name", L::LEVEL_OK, c.cert_file + " names " + c.host));
  }
  auto tls = TlsContext::create({c.ca_file, c.cert_file, c.key_file, c.crl_file});
  if (!tls) {
    out.push_back(
        make_check("certificate chain", L::LEVEL_FAIL, tls.error().message, issue_hint(c)));
  } else {
    out.push_back(make_check("certificate chain", L::LEVEL_OK,
                             c.key_file + " matches " + c.cert_file + ", which chains to " +
                                 c.ca_file + (c.crl_file.empty() ? "" : " and is not revoked")));
  }
  auto expiry = [&](const char* name, const Result<std::vector<Expiry>>& got,
                    const std::string& file, const std::string& hint) {
    if (!got) return;  // the chain check above already says what is wrong with the file
    for (const Expiry& e : *got) {
      out.push_back(expiry_check(name, file + " (" + e.what + ")", e.not_after, now, hint));
    }
  };
  expiry("certificate expiry", certificate_expiry(c.cert_file), c.cert_file, issue_hint(c));
  expiry("CA expiry", certificate_expiry(c.ca_file), c.ca_file,
         "make a new CA (zrep-agent pki init) and issue every host a new pair from it");
  if (!c.crl_file.empty()) {
    expiry("CRL expiry", crl_expiry(c.crl_file), c.crl_file,
           "renew it: 'zrep-agent pki revoke' rewrites crl.pem; copy it to every host");
  }
  struct stat st {};
  if (::stat(c.key_file.c_str(), &st) != 0) {
    out.push_back(make_check("key file mode", L::LEVEL_FAIL,
                             "cannot read " + c.key_file + ": " + std::strerror(errno),
                             issue_hint(c)));
  } else {
    out.push_back(key_mode_check(c.key_file, static_cast<uint32_t>(st.st_mode)));
  }
  const std::string key_dir = dir_of(c.key_file);
  out.push_back(ca_key_check(key_dir, ::access((key_dir + "/" + kCaKeyFile).c_str(), F_OK) == 0));
}

std::string features_text(const ZfsFeatures& f) {
  std::string have, lack;
  auto add = [&](bool on, const char* what) { (on ? have : lack) += std::string(" ") + what; };
  add(f.holds, "holds");
  add(f.bookmarks, "bookmarks");
  add(f.resumable_receive, "resumable-receive");
  add(f.raw_send, "raw-send");
  add(f.compressed_send, "compressed-send");
  std::string out = f.dialect == ZfsFeatures::Dialect::kOpenZfs ? "openzfs " + f.version
                                                                : f.version;  // "legacy (...)"
  if (!have.empty()) out += "; has" + have;
  if (!lack.empty()) out += "; lacks" + lack;
  return out;
}

// The filesystems min_free applies to: the configured ones, and those this host masters.
std::set<std::string> space_checked(const Config& c, const Zfs& zfs) {
  std::set<std::string> out;
  for (const auto& f : c.filesystems) out.insert(f.name);
  if (auto found = zfs.find_local_props({props::kMaster, props::kSrcHost})) {
    for (const auto& [fs, p] : *found) {
      if (props::get(p, props::kMaster) == "yes" && props::get(p, props::kSrcHost) == c.host) {
        out.insert(fs);
      }
    }
  }
  return out;
}

void filesystem_checks(const Config& c, const Zfs& zfs, std::vector<control::Check>& out) {
  for (const auto& f : c.filesystems) {
    auto exists = zfs.exists(f.name);
    if (!exists) {
      out.push_back(make_check("filesystem " + f.name, L::LEVEL_FAIL, exists.error().message));
    } else if (!*exists) {
      out.push_back(
          make_check("filesystem " + f.name, L::LEVEL_FAIL,
                     f.name + " has a [[filesystem]] entry in " + c.source + " but does not exist",
                     "create it, fix the name, or remove the entry"));
    } else {
      out.push_back(make_check("filesystem " + f.name, L::LEVEL_OK, "exists"));
    }
  }
  if (c.schedule.min_free_bytes == 0) return;
  const std::string need = std::to_string(c.schedule.min_free_bytes);
  for (const auto& fs : space_checked(c, zfs)) {
    auto avail = zfs.available_bytes(fs);
    if (!avail) continue;  // missing: said above
    if (*avail >= c.schedule.min_free_bytes) {
      out.push_back(make_check("min_free " + fs, L::LEVEL_OK,
                               std::to_string(*avail) + " bytes available, min_free " + need));
    } else {
      out.push_back(make_check("min_free " + fs, L::LEVEL_FAIL,
                               "only " + std::to_string(*avail) + " bytes available, below " +
                                   "min_free (" + need + "): scheduled syncs make no snapshot",
                               "free space in its pool, or lower min_free in " + c.source));
    }
  }
}

}  // namespace

control::Check make_check(std::string name, control::Check::Level level, std::string detail,
                          std::string what_to_do) {
  control::Check c;
  c.set_name(std::move(name));
  c.set_level(level);
  c.set_detail(std::move(detail));
  c.set_what_to_do(std::move(what_to_do));
  return c;
}

control::Check config_failure(const std::string& path, const std::string& error) {
  return make_check("config", L::LEVEL_FAIL, error,
                    "fix " + path + " (every key is documented in zrep-agent.toml.example)");
}

std::vector<control::Check> offline_checks(const Config& config, int64_t now) {
  std::vector<control::Check> out;
  out.push_back(make_check("config", L::LEVEL_OK,
                           config.source + ": host " + config.host + ", " +
                               std::to_string(config.peers.size()) + " peer(s)"));
  pki_checks(config, now, out);
  auto zfs = Zfs::probe();
  if (!zfs) {
    out.push_back(make_check("zfs", L::LEVEL_FAIL, zfs.error().message,
                             "install ZFS and load its module (or start zfs-fuse)"));
    return out;
  }
  out.push_back(make_check("zfs", L::LEVEL_OK, features_text(zfs->features())));
  filesystem_checks(config, *zfs, out);
  return out;
}

}  // namespace zrep
