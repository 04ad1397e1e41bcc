// One HTTP/1.1 listener on Boost.Beast: keep-alive, a header and body limit, read and idle
// timeouts and a connection cap, so a slow or hostile client cannot starve the others. What a
// request means is the handler's business; this file knows sockets, nothing else.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "refusal_reason.h"
#include "replywatch/time.h"

namespace replywatch::server {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

struct HttpLimits {
  std::uint64_t max_body_bytes = std::uint64_t{16} * 1024 * 1024;
  std::uint32_t max_header_bytes = 16 * 1024;
  std::uint32_t max_connections = 1024;
  Duration read_timeout = std::chrono::seconds(30);       // a request's header and body
  Duration idle_timeout = std::chrono::seconds(60);       // between requests on one connection
  Duration handshake_timeout = std::chrono::seconds(10);  // TLS only: the whole handshake
  // Bytes of request bodies held at once over all of this listener's connections, from the
  // header's Content-Length (or as chunks arrive) until the answer is sent; beyond it a request
  // is answered 503 with Retry-After. 0: no budget.
  std::uint64_t max_inflight_body_bytes = 0;
};

// A response whose body is written piece by piece after its header (Server-Sent Events). It has
// no Content-Length: the body ends when the connection closes.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // Queues bytes for the client. False once the stream has ended (the client left, a write
  // timed out, or more than kMaxStreamBacklog bytes wait unsent): the caller should drop it.
  virtual bool write(std::string bytes) = 0;
  // Closes the connection; queued bytes are dropped.
  virtual void end() = 0;
  virtual bool ended() const = 0;

  static constexpr std::size_t kMaxStreamBacklog = std::size_t{1} << 20;
};

// Answers a request exactly once, possibly after the handler has returned: with a whole
// response, or (where the server offers it) by opening a stream.
class Respond {
 public:
  using Send = std::function<void(HttpResponse response)>;
  using OpenStream = std::function<std::shared_ptr<ResponseStream>(HttpResponse header)>;

  Respond() = default;
  template <typename F>
  requires(std::is_invocable_v<F&, HttpResponse> && !std::is_same_v<std::decay_t<F>, Respond>)
      Respond(F send)
      : send_(std::move(send)) {}  // NOLINT: a callable is a Respond
  Respond(Send send, OpenStream open_stream)
      : send_(std::move(send)), open_stream_(std::move(open_stream)) {}

  void operator()(HttpResponse response) const { send_(std::move(response)); }
  bool can_stream() const { return static_cast<bool>(open_stream_); }
  // Sends `header` (its status and fields; the body is ignored) and keeps the connection open
  // for the stream. Nothing when this Respond cannot stream.
  std::shared_ptr<ResponseStream> stream(HttpResponse header) const {
    return open_stream_ ? open_stream_(std::move(header)) : nullptr;
  }

 private:
  Send send_;
  OpenStream open_stream_;
};

class HttpServer {
 public:
  // May answer at once or later (from the same io_context), but must call `respond` once.
  using Handler = std::function<void(HttpRequest request, Respond respond)>;
  // Looks at a request's header before its body is read; an answer returned here is sent
  // instead of reading the body (e.g. 401 for an unsigned webhook).
  using HeaderCheck = std::function<std::optional<HttpResponse>(const HttpRequest& header)>;
  // `detail` is the peer's address, or for kInternalError what went wrong.
  using RefusalObserver = std::function<void(RefusalReason reason, const std::string& detail)>;

  HttpServer(boost::asio::io_context& io, Handler handler, HttpLimits limits,
             RefusalObserver on_refusal, HeaderCheck header_check = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves TLS on every connection from now on (before start()). The limits and timeouts apply
  // as on plain connections, plus handshake_timeout.
  void use_tls(std::shared_ptr<boost::asio::ssl::context> context);
  bool tls() const;

  boost::system::error_code listen(const boost::asio::ip::tcp::endpoint& endpoint);
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  void start();

  // Stops accepting; connections waiting for a request are closed, a request being read or
  // answered is finished and its connection closed after.
  void stop();
  std::size_t open_connections() const;

  // The same value for every response: Beast's Server header is the library's.
  static constexpr const char* kServerName = "replywatch";

 private:
  struct Shared;
  class SessionBase;
  template <typename Stream>
  class Session;
  void accept();
  // At the cap: a connection waiting for its next request gives its place to a new one.
  static bool evict_idle(Shared& shared);
  static void refuse_at_cap(boost::asio::ip::tcp::socket socket,
                            const std::shared_ptr<Shared>& shared);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace replywatch::server
