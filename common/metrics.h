// Counters and histograms for the Prometheus endpoint (metrics_listen), and the text exposition
// format (version 0.0.4) they are served in. The code that sees an event counts it here by name
// and labels (a transfer's bytes, a failure's reason, a refused handshake); the daemon adds the
// gauges it reads at scrape time (role, lag, link state) and serves the text
// (agent/daemon/metrics_server.cc). Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace zrep::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class Kind { kCounter, kGauge, kHistogram };

// Builds one scrape's text: each family's HELP and TYPE once, then its samples.
class Exposition {
 public:
  void family(const std::string& name, Kind kind, const std::string& help);
  // A sample of the family last declared (or of `name`'s family, declared before).
  void sample(const std::string& name, const Labels& labels, double value);
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// "name{a="x",b="y"}" with the label values escaped (\\, \", \n).
std::string series(const std::string& name, const Labels& labels);

class Registry {
 public:
  // The daemon's registry.
  static Registry& global();

  // Families must be described before they are counted (HELP, TYPE, a histogram's buckets).
  void describe(const std::string& name, Kind kind, const std::string& help,
                std::vector<double> buckets = {});
  void add(const std::string& name, const Labels& labels, double by = 1);     // a counter
  void observe(const std::string& name, const Labels& labels, double value);  // a histogram
  // Appends every described family and its samples.
  void expose(Exposition& out) const;
  // The value of one counter series (0 when never counted), for tests.
  double value(const std::string& name, const Labels& labels) const;

 private:
  struct Histogram {
    std::vector<uint64_t> counts;  // per bucket, not cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  struct Family {
    Kind kind = Kind::kCounter;
    std::string help;
    std::vector<double> buckets;
    std::map<Labels, double> counters;
    std::map<Labels, Histogram> histograms;
  };
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;  // guarded by mu_
};

}  // namespace zrep::metrics
