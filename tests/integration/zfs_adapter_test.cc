// The ZFS adapter against real ZFS: zfs-fuse with a file-backed pool made for this test run.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include "agent/zfs/zfs.h"
#include "common/subprocess.h"

namespace zrep {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kTestbed = ZREP_SOURCE_DIR "/deploy/zfs-testbed.sh";
constexpr const char* kPoolDir = "/var/tmp/zrep-test";

SendSpec send_of(const std::string& snapshot) {
  SendSpec spec;
  spec.snapshot = snapshot;
  return spec;
}

SendSpec send_from(const std::string& from, const std::string& snapshot, bool intermediates) {
  SendSpec spec = send_of(snapshot);
  spec.from = from;
  spec.intermediates = intermediates;
  return spec;
}

class ZfsAdapterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ::signal(SIGPIPE, SIG_IGN);
    auto started = run_process({kTestbed, "start"}, 60s);
    if (!started || started->exit_code != 0) {
      setup_error_ = "cannot start ZFS with 'zfs-testbed.sh start': " +
                     (started ? started->err : started.error().message);
      return;
    }
    pool_ = "zat" + std::to_string(::getpid());
    auto made = run_process({kTestbed, "mkpool", pool_, kPoolDir, "1G"}, 60s);
    if (!made || made->exit_code != 0) {
      setup_error_ = "cannot make pool " + pool_ + ": " + (made ? made->err : made.error().message);
      return;
    }
    pool_made_ = true;
    auto zfs = Zfs::probe();
    if (!zfs) {
      setup_error_ = "probe failed: " + zfs.error().message;
      return;
    }
    zfs_.emplace(std::move(*zfs));
  }

  static void TearDownTestSuite() {
    zfs_.reset();
    if (pool_made_) {
      auto removed = run_process({kTestbed, "rmpool", pool_, kPoolDir}, 60s);
      EXPECT_TRUE(removed && removed->exit_code == 0) << "pool " << pool_ << " may be left over";
    }
  }

  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  const Zfs& zfs() { return *zfs_; }
  std::string ds(const std::string& rel) { return pool_ + "/" + rel; }
  std::string mountpoint(const std::string& rel) { return "/" + ds(rel); }

  // The plain zfs command, to check the adapter against.
  static std::string zfs_value(const std::string& prop, const std::string& name) {
    auto out = run_process({"zfs", "get", "-H", "-p", "-o", "value", prop, name}, 30s);
    EXPECT_TRUE(out && out->exit_code == 0) << (out ? out->err : out.error().message);
    std::string v = out ? out->out : "";
    while (!v.empty() && v.back() == '\n') v.pop_back();
    return v;
  }

  // zfs-fuse leaves the kernel's page cache of a mounted filesystem stale after a receive into
  // it; a fresh mount shows what was received.
  static void remount(const std::string& fs) {
    for (const char* verb : {"unmount", "mount"}) {
      auto out = run_process({"zfs", verb, fs}, 30s);
      ASSERT_TRUE(out && out->exit_code == 0) << verb << " " << fs << ": " << (out ? out->err : "");
    }
  }

  static void write_file(const std::string& path, const std::string& content) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << content;
    f.close();
    ASSERT_TRUE(f.good()) << "cannot write " << path;
  }

  static std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  // Copies the send stream into the receive, as the sender and receiver do across the network.
  // Stops early when the receive stops reading (it failed).
  static uint64_t pump(Child& send, Child& recv) {
    char buf[1 << 16];
    uint64_t total = 0;
    while (true) {
      ssize_t n = ::read(send.stdout_fd(), buf, sizeof buf);
      if (n <= 0) break;
      for (ssize_t off = 0; off < n;) {
        ssize_t w = ::write(recv.stdin_fd(), buf + off, static_cast<size_t>(n - off));
        if (w <= 0) return total;
        off += w;
      }
      total += static_cast<uint64_t>(n);
    }
    recv.close_stdin();
    return total;
  }

  // send | recv through the adapter; the receive's status.
  Status transfer(const SendSpec& send_spec, const RecvSpec& recv_spec, uint64_t* bytes = nullptr) {
    auto send = zfs().start_send(send_spec);
    if (!send) return send.status();
    auto recv = zfs().start_recv(recv_spec);
    if (!recv) return recv.status();
    uint64_t n = pump(*send, *recv);
    if (bytes) *bytes = n;
    Status received = zfs().finish(*recv, "receive into " + recv_spec.target, 60s);
    Status sent = zfs().finish(*send, "send " + send_spec.snapshot, 60s);
    if (!received.is_ok()) return received;
    return sent;
  }

  static inline std::string pool_;
  static inline std::string setup_error_;
  static inline bool pool_made_ = false;
  static inline std::optional<Zfs> zfs_;
};

TEST_F(ZfsAdapterTest, ProbeFindsTheDialect) {
  const ZfsFeatures& f = zfs().features();
  // `zfs version` answers only on OpenZFS; zfs-fuse (pool v23) lacks every 2.x feature.
  bool openzfs = run_process({"zfs", "version"}, std::chrono::seconds(10))->exit_code == 0;
  EXPECT_EQ(f.dialect, openzfs ? ZfsFeatures::Dialect::kOpenZfs : ZfsFeatures::Dialect::kLegacy);
  EXPECT_EQ(f.resumable_receive, openzfs);
  EXPECT_EQ(f.raw_send, openzfs);
  EXPECT_EQ(f.list_parsable, openzfs);
}

TEST_F(ZfsAdapterTest, ProbeOfMissingProgram) {
  Zfs::Options options;
  options.zfs_program = "zrep-no-such-zfs";
  auto zfs = Zfs::probe(options);
  ASSERT_FALSE(zfs.is_ok());
  EXPECT_EQ(zfs.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(zfs.error().message,
            "cannot run 'zrep-no-such-zfs': not found in PATH (is ZFS installed?)");
}

TEST_F(ZfsAdapterTest, Exists) {
  ASSERT_TRUE(zfs().create_filesystem(ds("ex"), false).is_ok());
  ASSERT_TRUE(zfs().snapshot(ds("ex@s1")).is_ok());
  EXPECT_TRUE(zfs().exists(pool_).value());
  EXPECT_TRUE(zfs().exists(ds("ex")).value());
  EXPECT_TRUE(zfs().exists(ds("ex@s1")).value());
  EXPECT_FALSE(zfs().exists(ds("nope")).value());
  EXPECT_FALSE(zfs().exists(ds("ex@nope")).value());
  EXPECT_FALSE(zfs().exists("zrepnosuchpool/x").value());
}

TEST_F(ZfsAdapterTest, UserProperties) {
  const std::string fs = ds("props");
  ASSERT_TRUE(zfs().create_filesystem(fs, false).is_ok());
  ASSERT_TRUE(zfs().set_prop(fs, "zrep:master", "yes").is_ok());
  ASSERT_TRUE(zfs().set_prop(fs, "zrep:note", "spaces and = signs").is_ok());
  auto props = zfs().get_props(fs, {"zrep:master", "zrep:note", "zrep:epoch", "readonly"});
  ASSERT_TRUE(props.is_ok()) << props.error().message;
  EXPECT_EQ(props->at("zrep:master"), "yes");
  EXPECT_EQ(props->at("zrep:note"), "spaces and = signs");
  EXPECT_FALSE(props->contains("zrep:epoch")) << "unset properties are absent";
  EXPECT_EQ(props->at("readonly"), "off");

  ASSERT_TRUE(zfs().inherit_prop(fs, "zrep:master").is_ok());
  EXPECT_FALSE(zfs().get_props(fs, {"zrep:master"})->contains("zrep:master"));

  // zfs-fuse shows readonly=on of a mounted filesystem as "off" (source "temporary").
  ASSERT_TRUE(zfs().set_prop(fs, "readonly", "on").is_ok());
  EXPECT_EQ(zfs().get_props(fs, {"readonly"})->at("readonly"), "on");
  std::ofstream f(mountpoint("props") + "/x");
  EXPECT_FALSE(f.is_open()) << "readonly=on is enforced";

  auto missing = zfs().get_props(ds("nope"), {"zrep:master"});
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(ZfsAdapterTest, FindLocalProps) {
  const std::string fs = ds("found");
  ASSERT_TRUE(zfs().create_filesystem(fs, false).is_ok());
  ASSERT_TRUE(zfs().set_prop(fs, "zrep:dest-fs", "other/fs").is_ok());
  ASSERT_TRUE(zfs().set_prop(fs, "readonly", "on").is_ok());
  ASSERT_TRUE(zfs().snapshot(fs + "@s").is_ok());
  ASSERT_TRUE(zfs().set_prop(fs + "@s", "zrep:dest-fs", "snapshots are not listed").is_ok());
  auto found = zfs().find_local_props({"zrep:dest-fs", "zrep:master", "readonly"});
  ASSERT_TRUE(found.is_ok()) << found.error().message;
  ASSERT_TRUE(found->contains(fs));
  EXPECT_EQ(found->at(fs).at("zrep:dest-fs"), "other/fs");
  EXPECT_EQ(found->at(fs).at("readonly"), "on");
  EXPECT_FALSE(found->at(fs).contains("zrep:master"));
  EXPECT_FALSE(found->contains(fs + "@s"));
  EXPECT_FALSE(found->contains(pool_)) << "nothing set locally on the pool";
}

TEST_F(ZfsAdapterTest, ListSnapshots) {
  const std::string fs = ds("snaps");
  ASSERT_TRUE(zfs().create_filesystem(fs, false).is_ok());
  ASSERT_TRUE(zfs().create_filesystem(fs + "/child", false).is_ok());
  ASSERT_TRUE(zfs().snapshot(fs + "/child@c1").is_ok());
  // Names out of order, so that the order must come from createtxg.
  for (const char* snap : {"@zrep_000002", "@a", "@zrep_000001"}) {
    write_file(mountpoint("snaps") + "/f", snap);
    ASSERT_TRUE(zfs().snapshot(fs + snap).is_ok());
  }
  ASSERT_TRUE(zfs().set_prop(fs + "@a", "zrep:sent", "1700000000").is_ok());
  auto snaps = zfs().list_snapshots(fs);
  ASSERT_TRUE(snaps.is_ok()) << snaps.error().message;
  ASSERT_EQ(snaps->size(), 3u);
  EXPECT_EQ((*snaps)[0].name, fs + "@zrep_000002");
  EXPECT_EQ((*snaps)[1].name, fs + "@a");
  EXPECT_EQ((*snaps)[2].name, fs + "@zrep_000001");
  EXPECT_LT((*snaps)[0].createtxg, (*snaps)[1].createtxg);
  EXPECT_LT((*snaps)[1].createtxg, (*snaps)[2].createtxg);
  for (const auto& s : *snaps) {
    EXPECT_EQ(std::to_string(s.guid), zfs_value("guid", s.name));
    EXPECT_EQ(std::to_string(s.createtxg), zfs_value("createtxg", s.name));
  }
  EXPECT_EQ((*snaps)[1].sent, 1700000000);
  EXPECT_FALSE((*snaps)[0].sent.has_value());
  EXPECT_TRUE(zfs().list_snapshots(fs + "/child").value().size() == 1);
  auto missing = zfs().list_snapshots(ds("nope"));
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(ZfsAdapterTest, FullThenIncrementalSendReceive) {
  const std::string src = ds("src"), dst = ds("dst");
  ASSERT_TRUE(zfs().create_filesystem(src, false).is_ok());
  std::string payload(3 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>((i * 131) >> 3);
  write_file(mountpoint("src") + "/data", payload);
  ASSERT_TRUE(zfs().snapshot(src + "@zrep_000001").is_ok());

  uint64_t bytes = 0;
  auto start = Clock::now();
  Status full = transfer(send_of(src + "@zrep_000001"), {.target = dst}, &bytes);
  auto full_time = Clock::now() - start;
  ASSERT_TRUE(full.is_ok()) << full.message();
  std::cout << "full send|recv: " << bytes << " bytes in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(full_time).count() << " ms\n";
  EXPECT_EQ(zfs_value("guid", dst + "@zrep_000001"), zfs_value("guid", src + "@zrep_000001"));
  // As zrep does: without readonly=on even reading a file (atime) modifies the destination, and
  // the next incremental receive fails.
  ASSERT_TRUE(zfs().set_prop(dst, "readonly", "on").is_ok());
  EXPECT_TRUE(read_file(mountpoint("dst") + "/data") == payload) << "contents differ";

  write_file(mountpoint("src") + "/data", "second");
  ASSERT_TRUE(zfs().snapshot(src + "@zrep_000002").is_ok());
  write_file(mountpoint("src") + "/more", "third");
  ASSERT_TRUE(zfs().snapshot(src + "@zrep_000003").is_ok());
  start = Clock::now();
  Status incr = transfer(send_from(src + "@zrep_000001", src + "@zrep_000003", true),
                         {.target = dst}, &bytes);
  ASSERT_TRUE(incr.is_ok()) << incr.message();
  std::cout << "incremental -I send|recv: " << bytes << " bytes in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()
            << " ms\n";
  auto src_snaps = zfs().list_snapshots(src).value();
  auto dst_snaps = zfs().list_snapshots(dst).value();
  ASSERT_EQ(dst_snaps.size(), 3u) << "-I carries the intermediate snapshot";
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(dst_snaps[i].guid, src_snaps[i].guid);
  remount(dst);
  EXPECT_EQ(read_file(mountpoint("dst") + "/data"), "second");
  EXPECT_EQ(read_file(mountpoint("dst") + "/more"), "third");

  // A second full receive into the existing destination.
  Status again = transfer(send_of(src + "@zrep_000001"), {.target = dst});
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.code(), ErrorCode::kAlreadyExists) << again.message();
  EXPECT_NE(again.message().find("receive into " + dst), std::string::npos) << again.message();
}

TEST_F(ZfsAdapterTest, ReceiveIntoModifiedDestination) {
  const std::string src = ds("msrc"), dst = ds("mdst");
  ASSERT_TRUE(zfs().create_filesystem(src, false).is_ok());
  write_file(mountpoint("msrc") + "/f", "one");
  ASSERT_TRUE(zfs().snapshot(src + "@s1").is_ok());
  ASSERT_TRUE(transfer(send_of(src + "@s1"), {.target = dst}).is_ok());
  write_file(mountpoint("msrc") + "/f", "two");
  ASSERT_TRUE(zfs().snapshot(src + "@s2").is_ok());

  write_file(mountpoint("mdst") + "/local-change", "oops");
  Status s = transfer(send_from(src + "@s1", src + "@s2", false), {.target = dst});
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), ErrorCode::kModified) << s.message();
  EXPECT_NE(s.message().find("has been modified"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("readonly=on"), std::string::npos) << s.message();

  // -F rolls the destination back and receives.
  ASSERT_TRUE(
      transfer(send_from(src + "@s1", src + "@s2", false), {.target = dst, .force = true}).is_ok());
  remount(dst);
  EXPECT_EQ(read_file(mountpoint("mdst") + "/f"), "two");
}

TEST_F(ZfsAdapterTest, RollbackCreateDestroy) {
  const std::string fs = ds("life");
  ASSERT_TRUE(zfs().create_filesystem(ds("life/a/b"), true).is_ok()) << "-p makes parents";
  Status no_parent = zfs().create_filesystem(ds("nope/x"), false);
  EXPECT_EQ(no_parent.code(), ErrorCode::kNotFound) << no_parent.message();
  Status twice = zfs().create_filesystem(fs, false);
  EXPECT_EQ(twice.code(), ErrorCode::kAlreadyExists) << twice.message();

  write_file(mountpoint("life") + "/f", "old");
  ASSERT_TRUE(zfs().snapshot(fs + "@s1").is_ok());
  write_file(mountpoint("life") + "/f", "new");
  ASSERT_TRUE(zfs().snapshot(fs + "@s2").is_ok());
  Status blocked = zfs().rollback(fs + "@s1", false);
  EXPECT_FALSE(blocked.is_ok()) << "a newer snapshot exists";
  ASSERT_TRUE(zfs().rollback(fs + "@s1", true).is_ok());
  EXPECT_EQ(read_file(mountpoint("life") + "/f"), "old");
  EXPECT_FALSE(zfs().exists(fs + "@s2").value());

  auto avail = zfs().available_bytes(fs);
  ASSERT_TRUE(avail.is_ok()) << avail.error().message;
  EXPECT_GT(*avail, 100u << 20);
  EXPECT_LT(*avail, 1ull << 30);

  ASSERT_TRUE(zfs().destroy_snapshot(fs + "@s1").is_ok());
  EXPECT_FALSE(zfs().exists(fs + "@s1").value());
  EXPECT_EQ(zfs().destroy_snapshot(fs + "@s1").code(), ErrorCode::kNotFound);
  EXPECT_FALSE(zfs().destroy_filesystem(fs, false).is_ok()) << "it has children";
  ASSERT_TRUE(zfs().destroy_filesystem(fs, true).is_ok());
  EXPECT_FALSE(zfs().exists(fs).value());
}

TEST_F(ZfsAdapterTest, InvalidNamesNeverReachZfs) {
  const std::string fs = ds("guard");
  ASSERT_TRUE(zfs().create_filesystem(fs, false).is_ok());
  ASSERT_TRUE(zfs().snapshot(fs + "@s").is_ok());
  auto invalid = [](const Status& s) {
    return !s.is_ok() && s.code() == ErrorCode::kInvalidArgument;
  };
  for (const std::string& bad : {std::string("-R"), "-r " + fs, fs + "/a b", fs + "/../x",
                                 fs + "//x", fs + "/", std::string(""), fs + "/x\n"}) {
    EXPECT_TRUE(invalid(zfs().exists(bad).status())) << bad;
    EXPECT_TRUE(invalid(zfs().create_filesystem(bad, true))) << bad;
    EXPECT_TRUE(invalid(zfs().destroy_filesystem(bad, true))) << bad;
    EXPECT_TRUE(invalid(zfs().get_props(bad, {"zrep:x"}).status())) << bad;
    EXPECT_TRUE(invalid(zfs().list_snapshots(bad).status())) << bad;
    EXPECT_TRUE(invalid(zfs().start_recv({.target = bad}).status())) << bad;
  }
  // A filesystem name where a snapshot is expected: `zfs destroy` would take the filesystem.
  EXPECT_TRUE(invalid(zfs().destroy_snapshot(fs)));
  EXPECT_TRUE(invalid(zfs().rollback(fs, true)));
  EXPECT_TRUE(invalid(zfs().destroy_snapshot(fs + "@s@t")));
  EXPECT_TRUE(invalid(zfs().snapshot(fs + "@-R")));
  EXPECT_TRUE(invalid(zfs().start_send(send_of(fs)).status()));
  EXPECT_TRUE(invalid(zfs().start_send(send_from("-R", fs + "@s", true)).status()));
  // Property names and values.
  EXPECT_TRUE(invalid(zfs().set_prop(fs, "-o", "x")));
  EXPECT_TRUE(invalid(zfs().set_prop(fs, "zrep:x", "two\nlines")));
  EXPECT_TRUE(invalid(zfs().set_prop(fs, "bogus", "x")));
  EXPECT_TRUE(invalid(zfs().get_props(fs, {"zrep:a,readonly"}).status()));
  EXPECT_TRUE(invalid(zfs().inherit_prop(fs, "Zrep:x")));
  // Features the dialect lacks (zfs-fuse); OpenZFS has them.
  if (zfs().features().dialect == ZfsFeatures::Dialect::kLegacy) {
    SendSpec raw = send_of(fs + "@s");
    raw.raw = true;
    EXPECT_TRUE(invalid(zfs().start_send(raw).status()));
    SendSpec compressed = send_of(fs + "@s");
    compressed.compressed = true;
    EXPECT_TRUE(invalid(zfs().start_send(compressed).status()));
    EXPECT_TRUE(invalid(zfs().start_recv({.target = ds("r"), .resumable = true}).status()));
  }
  // Nothing was touched.
  EXPECT_TRUE(zfs().exists(fs).value());
  EXPECT_TRUE(zfs().exists(fs + "@s").value());
  EXPECT_FALSE(zfs().exists(ds("r")).value());
}

}  // namespace
}  // namespace zrep
