// The pieces of the operations' typed results (proto/control.proto) that more than one
// operation builds. The CLI renders them (agent/cli/render.cc); nothing here is text for a
// person beyond the error messages the operations carry.
#include "agent/ops/replicator.h"

namespace zrep {

control::Transfer sent_transfer(const std::string& fs, const std::string& dest_host,
                                const std::string& dest_fs, const std::string& snapshot,
                                uint64_t guid, uint64_t bytes, double seconds) {
  control::Transfer t;
  t.set_fs(fs);
  t.set_ok(true);
  t.set_dest_host(dest_host);
  t.set_dest_fs(dest_fs);
  t.set_snapshot(snapshot);
  t.set_guid(guid);
  t.set_bytes(bytes);
  t.set_seconds(seconds);
  return t;
}

control::Transfer failed_transfer(const std::string& fs, const std::string& error) {
  control::Transfer t;
  t.set_fs(fs);
  t.set_ok(false);
  t.set_error(error);
  return t;
}

control::TakeoverResult takeover_result(const std::string& fs, const std::string& master,
                                        uint64_t epoch) {
  control::TakeoverResult r;
  r.set_fs(fs);
  r.set_master(master);
  r.set_epoch(epoch);
  return r;
}

control::FailoverResult failover_result(const FailoverOutcome& done) {
  control::FailoverResult r;
  r.set_fs(done.fs);
  r.set_old_master(done.old_master);
  r.set_new_master(done.new_master);
  r.set_new_master_fs(done.new_master_fs);
  r.set_epoch(done.epoch);
  r.set_snapshot(done.snapshot);
  r.set_bytes(done.bytes);
  r.set_seconds(done.seconds);
  if (done.newer_kept_in) r.set_newer_kept_in(*done.newer_kept_in);
  return r;
}

}  // namespace zrep
