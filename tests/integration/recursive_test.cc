// init -R: a filesystem and its children replicated together with one recursive snapshot;
// children created later are picked up by the next sync. Real zfs-fuse, two agents.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/integration/testbed.h"

namespace zrep::testbed {
namespace {

class Recursive : public PairTest {
 protected:
  void SetUp() override {
    make_hosts(PoolSizes{});
    for (const auto& child : {src_ + "/a", src_ + "/a/b"}) {
      ASSERT_EQ(run({"zfs", "create", child}).exit_code, 0);
    }
    write_file(mnt(src_) + "/top.txt", "root\n");
    write_file(mnt(src_ + "/a") + "/a.txt", "child a\n");
    write_file(mnt(src_ + "/a/b") + "/b.bin", test_data(512 * 1024, 6));
  }

  // Every filesystem of the tree has the same newest snapshot (one recursive snapshot) and its
  // copy on beta has it with the same GUID.
  void expect_tree_in_sync(const std::vector<std::string>& rels) {
    std::string name;
    for (const auto& rel : rels) {
      auto s = snapshots(src_ + rel);
      auto d = snapshots(dst_ + rel);
      ASSERT_FALSE(s.empty()) << rel;
      ASSERT_FALSE(d.empty()) << rel;
      const std::string part = s.back().substr(s.back().find('@'));
      if (name.empty()) name = part;
      EXPECT_EQ(part, name) << rel << ": not one recursive snapshot";
      EXPECT_EQ(zget(s.back(), "guid"), zget(d.back(), "guid")) << rel;
      EXPECT_EQ(zget(dst_ + rel, "zrep:src-fs"), src_ + rel);
    }
    expect_same_data();
  }
};

TEST_F(Recursive, TheTreeIsReplicatedAndNewChildrenArePickedUp) {
  auto r = alpha().cli({"init", "-R", src_, beta_name(), dst_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_tree_in_sync({"", "/a", "/a/b"});
  EXPECT_EQ(read_file(mnt(dst_ + "/a") + "/a.txt"), "child a\n");
  EXPECT_EQ(zget(src_, "zrep:recursive"), "yes");
  EXPECT_EQ(zget(src_ + "/a/b", "zrep:member-of"), src_);

  // A child created later, and changes below the root.
  ASSERT_EQ(run({"zfs", "create", src_ + "/c"}).exit_code, 0);
  write_file(mnt(src_ + "/c") + "/c.txt", "new child\n");
  write_file(mnt(src_ + "/a/b") + "/more.txt", "changed in a grandchild\n");
  // One result per member, parents first; the new child was sent in full.
  auto j = alpha().cli_json({"sync", src_});
  ASSERT_TRUE(j.is_array() && j.size() == 4u) << j.dump();
  EXPECT_EQ(j[0]["fs"], src_) << j.dump();
  EXPECT_EQ(j[3]["fs"], src_ + "/c") << j.dump();
  EXPECT_FALSE(j[3].contains("base")) << j.dump();
  EXPECT_TRUE(j[2].contains("base")) << j.dump();
  expect_tree_in_sync({"", "/a", "/a/b", "/c"});
  EXPECT_EQ(read_file(mnt(dst_ + "/c") + "/c.txt"), "new child\n");
  EXPECT_EQ(read_file(mnt(dst_ + "/a/b") + "/more.txt"), "changed in a grandchild\n");

  // `sync all` syncs the tree once, from its root; a member alone is refused.
  j = alpha().cli_json({"sync", "all"});
  ASSERT_EQ(j.size(), 4u) << j.dump();
  expect_tree_in_sync({"", "/a", "/a/b", "/c"});
  // As text: a line per member (the tree once rendered as a nested list no line could show).
  r = alpha().cli({"sync", src_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* m : {"", "/a", "/a/b", "/c"}) {
    EXPECT_NE(r.out.find(src_ + m + " -> " + beta_name() + ":" + dst_ + m + ": sent "),
              std::string::npos)
        << r.out;
  }
  r = alpha().cli({"sync", src_ + "/a"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("part of the recursive pairing of " + src_), std::string::npos) << r.err;
  r = alpha().cli({"failover", src_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("recursive"), std::string::npos) << r.err;
  EXPECT_EQ(zget(src_, "zrep:master"), "yes");

  // clear of the root clears the whole tree, on both sides; the data stays.
  r = alpha().cli({"clear", src_, beta_name(), "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const auto& rel : {"", "/a", "/a/b", "/c"}) {
    EXPECT_EQ(zget(src_ + rel, "zrep:master"), "-") << rel;
    EXPECT_EQ(zget(src_ + rel, "zrep:member-of"), "-") << rel;
    EXPECT_EQ(zget(dst_ + rel, "zrep:src-fs"), "-") << rel;
  }
  expect_same_data();
}

TEST_F(Recursive, AFailingMemberDoesNotPileUpSnapshots) {
  auto r = alpha().cli({"init", "-R", src_, beta_name(), dst_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // Someone writes into one member's replica: its receives are refused from now on.
  must({"zfs", "set", "readonly=off", dst_ + "/a"});
  write_file(mnt(dst_ + "/a") + "/local-edit.txt", "written on the standby\n");
  write_file(mnt(src_ + "/a") + "/a.txt", "changed\n");
  const auto member_before = snapshots(src_ + "/a");
  for (int i = 0; i < 4; ++i) {
    r = alpha().cli({"sync", src_});
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.err.find(src_ + "/a: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("modified"), std::string::npos) << r.err;
  }
  // The refused member's snapshots are taken back each time: nothing piles up there.
  EXPECT_EQ(snapshots(src_ + "/a"), member_before);
  // The other members did replicate meanwhile.
  EXPECT_EQ(zget(snapshots(src_ + "/a/b").back(), "guid"),
            zget(snapshots(dst_ + "/a/b").back(), "guid"));
}

}  // namespace
}  // namespace zrep::testbed
