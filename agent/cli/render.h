// The one place that turns the daemon's typed results (proto/control.proto) into what a
// command prints: text for a person, or the JSON of --json. Pure functions, unit-tested
// (tests/unit/render_test.cc pins the JSON keys scripts read).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "proto/control.pb.h"

namespace zrep {

std::string human_bytes(uint64_t bytes);      // "1.5 MiB"
std::string human_duration(int64_t seconds);  // "3m 20s"
// A field as a table cell or in a sentence: "-" when it is empty.
std::string or_dash(const std::string& s);
// Left-aligned columns wide enough for every cell, two spaces apart; one line per row.
std::string text_table(const std::vector<std::vector<std::string>>& rows);
// A zrep:fenced record in words, with what to do.
std::string describe_fenced(const std::string& record, const std::string& fs);
// A zrep:kept record (a failover at a named snapshot kept what was newer aside) for a person.
std::string describe_kept(const std::string& record);

// A successful result as text; `now` (unix seconds) for the ages status shows. Empty when the
// result carries no value (a daemon of another release).
std::string render_text(const control::Result& result, int64_t now);
// A successful result as --json prints it; null when it carries no value.
nlohmann::json render_json(const control::Result& result);

// peers and doctor (render_doctor.cc). doctor's text: one line per check, "OK   name: detail",
// "WARN name: detail — what to do", "FAIL ..."; its JSON an array of {name, level, detail,
// what_to_do}.
std::string peers_text(const control::PeersResult& peers, int64_t now);
nlohmann::json peers_json(const control::PeersResult& peers);
std::string doctor_text(const control::DoctorResult& result);
nlohmann::json doctor_json(const control::DoctorResult& result);
nlohmann::json link_json(const control::LinkView& link);  // as status shows it

}  // namespace zrep
