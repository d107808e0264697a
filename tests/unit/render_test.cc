// The one renderer of the daemon's typed results (agent/cli/render.h): the text a person reads
// and the JSON keys and types scripts read with --json.
#include "agent/cli/render.h"

#include <gtest/gtest.h>

namespace zrep {
namespace {

using nlohmann::json;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

control::Transfer a_sync() {
  control::Transfer t;
  t.set_fs("tank/a");
  t.set_ok(true);
  t.set_dest_host("beta");
  t.set_dest_fs("backup/a");
  t.set_snapshot("tank/a@zrep_000004");
  t.set_base("tank/a@zrep_000003");
  t.set_guid(18446744073709551557ull);  // past 2^53: a JSON number would lose it
  t.set_bytes(1536);
  t.set_seconds(0.5);
  return t;
}

// A status row of a master with its peer and nothing else.
control::FsStatus* add_master(control::Result& r, const std::string& fs,
                              const std::string& peer_fs) {
  auto* e = r.mutable_status()->add_filesystems();
  e->set_fs(fs);
  e->set_role("master");
  e->set_peer("beta");
  e->set_peer_fs(peer_fs);
  return e;
}

TEST(Render, HumanUnits) {
  EXPECT_EQ(human_bytes(0), "0 B");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(3ull << 30), "3.0 GiB");
  EXPECT_EQ(human_duration(5), "5s");
  EXPECT_EQ(human_duration(200), "3m 20s");
  EXPECT_EQ(human_duration(7300), "2h 1m");
  EXPECT_EQ(human_duration(-3), "0s");
}

TEST(Render, SyncJsonKeepsTheGuidExactAndSaysWhyRetentionFailed) {
  control::Result r;
  *r.mutable_sync()->add_transfers() = a_sync();
  r.mutable_sync()->mutable_transfers(0)->set_expire_error("pool is read-only");
  const json j = render_json(r);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0].at("guid"), "18446744073709551557");
  EXPECT_EQ(j[0].at("bytes"), 1536);
  EXPECT_EQ(j[0].at("base"), "tank/a@zrep_000003");
  EXPECT_EQ(j[0].at("ok"), true);
  EXPECT_EQ(j[0].at("resumed"), false);
  EXPECT_EQ(j[0].at("marked_after_lost_ack"), 0);
  EXPECT_EQ(j[0].at("expired"), (json{{"error", "pool is read-only"}}));
  EXPECT_FALSE(j[0].contains("adopted"));

  control::Expired e;
  e.set_fs("tank/a");
  e.set_savecount(5);
  e.add_destroyed("tank/a@zrep_000001");
  *r.mutable_sync()->mutable_transfers(0)->mutable_expired() = e;
  const json with = render_json(r)[0].at("expired");
  EXPECT_EQ(with.at("savecount"), 5);
  EXPECT_EQ(with.at("destroyed"), json::array({"tank/a@zrep_000001"}));
  EXPECT_FALSE(with.contains("destroyed_on_peer"));  // the peer was not asked
  EXPECT_FALSE(with.contains("not_destroyed"));

  EXPECT_EQ(render_text(r, 0),
            "tank/a -> beta:backup/a: sent tank/a@zrep_000004 (1.5 KiB in 0.50 s), GUID "
            "verified\n");
}

TEST(Render, AFailedSyncAndAnEmptyOne) {
  control::Result r;
  control::Transfer bad;
  bad.set_fs("tank/b");
  bad.set_error("cannot connect");
  *r.mutable_sync()->add_transfers() = bad;
  EXPECT_EQ(render_json(r)[0],
            (json{{"fs", "tank/b"}, {"ok", false}, {"error", "cannot connect"}}));
  EXPECT_EQ(render_text(r, 0), "tank/b: FAILED: cannot connect\n");
  r.mutable_sync()->clear_transfers();
  EXPECT_EQ(render_json(r), json::array());
  EXPECT_TRUE(has(render_text(r, 0), "nothing to sync"));
}

TEST(Render, InitIsOneObjectAndInitTreeAnArray) {
  control::Transfer t = a_sync();
  t.clear_base();
  t.set_full(true);
  t.set_replaced_as("backup/a-replaced-1");
  control::Result r;
  *r.mutable_init()->add_transfers() = t;
  const json one = render_json(r);
  ASSERT_TRUE(one.is_object());
  EXPECT_EQ(one.at("replaced_as"), "backup/a-replaced-1");
  EXPECT_FALSE(one.contains("base"));
  EXPECT_FALSE(one.contains("expired"));
  EXPECT_TRUE(has(render_text(r, 0), "the previous copy is kept as backup/a-replaced-1"));
  EXPECT_TRUE(has(render_text(r, 0), "sent tank/a@zrep_000004 (1.5 KiB in 0.5 s)"));

  r.mutable_init()->set_tree(true);
  const json tree = render_json(r);
  ASSERT_TRUE(tree.is_array());
  EXPECT_EQ(tree.size(), 1u);

  control::Result adopted;
  t.set_adopted(true);
  *adopted.mutable_init()->add_transfers() = t;
  EXPECT_EQ(render_json(adopted).at("adopted"), true);
  EXPECT_TRUE(has(render_text(adopted, 0), "adopted it, nothing sent"));
}

TEST(Render, StatusJsonHasOnlyWhatApplies) {
  control::Result r;
  auto* e = add_master(r, "tank/a", "b/a");
  e->set_epoch("3");
  json j = render_json(r)[0];
  EXPECT_EQ(j, (json{{"fs", "tank/a"},
                     {"role", "master"},
                     {"peer", "beta"},
                     {"peer_fs", "b/a"},
                     {"epoch", "3"}}));
  e->set_unfinished_switch("new=beta epoch=4");
  e->set_unsent_snapshots(0);
  e->mutable_link()->set_state("up");
  j = render_json(r)[0];
  EXPECT_EQ(j.at("switch"), "new=beta epoch=4");
  EXPECT_EQ(j.at("unsent_snapshots"), 0);  // present, though 0
  EXPECT_EQ(j.at("link"), (json{{"direction", ""}, {"state", "up"}}));
  EXPECT_FALSE(j.contains("unfinished_switch"));
  EXPECT_FALSE(j.contains("last_error"));
}

TEST(Render, StatusTableShowsErrorsAndAge) {
  control::Result r;
  auto* a = add_master(r, "tank/a", "b/a");
  a->set_last_sync_time(1000);
  a->set_last_synced_snapshot("tank/a@zrep_000003");
  a->set_unsent_snapshots(0);
  auto* b = add_master(r, "tank/b", "b/b");
  b->set_last_error("cannot connect");
  b->set_failures_in_a_row(2);
  const std::string out = render_text(r, 1090);
  EXPECT_TRUE(has(out, "1m 30s ago")) << out;
  EXPECT_TRUE(has(out, "zrep_000003")) << out;
  EXPECT_TRUE(has(out, "ERROR (2 in a row): cannot connect")) << out;
  EXPECT_TRUE(has(out, "never")) << out;
}

TEST(Render, StatusSaysWhenALinkIsDown) {
  control::Result r;
  auto* a = add_master(r, "tank/a", "b/a");
  a->mutable_link()->set_direction("listens");
  a->mutable_link()->set_state("down");
  a->mutable_link()->set_down_since(1000);
  a->mutable_link()->set_error("no heartbeat from beta for 30 s");
  const std::string out = render_text(r, 1120);
  EXPECT_TRUE(has(out, "LINK DOWN: the peer must dial in (since 2m 0s ago): no heartbeat")) << out;
  EXPECT_EQ(render_json(r)[0].at("link").at("down_since"), 1000);
}

TEST(Render, SnapshotsSayWhetherSent) {
  control::Result r;
  auto* s = r.mutable_snapshots()->add_snapshots();
  s->set_snapshot("tank/a@zrep_000001");
  s->set_guid(42);
  s->set_created(100);
  auto* t = r.mutable_snapshots()->add_snapshots();
  t->set_snapshot("tank/a@zrep_000002");
  t->set_guid(43);
  t->set_created(200);
  t->set_sent(250);
  const json j = render_json(r);
  EXPECT_TRUE(j[0].at("sent").is_null());
  EXPECT_EQ(j[1].at("sent"), 250);
  EXPECT_EQ(j[1].at("guid"), "43");
  const std::string out = render_text(r, 0);
  EXPECT_TRUE(has(out, "tank/a@zrep_000001  42    no")) << out;
  EXPECT_TRUE(has(out, "tank/a@zrep_000002  43    yes")) << out;
}

TEST(Render, ExpireListsWhatWentOnEachSide) {
  control::Result r;
  auto* e = r.mutable_expire()->add_filesystems();
  e->set_fs("tank/a");
  e->set_savecount(2);
  e->add_destroyed("tank/a@zrep_000001");
  (*e->mutable_not_destroyed())["tank/a@zrep_000002"] = "has clones";
  e->set_on_peer(true);
  const json j = render_json(r)[0];
  EXPECT_EQ(j.at("destroyed_on_peer"), json::array());
  EXPECT_EQ(j.at("not_destroyed").at("tank/a@zrep_000002"), "has clones");
  EXPECT_EQ(render_text(r, 0),
            "tank/a: kept the newest 2 zrep snapshots; destroyed 1 here, 0 on the destination\n");
}

TEST(Render, TakeoverForcedOrFinished) {
  control::Result r;
  auto* t = r.mutable_takeover();
  t->set_fs("b/a");
  t->set_master("beta");
  t->set_epoch(5);
  EXPECT_EQ(render_json(r),
            (json{{"fs", "b/a"}, {"master", "beta"}, {"epoch", 5}, {"forced", false}}));
  EXPECT_EQ(render_text(r, 0), "b/a is the master on beta (epoch 5)\n");
  t->set_forced(true);
  t->set_snapshot("b/a@zrep_000009");
  t->set_old_master("alpha");
  EXPECT_EQ(render_json(r).at("old_master"), "alpha");
  EXPECT_TRUE(has(render_text(r, 0), "FORCED at b/a@zrep_000009; alpha demotes itself"));
}

TEST(Render, ClearChangedestResync) {
  control::Result c;
  c.mutable_clear()->set_fs("tank/a");
  EXPECT_EQ(render_json(c), (json{{"fs", "tank/a"}}));
  c.mutable_clear()->set_tree(true);
  c.mutable_clear()->add_members("tank/a/b");
  c.mutable_clear()->set_cleared_on_peer("backup/a");
  EXPECT_EQ(render_json(c).at("members"), json::array({"tank/a/b"}));
  EXPECT_EQ(render_text(c, 0),
            "cleared the zrep properties of tank/a and of its replica backup/a; data and "
            "snapshots are untouched\n");

  control::Result d;
  auto* m = d.mutable_changedest();
  m->set_fs("tank/a");
  m->set_dest_host("gamma");
  m->set_dest_fs("c/a");
  m->set_common_snapshot("tank/a@zrep_000002");
  m->set_previous("beta:b/a");
  EXPECT_EQ(render_json(d).at("previous"), "beta:b/a");
  EXPECT_EQ(render_text(d, 0),
            "tank/a now replicates to gamma:c/a (was beta:b/a); common snapshot "
            "tank/a@zrep_000002\n");

  control::Result s;
  auto* y = s.mutable_resync();
  y->set_fs("tank/a");
  y->set_kept_as("tank/a-diverged-e4");
  y->set_common_snapshot("tank/a@zrep_000003");
  y->set_master("beta");
  y->set_master_fs("b/a");
  y->set_fenced("epoch=4 by=beta");
  EXPECT_EQ(render_json(s).at("kept_as"), "tank/a-diverged-e4");
  EXPECT_TRUE(has(render_text(s, 0), "is kept in tank/a-diverged-e4"));
}

TEST(Render, EmptyListsAndAnUnknownResult) {
  control::Result r;
  r.mutable_list();
  EXPECT_TRUE(has(render_text(r, 0), "no zrep filesystems"));
  EXPECT_EQ(render_json(r), json::array());
  EXPECT_TRUE(render_json(control::Result()).is_null());
  EXPECT_EQ(render_text(control::Result(), 0), "");
}

}  // namespace
}  // namespace zrep
