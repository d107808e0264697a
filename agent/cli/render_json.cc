// The JSON of --json from the typed results (render.h). Its keys and types are what scripts
// read: tests/unit/render_test.cc pins them. GUIDs are decimal strings (a 64-bit GUID does not
// fit a JSON number that every reader parses exactly).
#include "agent/cli/render.h"

namespace zrep {
namespace {

using nlohmann::json;

json strings(const google::protobuf::RepeatedPtrField<std::string>& list) {
  return json(std::vector<std::string>(list.begin(), list.end()));
}

json expired_json(const control::Expired& e) {
  json out{{"fs", e.fs()}, {"savecount", e.savecount()}, {"destroyed", strings(e.destroyed())}};
  if (!e.not_destroyed().empty()) {
    json why = json::object();
    for (const auto& [name, message] : e.not_destroyed()) why[name] = message;
    out["not_destroyed"] = why;
  }
  if (e.on_peer()) out["destroyed_on_peer"] = strings(e.destroyed_on_peer());
  return out;
}

json transfer_json(const control::Transfer& t) {
  if (!t.ok()) return json{{"fs", t.fs()}, {"ok", false}, {"error", t.error()}};
  json out{{"fs", t.fs()},
           {"ok", true},
           {"dest_host", t.dest_host()},
           {"dest_fs", t.dest_fs()},
           {"snapshot", t.snapshot()},
           {"guid", std::to_string(t.guid())},
           {"bytes", t.bytes()},
           {"seconds", t.seconds()},
           {"resumed", t.resumed()}};
  if (t.full()) {
    out["replaced_as"] = t.replaced_as();
    if (t.adopted()) out["adopted"] = true;
    return out;
  }
  out["base"] = t.base();
  out["marked_after_lost_ack"] = t.marked_after_lost_ack();
  out["discarded_partial"] = t.discarded_partial();
  out["expired"] = t.has_expired() ? expired_json(t.expired()) : json{{"error", t.expire_error()}};
  return out;
}

json transfers_json(const control::Transfers& r) {
  json out = json::array();
  for (const auto& t : r.transfers()) out.push_back(transfer_json(t));
  return out;
}

json status_json(const control::FsStatus& r) {
  json e{{"fs", r.fs()},
         {"role", r.role()},
         {"peer", r.peer()},
         {"peer_fs", r.peer_fs()},
         {"epoch", r.epoch()}};
  auto put = [&e](const char* key, bool present, const auto& value) {
    if (present) e[key] = value;
  };
  put("error", r.has_error(), r.error());
  put("zrep_snapshots", r.has_zrep_snapshots(), r.zrep_snapshots());
  put("unsent_snapshots", r.has_unsent_snapshots(), r.unsent_snapshots());
  put("last_synced_snapshot", r.has_last_synced_snapshot(), r.last_synced_snapshot());
  put("last_sync_time", r.has_last_sync_time(), r.last_sync_time());
  put("lag_seconds", r.has_lag_seconds(), r.lag_seconds());
  if (r.has_lock()) {
    const auto& l = r.lock();
    e["lock"] = json{{"host", l.host()},
                     {"agent", l.agent()},
                     {"operation", l.operation()},
                     {"since", l.since()},
                     {"text", l.text()}};
  }
  if (r.has_link()) e["link"] = link_json(r.link());
  put("fenced", r.has_fenced(), r.fenced());
  put("switch", r.has_unfinished_switch(), r.unfinished_switch());
  put("forced_takeover", r.has_forced_takeover(), r.forced_takeover());
  put("kept", r.has_kept(), r.kept());
  put("running", r.has_running(), r.running());
  put("running_since", r.has_running_since(), r.running_since());
  put("last_transfer_bytes", r.has_last_transfer_bytes(), r.last_transfer_bytes());
  put("last_transfer_seconds", r.has_last_transfer_seconds(), r.last_transfer_seconds());
  put("next_run", r.has_next_run(), r.next_run());
  put("failures_in_a_row", r.has_failures_in_a_row(), r.failures_in_a_row());
  put("last_error", r.has_last_error(), r.last_error());
  put("last_error_time", r.has_last_error_time(), r.last_error_time());
  put("last_error_code", r.has_last_error_code(), r.last_error_code());
  put("switch_since", r.has_unfinished_switch_since(), r.unfinished_switch_since());
  put("warn_lag_seconds", r.warn_lag_seconds() > 0, r.warn_lag_seconds());
  put("crit_lag_seconds", r.crit_lag_seconds() > 0, r.crit_lag_seconds());
  return e;
}

json list_json(const control::ListResult& r) {
  json out = json::array();
  for (const auto& p : r.pairings()) {
    out.push_back(json{{"fs", p.fs()},
                       {"role", p.role()},
                       {"src_host", p.src_host()},
                       {"src_fs", p.src_fs()},
                       {"dest_host", p.dest_host()},
                       {"dest_fs", p.dest_fs()},
                       {"savecount", p.savecount()},
                       {"epoch", p.epoch()}});
  }
  return out;
}

json snapshots_json(const control::SnapshotList& r) {
  json out = json::array();
  for (const auto& s : r.snapshots()) {
    out.push_back(json{{"snapshot", s.snapshot()},
                       {"guid", std::to_string(s.guid())},
                       {"created", s.created()},
                       {"sent", s.has_sent() ? json(s.sent()) : json(nullptr)},
                       {"retention", s.retention()}});
  }
  return out;
}

json failover_json(const control::FailoverResult& r) {
  json out{{"fs", r.fs()},
           {"old_master", r.old_master()},
           {"new_master", r.new_master()},
           {"new_master_fs", r.new_master_fs()},
           {"epoch", r.epoch()},
           {"snapshot", r.snapshot()},
           {"bytes", r.bytes()},
           {"seconds", r.seconds()}};
  if (r.has_newer_kept_in()) out["newer_kept_in"] = r.newer_kept_in();
  return out;
}

json takeover_json(const control::TakeoverResult& r) {
  json out{{"fs", r.fs()}, {"master", r.master()}, {"epoch", r.epoch()}, {"forced", r.forced()}};
  if (r.forced()) {
    out["snapshot"] = r.snapshot();
    out["old_master"] = r.old_master();
  }
  return out;
}

json clear_json(const control::ClearResult& r) {
  json out{{"fs", r.fs()}};
  if (r.tree()) out["members"] = strings(r.members());
  if (!r.cleared_on_peer().empty()) out["cleared_on_peer"] = r.cleared_on_peer();
  return out;
}

}  // namespace

nlohmann::json link_json(const control::LinkView& l) {
  json out{{"direction", l.direction()}, {"state", l.state()}};
  if (l.has_up_since()) out["up_since"] = l.up_since();
  if (l.has_down_since()) out["down_since"] = l.down_since();
  if (l.has_last_heard()) out["last_heard"] = l.last_heard();
  if (l.has_error()) out["error"] = l.error();
  return out;
}

nlohmann::json render_json(const control::Result& result) {
  using R = control::Result;
  switch (result.value_case()) {
    case R::kInit: {
      const auto& r = result.init();
      // One filesystem: its object; init -R: one per filesystem of the tree.
      if (!r.tree() && r.transfers_size() == 1) return transfer_json(r.transfers(0));
      return transfers_json(r);
    }
    case R::kSync:
      return transfers_json(result.sync());
    case R::kList:
      return list_json(result.list());
    case R::kSnapshots:
      return snapshots_json(result.snapshots());
    case R::kStatus: {
      json out = json::array();
      for (const auto& r : result.status().filesystems()) out.push_back(status_json(r));
      return out;
    }
    case R::kExpire: {
      json out = json::array();
      for (const auto& e : result.expire().filesystems()) out.push_back(expired_json(e));
      return out;
    }
    case R::kClear:
      return clear_json(result.clear());
    case R::kChangedest: {
      const auto& r = result.changedest();
      return json{{"fs", r.fs()},
                  {"dest_host", r.dest_host()},
                  {"dest_fs", r.dest_fs()},
                  {"common_snapshot", r.common_snapshot()},
                  {"previous", r.previous()}};
    }
    case R::kFailover:
      return failover_json(result.failover());
    case R::kTakeover:
      return takeover_json(result.takeover());
    case R::kResync: {
      const auto& r = result.resync();
      return json{{"fs", r.fs()},
                  {"kept_as", r.kept_as()},
                  {"common_snapshot", r.common_snapshot()},
                  {"master", r.master()},
                  {"master_fs", r.master_fs()},
                  {"fenced", r.fenced()}};
    }
    case R::kPeers:
      return peers_json(result.peers());
    case R::VALUE_NOT_SET:
      break;
  }
  return nullptr;
}

}  // namespace zrep
