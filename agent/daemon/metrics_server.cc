#include "agent/daemon/metrics_server.h"

#include <poll.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include <chrono>

#include "common/unique_fd.h"

namespace zrep {
namespace {

constexpr size_t kMaxHead = 8 << 10;
constexpr std::chrono::seconds kRequestTimeout{5};

std::string response(std::string_view status, std::string_view type, std::string_view body) {
  std::string out = "HTTP/1.1 ";
  out += status;
  out += "\r\nContent-Type: ";
  out += type;
  out += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  out += body;
  return out;
}

// Reads up to the end of the request head, within kRequestTimeout and kMaxHead.
std::optional<std::string> read_head(int fd) {
  const auto deadline = std::chrono::steady_clock::now() + kRequestTimeout;
  std::string head;
  char buf[1024];
  while (head.find("\r\n\r\n") == std::string::npos) {
    if (head.size() > kMaxHead) return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;
    head.append(buf, static_cast<size_t>(n));
  }
  return head;
}

void write_all(int fd, const std::string& data) {
  timeval tv{static_cast<time_t>(kRequestTimeout.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace

std::optional<HttpRequestLine> parse_request_line(std::string_view head) {
  const size_t eol = head.find("\r\n");
  if (eol == std::string_view::npos) return std::nullopt;
  std::string_view line = head.substr(0, eol);
  const size_t a = line.find(' ');
  const size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
  if (b == std::string_view::npos || a == 0 || b == a + 1) return std::nullopt;
  if (line.substr(b + 1).rfind("HTTP/1.", 0) != 0) return std::nullopt;
  return HttpRequestLine{std::string(line.substr(0, a)),
                         std::string(line.substr(a + 1, b - a - 1))};
}

std::string http_answer(std::string_view head, const std::function<std::string()>& scrape) {
  auto req = parse_request_line(head);
  if (!req) return response("400 Bad Request", "text/plain", "not an HTTP/1.x request\n");
  std::string_view path = req->target;
  path = path.substr(0, path.find('?'));  // Prometheus may add query parameters
  if (path != "/metrics") {
    return response("404 Not Found", "text/plain", "zrep-agent serves /metrics only\n");
  }
  if (req->method != "GET") {
    return response("405 Method Not Allowed", "text/plain", "GET /metrics only\n");
  }
  return response("200 OK", "text/plain; version=0.0.4; charset=utf-8", scrape());
}

MetricsServer::MetricsServer(asio::io_context& io, SessionRegistry& sessions,
                             std::function<std::string()> scrape)
    : acceptor_(io), retry_(io), sessions_(sessions), scrape_(std::move(scrape)) {}

Status MetricsServer::bind(const Endpoint& where) {
  where_ = where.to_string();
  asio::error_code ec;
  asio::ip::tcp::resolver resolver(acceptor_.get_executor());
  auto results = resolver.resolve(where.host, std::to_string(where.port), ec);
  if (ec || results.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cannot resolve metrics_listen " + where_ + ": " + ec.message());
  }
  auto ep = results.begin()->endpoint();
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(16, ec);
  if (ec) {
    return make_error(ErrorCode::kUnavailable,
                      "cannot listen on metrics_listen " + where_ + ": " + ec.message());
  }
  return Status::ok();
}

void MetricsServer::start() { accept(); }

void MetricsServer::stop() {
  asio::error_code ignored;
  acceptor_.close(ignored);
  retry_.cancel();
}

void MetricsServer::accept() {
  acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      auto slot = slots_->try_acquire("scrape");
      if (slot) {
        auto conn = std::make_shared<UniqueFd>(socket.release());
        (void)sessions_.spawn([this, conn, slot] { serve(conn->get()); });
      }  // else: closed with `socket`
    } else {
      // Out of descriptors (or another failure): accepting again at once would spin a core.
      retry_.expires_after(std::chrono::seconds(1));
      retry_.async_wait([this](const asio::error_code& timer_ec) {
        if (!timer_ec) accept();
      });
      return;
    }
    accept();
  });
}

void MetricsServer::serve(int fd) {
  auto head = read_head(fd);
  if (!head) return;
  write_all(fd, http_answer(*head, scrape_));
}

}  // namespace zrep
