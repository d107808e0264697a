// write_pairing (agent/zfs/zfs.h): the `zfs set` commands it runs, in their order, through the
// adapter's test seam (Zfs::Options::runner), as tests/fuzz/peer_dispatch_fuzz.cc records them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/logic/records.h"
#include "agent/zfs/zfs.h"

namespace zrep {
namespace {

using Argvs = std::vector<std::vector<std::string>>;

// Records every command; answers `zfs version` as OpenZFS 2.3 and every other command with
// success, but a `zfs set` of `fail_prop`, which fails as zfs would.
struct Recorder {
  Argvs commands;
  std::string fail_prop;

  Zfs probe() {
    Zfs::Options options;
    options.zfs_program = "zfs";
    options.runner = [this](const std::vector<std::string>& argv, std::chrono::milliseconds) {
      return run(argv);
    };
    auto zfs = Zfs::probe(options);
    EXPECT_TRUE(zfs.is_ok());
    commands.clear();  // the probe's `zfs version`
    return *zfs;
  }

  Result<ProcessOutput> run(const std::vector<std::string>& argv) {
    commands.push_back(argv);
    ProcessOutput out;
    out.exit_code = 0;
    if (argv.size() >= 2 && argv[1] == "version") out.out = "zfs-2.3.2-1\nzfs-kmod-2.3.2-1\n";
    if (!fail_prop.empty() && argv.size() >= 3 && argv[1] == "set" &&
        argv[2].starts_with(fail_prop + "=")) {
      out.exit_code = 1;
      out.err = "cannot set property for 'tank/fs': permission denied";
    }
    return out;
  }
};

std::vector<std::string> set(const std::string& assignment) {
  return {"zfs", "set", assignment, "tank/fs"};
}

const PairingRecord kFull{"tank/fs", "alpha", "backup/fs", "beta", "7", "3"};

TEST(WritePairing, EpochLast) {
  Recorder r;
  const Zfs zfs = r.probe();
  ASSERT_TRUE(write_pairing(zfs, "tank/fs", kFull, PairingOrder::kEpochLast).is_ok());
  EXPECT_EQ(r.commands, (Argvs{set("zrep:src-fs=tank/fs"), set("zrep:src-host=alpha"),
                               set("zrep:dest-fs=backup/fs"), set("zrep:dest-host=beta"),
                               set("zrep:savecount=7"), set("zrep:epoch=3")}));
}

TEST(WritePairing, EpochFirst) {
  Recorder r;
  const Zfs zfs = r.probe();
  ASSERT_TRUE(write_pairing(zfs, "tank/fs", kFull, PairingOrder::kEpochFirst).is_ok());
  EXPECT_EQ(r.commands, (Argvs{set("zrep:epoch=3"), set("zrep:src-fs=tank/fs"),
                               set("zrep:src-host=alpha"), set("zrep:dest-fs=backup/fs"),
                               set("zrep:dest-host=beta"), set("zrep:savecount=7")}));
}

TEST(WritePairing, SavecountLast) {
  Recorder r;
  const Zfs zfs = r.probe();
  ASSERT_TRUE(write_pairing(zfs, "tank/fs", kFull, PairingOrder::kSavecountLast).is_ok());
  EXPECT_EQ(r.commands, (Argvs{set("zrep:src-fs=tank/fs"), set("zrep:src-host=alpha"),
                               set("zrep:dest-fs=backup/fs"), set("zrep:dest-host=beta"),
                               set("zrep:epoch=3"), set("zrep:savecount=7")}));
}

TEST(WritePairing, WhatIsNotGivenIsNotWritten) {
  PairingRecord rec = kFull;
  rec.savecount.reset();
  for (PairingOrder order :
       {PairingOrder::kEpochFirst, PairingOrder::kEpochLast, PairingOrder::kSavecountLast}) {
    Recorder r;
    const Zfs zfs = r.probe();
    ASSERT_TRUE(write_pairing(zfs, "tank/fs", rec, order).is_ok());
    const Argvs four{set("zrep:src-fs=tank/fs"), set("zrep:src-host=alpha"),
                     set("zrep:dest-fs=backup/fs"), set("zrep:dest-host=beta")};
    Argvs want = four;
    if (order == PairingOrder::kEpochFirst) {
      want.insert(want.begin(), set("zrep:epoch=3"));
    } else {
      want.push_back(set("zrep:epoch=3"));
    }
    EXPECT_EQ(r.commands, want);

    rec.epoch.reset();
    r.commands.clear();
    ASSERT_TRUE(write_pairing(zfs, "tank/fs", rec, order).is_ok());
    EXPECT_EQ(r.commands, four);
    rec.epoch = "3";
  }
}

TEST(WritePairing, StopsAtTheFirstFailure) {
  Recorder r;
  const Zfs zfs = r.probe();
  r.fail_prop = "zrep:src-host";
  Status st = write_pairing(zfs, "tank/fs", kFull, PairingOrder::kEpochFirst);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("cannot set zrep:src-host on tank/fs"), std::string::npos)
      << st.message();
  EXPECT_EQ(r.commands,
            (Argvs{set("zrep:epoch=3"), set("zrep:src-fs=tank/fs"), set("zrep:src-host=alpha")}));
}

TEST(WritePairing, TextIsWrittenAsGivenAndCheckedBySetProp) {
  // resync copies the recorded epoch as is: an empty one fails as set_prop refuses it, after
  // the four names (as before the one writer).
  Recorder r;
  const Zfs zfs = r.probe();
  PairingRecord rec = kFull;
  rec.epoch = "";
  Status st = write_pairing(zfs, "tank/fs", rec, PairingOrder::kSavecountLast);
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.commands, (Argvs{set("zrep:src-fs=tank/fs"), set("zrep:src-host=alpha"),
                               set("zrep:dest-fs=backup/fs"), set("zrep:dest-host=beta")}));
}

}  // namespace
}  // namespace zrep
