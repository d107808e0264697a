// A planned failover's result: what the CLI renders (the same on the master that ran it and on
// the standby that asked for it) and the standby's reading of peer::TakeoverReply.
#include <gtest/gtest.h>

#include "agent/cli/render.h"
#include "agent/logic/failover_outcome.h"
#include "agent/ops/replicator.h"

namespace zrep {
namespace {

using nlohmann::json;

// What the CLI prints of a failover, as JSON and as text.
control::Result as_result(const FailoverOutcome& o) {
  control::Result r;
  *r.mutable_failover() = failover_result(o);
  return r;
}
json failover_json(const FailoverOutcome& o) { return render_json(as_result(o)); }
std::string failover_text(const FailoverOutcome& o) { return render_text(as_result(o), 0); }

FailoverOutcome sample() {
  return {.fs = "tank/data",
          .old_master = "alpha",
          .new_master = "beta",
          .new_master_fs = "tank/backup/data",
          .epoch = 4,
          .snapshot = "tank/data@zrep_00000c",
          .bytes = 8192,
          .seconds = 1.25,
          .newer_kept_in = std::nullopt};
}

// What the master puts on the wire (agent/endpoint/failover.cc).
peer::TakeoverReply to_reply(const FailoverOutcome& o) {
  peer::TakeoverReply r;
  r.set_fs(o.fs);
  r.set_old_master(o.old_master);
  r.set_new_master(o.new_master);
  r.set_new_master_fs(o.new_master_fs);
  r.set_epoch(o.epoch);
  r.set_snapshot(o.snapshot);
  r.set_bytes(o.bytes);
  r.set_seconds(o.seconds);
  if (o.newer_kept_in) r.set_newer_kept_in(*o.newer_kept_in);
  return r;
}

TEST(FailoverOutcome, JsonHasTheKeysOfAPlannedFailover) {
  const json expected{{"fs", "tank/data"},       {"old_master", "alpha"},
                      {"new_master", "beta"},    {"new_master_fs", "tank/backup/data"},
                      {"epoch", uint64_t{4}},    {"snapshot", "tank/data@zrep_00000c"},
                      {"bytes", uint64_t{8192}}, {"seconds", 1.25}};
  EXPECT_EQ(failover_json(sample()).dump(), expected.dump());
  FailoverOutcome at = sample();
  at.newer_kept_in = "tank/data_zrep_kept_4";
  EXPECT_EQ(failover_json(at).at("newer_kept_in"), "tank/data_zrep_kept_4");
}

TEST(FailoverOutcome, StandbyShowsWhatTheMasterShows) {
  for (bool kept : {false, true}) {
    FailoverOutcome o = sample();
    if (kept) o.newer_kept_in = "tank/data_zrep_kept_4";
    // Serialized and parsed, as it crosses the connection.
    peer::TakeoverReply wire;
    ASSERT_TRUE(wire.ParseFromString(to_reply(o).SerializeAsString()));
    const FailoverOutcome there = failover_outcome_from_peer(wire);
    EXPECT_EQ(failover_json(there).dump(), failover_json(o).dump());
    EXPECT_EQ(failover_text(there), failover_text(o));
  }
  EXPECT_EQ(failover_text(sample()),
            "failover done: beta:tank/backup/data is the master now (epoch 4), alpha:tank/data "
            "its read-only standby; common snapshot tank/data@zrep_00000c\n");
}

TEST(FailoverOutcome, StandbySanitizesTheMastersText) {
  peer::TakeoverReply r = to_reply(sample());
  r.set_new_master("beta\n\x1b[2Jowned");
  r.set_newer_kept_in("kept\x07");
  FailoverOutcome o = failover_outcome_from_peer(r);
  EXPECT_EQ(o.new_master, "beta\\x0a\\x1b[2Jowned");
  EXPECT_EQ(o.newer_kept_in, "kept\\x07");
  const std::string text = failover_text(o);
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_EQ(text.find('\x07'), std::string::npos);
  // Unset on the wire: no key, as before.
  EXPECT_FALSE(
      failover_json(failover_outcome_from_peer(to_reply(sample()))).contains("newer_kept_in"));
}

}  // namespace
}  // namespace zrep
