#include "common/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace zrep::metrics {
namespace {

std::string escape(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kCounter:
      return "counter";
    case Kind::kGauge:
      return "gauge";
    case Kind::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string series(const std::string& name, const Labels& labels) {
  if (labels.empty()) return name;
  std::string out = name + "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ",";
    out += labels[i].first + "=\"" + escape(labels[i].second) + "\"";
  }
  return out + "}";
}

void Exposition::family(const std::string& name, Kind kind, const std::string& help) {
  text_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + kind_name(kind) + "\n";
}

void Exposition::sample(const std::string& name, const Labels& labels, double value) {
  text_ += series(name, labels) + " " + number(value) + "\n";
}

Registry& Registry::global() {
  static Registry r;
  return r;
}

void Registry::describe(const std::string& name, Kind kind, const std::string& help,
                        std::vector<double> buckets) {
  std::lock_guard lk(mu_);
  Family& f = families_[name];
  f.kind = kind;
  f.help = help;
  std::sort(buckets.begin(), buckets.end());
  f.buckets = std::move(buckets);
}

void Registry::add(const std::string& name, const Labels& labels, double by) {
  std::lock_guard lk(mu_);
  auto it = families_.find(name);
  if (it == families_.end() || it->second.kind != Kind::kCounter) return;  // not described
  it->second.counters[labels] += by;
}

void Registry::observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lk(mu_);
  auto it = families_.find(name);
  if (it == families_.end() || it->second.kind != Kind::kHistogram) return;
  Family& f = it->second;
  Histogram& h = f.histograms[labels];
  h.counts.resize(f.buckets.size());
  for (size_t i = 0; i < f.buckets.size(); ++i) {
    if (value <= f.buckets[i]) {
      ++h.counts[i];
      break;
    }
  }
  ++h.count;
  h.sum += value;
}

void Registry::expose(Exposition& out) const {
  std::lock_guard lk(mu_);
  for (const auto& [name, f] : families_) {
    out.family(name, f.kind, f.help);
    for (const auto& [labels, v] : f.counters) out.sample(name, labels, v);
    for (const auto& [labels, h] : f.histograms) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i < f.buckets.size(); ++i) {
        cumulative += i < h.counts.size() ? h.counts[i] : 0;
        Labels with = labels;
        with.emplace_back("le", number(f.buckets[i]));
        out.sample(name + "_bucket", with, static_cast<double>(cumulative));
      }
      Labels inf = labels;
      inf.emplace_back("le", "+Inf");
      out.sample(name + "_bucket", inf, static_cast<double>(h.count));
      out.sample(name + "_sum", labels, h.sum);
      out.sample(name + "_count", labels, static_cast<double>(h.count));
    }
  }
}

double Registry::value(const std::string& name, const Labels& labels) const {
  std::lock_guard lk(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto c = it->second.counters.find(labels);
  return c == it->second.counters.end() ? 0 : c->second;
}

}  // namespace zrep::metrics
