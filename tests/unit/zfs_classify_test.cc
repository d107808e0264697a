#include <gtest/gtest.h>

#include "agent/zfs/zfs.h"

namespace zrep {
namespace {

// The texts are what zfs-fuse 0.7 and OpenZFS 2.x print (line breaks included).
TEST(ClassifyZfsError, Modified) {
  EXPECT_EQ(classify_zfs_error("cannot receive incremental stream: destination tank/b has been "
                               "modified\nsince most recent snapshot"),
            ErrorCode::kModified);
  EXPECT_EQ(classify_zfs_error("cannot receive: destination has been modified"),
            ErrorCode::kModified);
}

TEST(ClassifyZfsError, NoSpace) {
  EXPECT_EQ(classify_zfs_error("cannot receive new filesystem stream: out of space"),
            ErrorCode::kNoSpace);
  EXPECT_EQ(classify_zfs_error("cannot create snapshot 'a@b': No space left on device"),
            ErrorCode::kNoSpace);
}

TEST(ClassifyZfsError, AlreadyExists) {
  EXPECT_EQ(classify_zfs_error("cannot create 'tank/a': dataset already exists"),
            ErrorCode::kAlreadyExists);
  EXPECT_EQ(classify_zfs_error("cannot receive new filesystem stream: destination 'tank/b' "
                               "exists\nmust specify -F to overwrite it"),
            ErrorCode::kAlreadyExists);
}

TEST(ClassifyZfsError, NotFound) {
  EXPECT_EQ(classify_zfs_error("cannot open 'tank/nope': dataset does not exist"),
            ErrorCode::kNotFound);
  EXPECT_EQ(classify_zfs_error("cannot create 'tank/q/r': parent does not exist"),
            ErrorCode::kNotFound);
  EXPECT_EQ(classify_zfs_error("WARNING: could not send tank/a@nope: does not exist"),
            ErrorCode::kNotFound);
  EXPECT_EQ(classify_zfs_error("cannot receive incremental stream: destination 'tank/b' does "
                               "not exist"),
            ErrorCode::kNotFound);
}

TEST(ClassifyZfsError, Unavailable) {
  EXPECT_EQ(classify_zfs_error("connect: No such file or directory\nPlease make sure that the "
                               "zfs-fuse daemon is running.\ninternal error: failed to "
                               "initialize ZFS library"),
            ErrorCode::kUnavailable);
  EXPECT_EQ(classify_zfs_error("The ZFS modules are not loaded.\nTry running 'modprobe zfs' as "
                               "root to load them."),
            ErrorCode::kUnavailable);
}

TEST(ClassifyZfsError, Other) {
  EXPECT_EQ(classify_zfs_error("cannot destroy 'tank/a': dataset is busy"), ErrorCode::kZfs);
  EXPECT_EQ(classify_zfs_error("cannot receive incremental stream: most recent snapshot of "
                               "tank/b does not\nmatch incremental source"),
            ErrorCode::kZfs);
  EXPECT_EQ(classify_zfs_error(""), ErrorCode::kZfs);
  EXPECT_EQ(classify_zfs_error("invalid option 'c'\nusage:\n\tsend [-RDp] [-[iI] snapshot] "
                               "<snapshot>\n\tdestination does not exist"),
            ErrorCode::kZfs)
      << "usage text is not read";
}

}  // namespace
}  // namespace zrep

namespace zrep {
namespace {

TEST(ClassifyZfsError, OpenZfsDestroyOfAMissingSnapshotIsNotFound) {
  EXPECT_EQ(classify_zfs_error("could not find any snapshots to destroy; check snapshot names."),
            ErrorCode::kNotFound);
}

}  // namespace
}  // namespace zrep
