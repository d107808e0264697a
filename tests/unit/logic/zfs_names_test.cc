#include "agent/logic/zfs_names.h"

#include <gtest/gtest.h>

#include <string>

namespace zrep {
namespace {

TEST(ZfsNames, AcceptsGoodDatasetNames) {
  for (const char* name :
       {"tank", "tank/a", "tank/a/b_c.d:e-f", "Pool9/x", "t/a-", "tank/.hidden", "tank/x..y"}) {
    EXPECT_TRUE(validate_dataset_name(name).is_ok()) << name;
  }
  EXPECT_TRUE(validate_dataset_name(std::string(255, 'a')).is_ok());
}

TEST(ZfsNames, RejectsHostileDatasetNames) {
  const std::string long_name(300, 'a');
  for (std::string name :
       {std::string("-R"),           std::string("a b"),       std::string("../x"),
        std::string("pool/fs@snap"), std::string(""),          long_name,
        std::string("pool//x"),      std::string("pool/x/"),   std::string("/pool"),
        std::string("pool/."),       std::string("pool/.."),   std::string("1pool"),
        std::string("pool/-x"),      std::string("pool/a\nb"), std::string("pool/a\x1b[2Jb"),
        std::string("pool/a\0b", 8), std::string("pool/ä"),    std::string("pool/a%b"),
        std::string("pool/a*"),      std::string("pool\\a"),   std::string(256, 'a')}) {
    Status s = validate_dataset_name(name);
    ASSERT_FALSE(s.is_ok()) << name;
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
    for (char c : s.message()) {
      EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20) << "control character in message";
    }
  }
}

TEST(ZfsNames, MessagesSayWhatIsWrong) {
  EXPECT_EQ(validate_dataset_name("-R").message(),
            "invalid dataset name '-R': a name component may not start with '-'");
  EXPECT_EQ(validate_dataset_name("1pool").message(),
            "invalid dataset name '1pool': the pool name must start with a letter");
  EXPECT_EQ(validate_dataset_name("pool/a\x1b[2J").message(),
            "invalid dataset name 'pool/a?[2J': character '?' is not allowed (use letters, "
            "digits, '_', '.', ':', '-')");
  EXPECT_NE(validate_dataset_name("pool//x").message().find("empty name component"),
            std::string::npos);
  EXPECT_NE(validate_dataset_name("").message().find("empty"), std::string::npos);
  std::string long_message = validate_dataset_name(std::string(300, 'a')).message();
  EXPECT_NE(long_message.find("longer than 255"), std::string::npos);
  EXPECT_LT(long_message.size(), 200u) << "a huge name is cut short in messages";
}

TEST(ZfsNames, Snapshots) {
  EXPECT_TRUE(validate_snapshot_name("pool/fs@snap").is_ok());
  EXPECT_TRUE(validate_snapshot_name("pool@zrep_00002a").is_ok());
  for (std::string name :
       {std::string("pool/fs@snap@x"), std::string("pool/fs"), std::string("pool/fs@"),
        std::string("@snap"), std::string("pool/fs@-R"), std::string("pool/fs@a b"),
        std::string("pool//fs@s"), std::string("-R@s"), std::string("pool/fs@.."),
        std::string("pool/fs@a/b"), std::string(""), std::string(250, 'a') + "@snapsho"}) {
    Status s = validate_snapshot_name(name);
    ASSERT_FALSE(s.is_ok()) << name;
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_EQ(validate_snapshot_name("pool/fs@snap@x").message(),
            "invalid snapshot name 'pool/fs@snap@x': a snapshot name has exactly one '@' "
            "(dataset@snapshot)");
  EXPECT_EQ(validate_dataset_name("pool/fs@snap").code(), ErrorCode::kInvalidArgument);
}

TEST(ZfsNames, Parts) {
  EXPECT_EQ(dataset_of("pool/fs@snap"), "pool/fs");
  EXPECT_EQ(snap_part_of("pool/fs@snap"), "snap");
  EXPECT_EQ(dataset_of("pool/fs"), "pool/fs");
  EXPECT_EQ(snap_part_of("pool/fs"), "");
}

TEST(ZfsNames, DatasetWithin) {
  EXPECT_TRUE(dataset_within("tank", "tank"));
  EXPECT_TRUE(dataset_within("tank/a", "tank"));
  EXPECT_TRUE(dataset_within("tank/a/b", "tank/a"));
  EXPECT_FALSE(dataset_within("tank/ab", "tank/a"));
  EXPECT_FALSE(dataset_within("tank", "tank/a"));
  EXPECT_FALSE(dataset_within("tanker", "tank"));
  EXPECT_FALSE(dataset_within("other/a", "tank"));
  EXPECT_FALSE(dataset_within("tank", ""));
}

TEST(ZfsNames, ZrepSnapshots) {
  EXPECT_EQ(parse_zrep_snap("zrep_000000"), 0u);
  EXPECT_EQ(parse_zrep_snap("zrep_00002a"), 42u);
  EXPECT_EQ(parse_zrep_snap("zrep_ffffff"), kMaxZrepSeq);
  for (const char* bad :
       {"zrep_00002A", "zrep_00002", "zrep_000002a", "zrep_", "zrep_-00001", "zrep_+00001",
        "zrep_ 0001a", "Zrep_00002a", "zrep00002a", "x_00002a", "zrep_0x002a", "zrep_00002g", ""}) {
    EXPECT_FALSE(parse_zrep_snap(bad).has_value()) << bad;
  }
  EXPECT_EQ(format_zrep_snap(42), "zrep_00002a");
  EXPECT_EQ(format_zrep_snap(0), "zrep_000000");
  EXPECT_EQ(format_zrep_snap(kMaxZrepSeq), "zrep_ffffff");
  for (uint32_t seq : {0u, 1u, 0xabcdu, kMaxZrepSeq}) {
    EXPECT_EQ(parse_zrep_snap(format_zrep_snap(seq)), seq);
  }
}

}  // namespace
}  // namespace zrep

namespace zrep {
namespace {

TEST(BookmarkNames, SameRulesAsSnapshotsWithAHash) {
  EXPECT_TRUE(validate_bookmark_name("pool/fs#zrep_000001").is_ok());
  for (const char* bad : {"pool/fs@snap", "pool/fs", "pool/fs#", "#b", "pool/fs#a#b", "pool/fs#a@b",
                          "-R#x", "pool/fs#a b", "pool/../x#b"}) {
    EXPECT_FALSE(validate_bookmark_name(bad).is_ok()) << bad;
  }
}

}  // namespace
}  // namespace zrep
