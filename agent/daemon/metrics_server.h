// The Prometheus endpoint: plain HTTP/1.x on `metrics_listen`, GET /metrics only (anything
// else gets 404 or 405), one request per connection, answered on a session thread (a scrape
// reads the status of every filesystem, which runs zfs). Bounded: a request head of at most
// 8 KiB that arrives within 5 s, and at most 4 scrapes at once; more are closed at once. It has
// no authentication: bind it to loopback or a management network (the README says so).
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/config/config.h"
#include "agent/rpc/conn_limits.h"
#include "agent/rpc/session_registry.h"
#include "common/result.h"

namespace zrep {

// The request line of an HTTP request head ("GET /metrics HTTP/1.1\r\n..."), or none when it
// is not one.
struct HttpRequestLine {
  std::string method, target;
};
std::optional<HttpRequestLine> parse_request_line(std::string_view head);

// The whole answer to a request head: status line, headers, body.
std::string http_answer(std::string_view head, const std::function<std::string()>& scrape);

class MetricsServer {
 public:
  MetricsServer(asio::io_context& io, SessionRegistry& sessions,
                std::function<std::string()> scrape);
  Status bind(const Endpoint& where);
  void start();  // accepts on the io thread
  void stop();

 private:
  void accept();
  void serve(int fd);

  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer retry_;  // out of descriptors: accept again a second later
  SessionRegistry& sessions_;
  std::function<std::string()> scrape_;
  std::shared_ptr<SlotCounter> slots_ = SlotCounter::create(4, 4);
  std::string where_;
};

}  // namespace zrep
