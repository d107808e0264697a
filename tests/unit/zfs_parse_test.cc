#include "agent/zfs/zfs_parse.h"

#include <gtest/gtest.h>

namespace zrep {
namespace {

ProcessOutput output(int code, std::string out, std::string err) {
  ProcessOutput p;
  p.exit_code = code;
  p.out = std::move(out);
  p.err = std::move(err);
  return p;
}

TEST(ParseZfsVersion, OpenZfs) {
  auto f = parse_zfs_version(output(0, "zfs-2.3.2-1\nzfs-kmod-2.3.2-1\n", ""));
  ASSERT_TRUE(f.is_ok()) << f.error().message;
  EXPECT_EQ(f->dialect, ZfsFeatures::Dialect::kOpenZfs);
  EXPECT_EQ(f->version, "zfs-2.3.2");
  EXPECT_EQ(f->major, 2);
  EXPECT_EQ(f->minor, 3);
  EXPECT_TRUE(f->list_parsable && f->holds && f->bookmarks && f->resumable_receive && f->raw_send &&
              f->compressed_send && f->written_property && f->send_size_estimate);

  auto freebsd = parse_zfs_version(output(0, "zfs-2.1.4-FreeBSD_g52bad4f23\n", ""));
  ASSERT_TRUE(freebsd.is_ok());
  EXPECT_EQ(freebsd->version, "zfs-2.1.4");
  EXPECT_EQ(freebsd->minor, 1);
}

TEST(ParseZfsVersion, LegacyZfsFuse) {
  auto f = parse_zfs_version(
      output(2, "", "unrecognized command 'version'\nusage: zfs command args ...\n"));
  ASSERT_TRUE(f.is_ok()) << f.error().message;
  EXPECT_EQ(f->dialect, ZfsFeatures::Dialect::kLegacy);
  EXPECT_FALSE(f->list_parsable || f->holds || f->bookmarks || f->resumable_receive ||
               f->raw_send || f->compressed_send || f->written_property || f->send_size_estimate);
}

TEST(ParseZfsVersion, NotRunning) {
  auto fuse = parse_zfs_version(output(1, "",
                                       "connect: No such file or directory\nPlease make sure "
                                       "that the zfs-fuse daemon is running.\ninternal error: "
                                       "failed to initialize ZFS library"));
  ASSERT_FALSE(fuse.is_ok());
  EXPECT_EQ(fuse.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(fuse.error().message.find("ZFS is not running"), std::string::npos);
  EXPECT_NE(fuse.error().message.find("zfs-fuse"), std::string::npos);

  auto module = parse_zfs_version(output(1, "",
                                         "The ZFS modules are not loaded.\nTry running "
                                         "'modprobe zfs' as root to load them."));
  ASSERT_FALSE(module.is_ok());
  EXPECT_EQ(module.error().code, ErrorCode::kUnavailable);
}

TEST(ParseZfsVersion, Garbage) {
  for (const char* out : {"", "zfs-\n", "zfs-x.y\n", "zfs-2\n", "zfs-kmod-2.1.0\n", "2.1.0\n"}) {
    auto f = parse_zfs_version(output(0, out, ""));
    EXPECT_FALSE(f.is_ok()) << out;
  }
  auto other = parse_zfs_version(output(1, "", "something else went wrong"));
  ASSERT_FALSE(other.is_ok());
  EXPECT_EQ(other.error().code, ErrorCode::kZfs);
}

TEST(ParseNumbers, Strict) {
  EXPECT_EQ(parse_u64("0"), 0u);
  EXPECT_EQ(parse_u64("18446744073709551615"), UINT64_MAX);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1K", "0x10", "18446744073709551616", "-"}) {
    EXPECT_FALSE(parse_u64(bad).has_value()) << bad;
  }
  EXPECT_EQ(parse_i64("-5"), -5);
  EXPECT_EQ(parse_i64("1700000000"), 1700000000);
  for (const char* bad : {"", "-", "--1", "+1", "1.5", "abc", "9223372036854775808"}) {
    EXPECT_FALSE(parse_i64(bad).has_value()) << bad;
  }
}

TEST(ParseProps, SkipsUnsetAndKeepsTabsInValues) {
  auto p = parse_props(
      "available\t1030955008\tdefault\nzrep:x\t-\t-\nzrep:note\ta\tb\tlocal\n"
      "zrep:from\tv\tinherited from tank\n",
      false);
  ASSERT_TRUE(p.is_ok()) << p.error().message;
  EXPECT_EQ(p->size(), 2u);
  EXPECT_EQ(p->at("available"), "1030955008");
  EXPECT_EQ(p->at("zrep:note"), "a\tb");
  // A zrep property inherited from a parent's pairing does not count on a child.
  EXPECT_FALSE(p->contains("zrep:from"));
  EXPECT_FALSE(parse_props("no tabs here\n", false).is_ok());
}

TEST(ParseProps, ZfsFuseReadonly) {
  const char* out = "readonly\toff\ttemporary\n";
  EXPECT_EQ(parse_props(out, true)->at("readonly"), "on");
  EXPECT_EQ(parse_props(out, false)->at("readonly"), "off");
  EXPECT_EQ(parse_props("readonly\toff\tlocal\n", true)->at("readonly"), "off");
}

TEST(ParseLocalProps, FilesystemsOnly) {
  auto p = parse_local_props(
      "tank/a\tzrep:master\tyes\tlocal\ntank/a@s1\tzrep:sent\t123\tlocal\n"
      "tank/a#bm\tzrep:x\ty\tlocal\ntank/b\treadonly\toff\ttemporary\n"
      "tank/c\tatime\toff\ttemporary\n",
      true);
  ASSERT_TRUE(p.is_ok()) << p.error().message;
  EXPECT_EQ(p->size(), 2u);
  EXPECT_EQ(p->at("tank/a").at("zrep:master"), "yes");
  EXPECT_EQ(p->at("tank/b").at("readonly"), "on");
}

TEST(ParseSnapshotListing, KeepsOnlySnapshotsOfFsInTxgOrder) {
  const char* out =
      "tank/a\tguid\t1\ntank/a\tcreatetxg\t7\ntank/a\tzrep:sent\t-\n"
      "tank/a@s2\tguid\t222\ntank/a@s2\tcreatetxg\t21\ntank/a@s2\tzrep:sent\t-\n"
      "tank/a@s1\tguid\t111\ntank/a@s1\tcreatetxg\t12\ntank/a@s1\tzrep:sent\t1700000000\n"
      "tank/a/child\tguid\t9\ntank/a/child\tcreatetxg\t16\ntank/a/child\tzrep:sent\t-\n"
      "tank/ab@x\tguid\t5\ntank/ab@x\tcreatetxg\t3\ntank/ab@x\tzrep:sent\t-\n";
  auto snaps = parse_snapshot_listing("tank/a", out);
  ASSERT_TRUE(snaps.is_ok()) << snaps.error().message;
  ASSERT_EQ(snaps->size(), 2u);
  EXPECT_EQ((*snaps)[0].name, "tank/a@s1");
  EXPECT_EQ((*snaps)[0].guid, 111u);
  EXPECT_EQ((*snaps)[0].createtxg, 12u);
  EXPECT_EQ((*snaps)[0].sent, 1700000000);
  EXPECT_EQ((*snaps)[1].name, "tank/a@s2");
  EXPECT_FALSE((*snaps)[1].sent.has_value());
  EXPECT_TRUE(parse_snapshot_listing("tank/a", "")->empty());
}

TEST(ParseSnapshotListing, RejectsGarbage) {
  EXPECT_FALSE(parse_snapshot_listing("t", "t@s\tguid\t12x\nt@s\tcreatetxg\t1\n").is_ok());
  EXPECT_FALSE(parse_snapshot_listing("t", "t@s\tguid\t1\n").is_ok()) << "no createtxg";
  EXPECT_FALSE(parse_snapshot_listing("t", "t@s\tguid\n").is_ok());
  auto bad_sent =
      parse_snapshot_listing("t", "t@s\tguid\t1\nt@s\tcreatetxg\t2\nt@s\tzrep:sent\tyes\n");
  ASSERT_FALSE(bad_sent.is_ok());
  EXPECT_NE(bad_sent.error().message.find("zrep:sent='yes'"), std::string::npos);
}

TEST(PropertyNames, Validated) {
  for (const char* ok : {"zrep:master", "zrep:src-fs", "com.example:x_y", "readonly", "guid"}) {
    EXPECT_TRUE(validate_property_name(ok).is_ok()) << ok;
  }
  for (const char* bad : {"", "-o", "zrep:Master", "zrep master", "bogus", ":x", "zrep:a,b",
                          "zrep:a=b", "all", "zrep:\n"}) {
    Status s = validate_property_name(bad);
    EXPECT_FALSE(s.is_ok()) << bad;
  }
  EXPECT_TRUE(validate_property_value("zrep:x", "any text, even = and spaces").is_ok());
  EXPECT_FALSE(validate_property_value("zrep:x", "").is_ok());
  EXPECT_FALSE(validate_property_value("zrep:x", "two\nlines").is_ok());
  EXPECT_FALSE(validate_property_value("zrep:x", std::string(5000, 'x')).is_ok());
}

TEST(CondenseStderr, OneLineWithoutUsage) {
  EXPECT_EQ(condense_zfs_stderr("cannot receive: destination tank/b has been modified\nsince "
                                "most recent snapshot\n"),
            "cannot receive: destination tank/b has been modified since most recent snapshot");
  EXPECT_EQ(condense_zfs_stderr("invalid option 'c'\nusage:\n\tsend [-RDp] <snapshot>\n"),
            "invalid option 'c'");
  EXPECT_EQ(condense_zfs_stderr("bad \x1b[31mname"), "bad ?[31mname");
  EXPECT_LE(condense_zfs_stderr(std::string(5000, 'x')).size(), 610u);
}

}  // namespace
}  // namespace zrep

namespace zrep {
namespace {

TEST(MountOptions, FindsTheLastMountAtADirectory) {
  const char* mounts =
      "tank /tank fuse.zfs rw,relatime,user_id=0 0 0\n"
      "tank/data /tank/data fuse.zfs rw,relatime,user_id=0 0 0\n"
      "tank/data /tank/data fuse.zfs rw,nosuid,nodev,relatime 0 0\n"
      "tank/a\\040b /tank/a\\040b zfs rw,nosuid 0 0\n";
  auto o = mount_options_at(mounts, "/tank/data");
  ASSERT_TRUE(o);
  EXPECT_EQ(*o, (std::vector<std::string>{"rw", "nosuid", "nodev", "relatime"}));
  auto t = mount_options_at(mounts, "/tank");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->size(), 3u);
  auto spaced = mount_options_at(mounts, "/tank/a b");
  ASSERT_TRUE(spaced);
  EXPECT_EQ(*spaced, (std::vector<std::string>{"rw", "nosuid"}));
  EXPECT_FALSE(mount_options_at(mounts, "/tank/dat"));
  EXPECT_FALSE(mount_options_at("", "/tank"));
  EXPECT_FALSE(mount_options_at("garbage\n", "/tank"));
}

}  // namespace
}  // namespace zrep
