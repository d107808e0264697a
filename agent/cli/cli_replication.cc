// The replication commands of the command line, each a request to the daemon: init and sync,
// list and status, and expire, changedest and clear. Each add_* registers one subcommand, its
// options and the callback that sends the request.
#include <memory>
#include <string>
#include <vector>

#include "agent/cli/cli_internal.h"

namespace zrep::cli {
namespace {

struct InitOptions {
  std::string fs, remote, dest;
  bool force = false;
  bool recursive = false;
};

void add_init(CLI::App& app, const GlobalOptions& g, int& rc) {
  auto o = std::make_shared<InitOptions>();
  auto* cmd = app.add_subcommand(
      "init",
      "pair FS with REMOTEHOST:DESTFS and send it in full (DESTFS must not exist yet, unless "
      "--force)");
  cmd->add_option("FS", o->fs, "local filesystem to replicate")->required();
  cmd->add_option("REMOTEHOST", o->remote, "peer name (a [[peer]] in the config)")->required();
  cmd->add_option("DESTFS", o->dest, "filesystem to create on the peer")->required();
  cmd->add_flag("--force", o->force,
                "replace DESTFS if it is a replica from this host (the old copy is kept there, "
                "renamed aside)");
  cmd->add_flag("-R,--recursive", o->recursive,
                "FS and every filesystem below it, with one recursive snapshot per run; "
                "filesystems created below it later are picked up by the next sync");
  cmd->callback([&g, &rc, o] {
    control::Request req;
    auto* init = req.mutable_init();
    init->set_fs(o->fs);
    init->set_remote_host(o->remote);
    init->set_dest_fs(o->dest);
    init->set_force(o->force);
    init->set_recursive(o->recursive);
    rc = call_daemon(g, req);
  });
}

void add_sync(CLI::App& app, const GlobalOptions& g, int& rc) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand("sync", "send what changed since the last sync: FS... or 'all'");
  cmd->add_option("FS", *names, "filesystems, or 'all' for every filesystem this host masters")
      ->required();
  cmd->callback([&g, &rc, names] {
    control::Request r;
    auto* s = r.mutable_sync();
    if (names->size() == 1 && (*names)[0] == "all") {
      s->set_all(true);
    } else {
      for (const auto& n : *names) s->add_fs(n);
    }
    rc = call_daemon(g, r);
  });
}

struct ListOptions {
  std::vector<std::string> names;
  bool incoming = false;
  std::string snaps_of;
};

void add_list(CLI::App& app, const GlobalOptions& g, int& rc) {
  auto o = std::make_shared<ListOptions>();
  auto* cmd = app.add_subcommand(
      "list", "filesystems this host masters, with their pairing (-L: replicas held here)");
  cmd->add_option("FS", o->names, "only these filesystems (any role)");
  cmd->add_flag("-L,--incoming", o->incoming, "the replicas this host holds for peers");
  cmd->add_option("-s,--snapshots", o->snaps_of, "the zrep snapshots of FS, with sent state");
  cmd->callback([&g, &rc, o] {
    control::Request r;
    auto* l = r.mutable_list();
    for (const auto& n : o->names) l->add_fs(n);
    l->set_incoming(o->incoming);
    l->set_snapshots_of(o->snaps_of);
    rc = call_daemon(g, r);
  });
}

void add_status(CLI::App& app, const GlobalOptions& g, int& rc) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand("status", "last sync, lag, role and errors of each filesystem");
  cmd->add_option("FS", *names, "only these filesystems");
  cmd->callback([&g, &rc, names] {
    control::Request r;
    for (const auto& n : *names) r.mutable_status()->add_fs(n);
    r.mutable_status();
    rc = call_daemon(g, r);
  });
}

void add_expire(CLI::App& app, const GlobalOptions& g, int& rc) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand("expire",
                                 "apply zrep:savecount (default 5) to zrep snapshots here and, "
                                 "for a master, on its peer: FS... or 'all'");
  cmd->add_option("FS", *names, "filesystems, or 'all'")->required();
  cmd->callback([&g, &rc, names] {
    control::Request r;
    auto* e = r.mutable_expire();
    if (names->size() == 1 && (*names)[0] == "all") {
      e->set_all(true);
    } else {
      for (const auto& n : *names) e->add_fs(n);
    }
    rc = call_daemon(g, r);
  });
}

struct ChangeDestOptions {
  std::string fs, host, dest;
};

void add_changedest(CLI::App& app, const GlobalOptions& g, int& rc) {
  auto o = std::make_shared<ChangeDestOptions>();
  auto* cmd = app.add_subcommand(
      "changedest",
      "replicate FS to REMOTEHOST:DESTFS from now on; DESTFS must exist and share a snapshot "
      "with FS (found by GUID), so no full resend is needed");
  cmd->add_option("FS", o->fs, "filesystem this host masters")->required();
  cmd->add_option("REMOTEHOST", o->host, "peer name")->required();
  cmd->add_option("DESTFS", o->dest, "existing filesystem on the peer")->required();
  cmd->callback([&g, &rc, o] {
    control::Request r;
    r.mutable_changedest()->set_fs(o->fs);
    r.mutable_changedest()->set_remote_host(o->host);
    r.mutable_changedest()->set_dest_fs(o->dest);
    rc = call_daemon(g, r);
  });
}

struct ClearOptions {
  std::string fs, host;
  bool yes = false;
};

void add_clear(CLI::App& app, const GlobalOptions& g, int& rc) {
  auto o = std::make_shared<ClearOptions>();
  auto* cmd = app.add_subcommand(
      "clear",
      "remove FS's replication config (zrep properties), here and with REMOTEHOST on the peer "
      "too; never data or snapshots");
  cmd->add_option("FS", o->fs, "filesystem")->required();
  cmd->add_option("REMOTEHOST", o->host, "also clear the replica on this peer");
  cmd->add_flag("--yes", o->yes, "really do it");
  cmd->callback([&g, &rc, o] {
    if (!o->yes) {
      rc = fail("clear stops replication of " + o->fs +
                    " and removes its zrep properties (data and snapshots stay). Run again "
                    "with --yes to do it",
                kExitUsage);
      return;
    }
    control::Request r;
    r.mutable_clear()->set_fs(o->fs);
    r.mutable_clear()->set_remote_host(o->host);
    rc = call_daemon(g, r);
  });
}

}  // namespace

void add_sync_commands(CLI::App& app, const GlobalOptions& g, int& rc) {
  add_init(app, g, rc);
  add_sync(app, g, rc);
}

void add_status_commands(CLI::App& app, const GlobalOptions& g, int& rc) {
  add_list(app, g, rc);
  add_status(app, g, rc);
  add_check_command(app, g, rc);
}

void add_maintenance_commands(CLI::App& app, const GlobalOptions& g, int& rc) {
  add_expire(app, g, rc);
  add_changedest(app, g, rc);
  add_clear(app, g, rc);
}

}  // namespace zrep::cli
