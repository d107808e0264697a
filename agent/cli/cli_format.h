// Human-readable rendering of the daemon's JSON results (what the command prints without
// --json). Pure functions, unit-tested.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace zrep {

std::string human_bytes(uint64_t bytes);      // "1.5 MiB"
std::string human_duration(int64_t seconds);  // "3m 20s"
std::string format_init(const nlohmann::json& r);
std::string format_sync(const nlohmann::json& results);
std::string format_list(const nlohmann::json& rows);
std::string format_expire(const nlohmann::json& results);
std::string format_snapshot_list(const nlohmann::json& rows);
std::string format_status(const nlohmann::json& rows, int64_t now);
// A zrep:fenced record in words, with what to do.
std::string describe_fenced(const std::string& record, const std::string& fs);
// A zrep:kept record (a failover at a named snapshot kept what was newer aside) for a person.
std::string describe_kept(const std::string& record);
std::string format_failover(const nlohmann::json& r);

}  // namespace zrep
