// The config parser (agent/config/config.h: parse_config from TOML text).
#include <cstdint>
#include <string_view>

#include "agent/config/config.h"
#include "agent/logic/zfs_names.h"
#include "tests/fuzz/fuzz_util.h"

using namespace zrep;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto cfg = parse_config(text, "fuzz.toml");
  if (!cfg) return 0;
  // What a valid config promises the rest of the agent.
  ZREP_FUZZ_CHECK(!cfg->host.empty());
  for (const auto& peer : cfg->peers) {
    ZREP_FUZZ_CHECK(cfg->find_peer(peer.name).has_value());
    for (const auto& ds : peer.datasets) ZREP_FUZZ_CHECK(validate_dataset_name(ds).is_ok());
  }
  for (const auto& fs : cfg->filesystems) {
    ZREP_FUZZ_CHECK(validate_dataset_name(fs.name).is_ok());
    (void)cfg->interval_for(fs.name);
    (void)cfg->raw_for(fs.name);
  }
  (void)cfg->peer_names();
  return 0;
}
