#include "http_server.h"

#include <array>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <deque>
#include <optional>
#include <unordered_map>

namespace replywatch::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// After refusing a request whose body is still arriving, what is left is read and thrown away
// for at most this long, so the client sees the answer rather than a reset connection.
constexpr auto kDrainTime = std::chrono::seconds(1);
constexpr std::size_t kDrainBytes = std::size_t{64} * 1024 * 1024;
constexpr std::size_t kDrainChunk = std::size_t{64} * 1024;
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
constexpr std::size_t kFirstRead = 4096;
constexpr std::size_t kBodyRead = std::size_t{64} * 1024;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::chrono::steady_clock::duration steady(Duration duration) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(duration);
}

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// Sending close_notify after the last response: at most this long.
constexpr auto kTlsShutdownTime = std::chrono::seconds(1);

std::string peer_of(const tcp::socket& socket) {
  beast::error_code error;
  const tcp::endpoint remote = socket.remote_endpoint(error);
  return error ? std::string("unknown peer")
               : remote.address().to_string() + ":" + std::to_string(remote.port());
}

}  // namespace

class HttpServer::SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Between requests, before a byte of the next one has come.
  virtual bool idle() const = 0;
  virtual void stop() = 0;
};

struct HttpServer::Shared {
  Handler handler;
  HttpLimits limits;
  RefusalObserver on_refusal;
  HeaderCheck header_check;
  std::shared_ptr<net::ssl::context> tls;
  std::uint64_t inflight_body_bytes = 0;  // reserved by sessions, see HttpLimits
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions;
  bool stopping = false;
};

template <typename Stream>
class HttpServer::Session final : public SessionBase,
                                  public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  using std::enable_shared_from_this<Session<Stream>>::shared_from_this;

 public:
  Session(tcp::socket socket, std::shared_ptr<Shared> shared)
      : peer_(peer_of(socket)),
        stream_(make_stream(std::move(socket), *shared)),
        shared_(std::move(shared)) {}
  ~Session() override {
    release_body();
    shared_->sessions.erase(this);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void run() {
    shared_->sessions.emplace(this, std::weak_ptr<SessionBase>(shared_from_this()));
    if constexpr (kTls) {
      // A handshake is one step with one deadline: a client that opens a connection and stalls
      // holds its slot for handshake_timeout at most.
      lowest().expires_after(steady(shared_->limits.handshake_timeout));
      stream_.async_handshake(net::ssl::stream_base::server, [self = shared_from_this()](
                                                                 beast::error_code error) {
        if (error == net::error::eof || error == net::error::connection_reset ||
            error == net::error::operation_aborted) {
          return self->close_socket();  // gone before a word: nothing refused
        }
        if (error) {
          self->shared_->on_refusal(error == beast::error::timeout ? RefusalReason::kTimeout
                                                                   : RefusalReason::kTlsHandshake,
                                    self->peer_);
          return self->close_socket();
        }
        self->handshake_done_ = true;
        self->read_header();
      });
    } else {
      read_header();
    }
  }

  bool idle() const override { return waiting_for_request_; }

  void stop() override {
    closing_ = true;
    if (streaming_) return close_socket();  // a stream never finishes by itself
    // A connection between requests has nothing in flight: close it now. One in the middle of
    // a request finishes it first (on_write closes it).
    if (waiting_for_request_) {
      waiting_for_request_ = false;  // no longer a candidate for eviction
      close_socket();
    }
  }

  // The ResponseStream side, through StreamHandle.
  bool stream_write(std::string bytes) {
    if (!streaming_ || stream_ended_) return false;
    outbox_bytes_ += bytes.size();
    if (outbox_bytes_ > ResponseStream::kMaxStreamBacklog) {
      end_stream();
      return false;
    }
    outbox_.push_back(std::move(bytes));
    if (!writing_) write_next();
    return true;
  }
  void end_stream() {
    if (stream_ended_) return;
    stream_ended_ = true;
    outbox_.clear();
    close_socket();
  }
  bool stream_ended() const { return stream_ended_; }

 private:
  class StreamHandle final : public ResponseStream {
   public:
    explicit StreamHandle(std::weak_ptr<Session> session) : session_(std::move(session)) {}
    ~StreamHandle() override { end(); }
    StreamHandle(const StreamHandle&) = delete;
    StreamHandle& operator=(const StreamHandle&) = delete;
    bool write(std::string bytes) override {
      auto session = session_.lock();
      return session && session->stream_write(std::move(bytes));
    }
    void end() override {
      if (auto session = session_.lock()) session->end_stream();
    }
    bool ended() const override {
      auto session = session_.lock();
      return !session || session->stream_ended();
    }

   private:
    std::weak_ptr<Session> session_;
  };

  static Stream make_stream(tcp::socket socket, Shared& shared) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *shared.tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  // A connection may sit idle for idle_timeout; once a request's first byte is in, its header
  // and body must arrive within read_timeout each, so trickling bytes cannot hold a slot long.
  void read_header() {
    if (closing_ || shared_->stopping) return close();
    parser_.emplace();
    parser_->header_limit(shared_->limits.max_header_bytes);
    parser_->body_limit(shared_->limits.max_body_bytes);
    if (buffer_.size() > 0) return read_rest_of_header();  // pipelined: already here
    waiting_for_request_ = true;
    lowest().expires_after(steady(shared_->limits.idle_timeout));
    stream_.async_read_some(buffer_.prepare(kFirstRead),
                            [self = shared_from_this()](beast::error_code error, std::size_t n) {
                              self->waiting_for_request_ = false;
                              if (error) return self->on_read_error(error);
                              self->buffer_.commit(n);
                              self->read_rest_of_header();
                            });
  }

  void read_rest_of_header() {
    lowest().expires_after(steady(shared_->limits.read_timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code error, std::size_t /*bytes*/) {
    if (error) return on_read_error(error);
    const auto length = parser_->content_length();
    if (length && *length > shared_->limits.max_body_bytes) {
      return refuse(http::status::payload_too_large, RefusalReason::kBodyTooLarge);
    }
    // Beast decodes only `chunked`; anything else (gzip, deflate, ...) would be read as if it
    // were plain, and a compressed body would then look like garbage.
    const std::string_view coding = parser_->get()[http::field::transfer_encoding];
    if (!coding.empty() && !beast::iequals(trim(coding), "chunked")) {
      return refuse(http::status::not_implemented, RefusalReason::kUnsupportedTransferEncoding);
    }
    if (shared_->header_check) {
      if (auto answer = shared_->header_check(parser_->get())) {
        return send(std::move(*answer), false, true);
      }
    }
    if (!reserve_body(length.value_or(0))) return refuse_busy();
    lowest().expires_after(steady(shared_->limits.read_timeout));
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      auto continue_response =
          std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      http::async_write(
          stream_, *continue_response,
          [self = shared_from_this(), continue_response](beast::error_code e, std::size_t) {
            if (e) return self->close();
            self->read_body();
          });
      return;
    }
    read_body();
  }

  // Fed to the parser by hand, piece by piece: a chunked body's growth is charged to the budget
  // as it arrives, and Beast's exception for a trailer field over 64 KiB ("field value too large",
  // which no limit of the parser catches) is answered 431 here instead of escaping the session.
  void read_body() {
    parser_->eager(true);
    while (!parser_->is_done() && buffer_.size() > 0) {
      beast::error_code error;
      std::size_t used = 0;
      try {
        used = parser_->put(buffer_.data(), error);
      } catch (const std::length_error&) {
        return refuse(http::status::request_header_fields_too_large,
                      RefusalReason::kHeaderTooLarge);
      }
      buffer_.consume(used);
      if (error == http::error::need_more) break;
      if (error) return on_read_error(error);
      const std::uint64_t held = parser_->get().body().size();
      if (held > reserved_ && !reserve_body(held - reserved_)) return refuse_busy();
      if (used == 0) break;
    }
    if (parser_->is_done()) return on_body();
    stream_.async_read_some(
        buffer_.prepare(kBodyRead),
        [self = shared_from_this()](beast::error_code error, std::size_t n) {
          if (error == net::error::eof) {
            beast::error_code end;
            self->parser_->put_eof(end);
            if (!end && self->parser_->is_done()) return self->on_body();
            return self->on_read_error(end ? end : beast::error_code(http::error::partial_message));
          }
          if (error) return self->on_read_error(error);
          self->buffer_.commit(n);
          self->read_body();
        });
  }

  bool reserve_body(std::uint64_t bytes) {
    const std::uint64_t budget = shared_->limits.max_inflight_body_bytes;
    if (budget != 0 && shared_->inflight_body_bytes + bytes > budget) return false;
    shared_->inflight_body_bytes += bytes;
    reserved_ += bytes;
    return true;
  }

  void release_body() {
    shared_->inflight_body_bytes -= reserved_;
    reserved_ = 0;
  }

  void refuse_busy() {
    release_body();
    shared_->on_refusal(RefusalReason::kBodyBudget, peer_);
    HttpResponse response{http::status::service_unavailable, 11};
    response.set(http::field::content_type, "application/json");
    response.set(http::field::retry_after, "1");
    response.body() = R"({"error":")" + std::string(refusal_text(RefusalReason::kBodyBudget)) +
                      "; retry shortly\"}\n";
    send(std::move(response), false, true);
  }

  void on_body() {
    HttpRequest request = parser_->release();
    const unsigned version = request.version();
    const bool wants_keep_alive = request.keep_alive();
    auto answered = std::make_shared<bool>(false);
    Respond respond(
        [self = shared_from_this(), version, wants_keep_alive, answered](HttpResponse response) {
          if (*answered) return;
          *answered = true;
          const bool keep_alive = wants_keep_alive && !self->closing_ && !self->shared_->stopping;
          response.version(version);
          self->send(std::move(response), keep_alive, false);
        },
        [self = shared_from_this(), version,
         answered](HttpResponse header) -> std::shared_ptr<ResponseStream> {
          if (*answered || self->closing_ || self->shared_->stopping) return nullptr;
          *answered = true;
          header.version(version);
          return self->start_stream(std::move(header));
        });
    try {
      shared_->handler(std::move(request), respond);
    } catch (const std::exception& failure) {
      // A bug, not bad input: answer 500 and keep serving everyone else.
      shared_->on_refusal(RefusalReason::kInternalError, failure.what());
      HttpResponse response{http::status::internal_server_error, version};
      response.set(http::field::content_type, "application/json");
      response.body() = "{\"error\":\"internal error\"}\n";
      respond(std::move(response));
    }
  }

  void on_read_error(beast::error_code error) {
    if (error == http::error::end_of_stream || error == net::error::operation_aborted ||
        error == net::error::eof || error == net::error::connection_reset) {
      return close();
    }
    if (error == beast::error::timeout) {
      // Quiet between requests is normal keep-alive; a request cut off half-way is not.
      // The stream closed itself on expiry; there is no answering, only counting.
      if (parser_ && (parser_->got_some() || buffer_.size() > 0)) {
        shared_->on_refusal(RefusalReason::kTimeout, peer_);
      }
      return close();
    }
    if (error == http::error::body_limit) {
      return refuse(http::status::payload_too_large, RefusalReason::kBodyTooLarge);
    }
    if (error == http::error::header_limit) {
      return refuse(http::status::request_header_fields_too_large, RefusalReason::kHeaderTooLarge);
    }
    if (error.category() == http::make_error_code(http::error::bad_target).category()) {
      return refuse(http::status::bad_request, RefusalReason::kMalformed);
    }
    close();
  }

  // Answers a request that never reaches the handler, then closes the connection.
  void refuse(http::status status, RefusalReason refusal) {
    shared_->on_refusal(refusal, peer_);
    HttpResponse response{status, 11};
    response.set(http::field::content_type, "application/json");
    response.body() = R"({"error":")" + std::string(refusal_text(refusal)) + "\"}\n";
    send(std::move(response), false, true);
  }

  void send(HttpResponse response, bool keep_alive, bool drain_after) {
    response_.emplace(std::move(response));
    response_->set(http::field::server, kServerName);
    response_->keep_alive(keep_alive);
    response_->prepare_payload();
    lowest().expires_after(steady(shared_->limits.read_timeout));
    // A large body (a scrape's megabytes) goes out a bounded piece per turn of the event loop:
    // one send of all of it copies megabytes into the socket while every other request waits.
    serializer_.emplace(*response_);
    serializer_->limit(kMaxWriteBytes);
    http::async_write(
        stream_, *serializer_,
        [self = shared_from_this(), keep_alive, drain_after](beast::error_code error, std::size_t) {
          self->serializer_.reset();
          self->response_.reset();
          self->release_body();
          if (error) return self->close();
          if (keep_alive) return self->read_header();
          if constexpr (!kTls) {
            beast::error_code ignored;
            self->lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
          }
          if (drain_after) return self->drain();
          self->close();
        });
  }

  // The header now, then whatever stream_write queues. The idle and read timeouts do not apply
  // (nothing is read); each write has read_timeout to complete, and a read stays pending only
  // to notice the client leaving.
  std::shared_ptr<ResponseStream> start_stream(HttpResponse header) {
    release_body();
    streaming_ = true;
    std::string head = "HTTP/1.1 " + std::to_string(header.result_int()) + " " +
                       std::string(header.reason()) + "\r\n";
    header.set(http::field::server, kServerName);
    header.erase(http::field::content_length);
    header.set(http::field::connection, "close");
    for (const auto& field : header) {
      head += std::string(field.name_string()) + ": " + std::string(field.value()) + "\r\n";
    }
    head += "\r\n";
    lowest().expires_never();
    watch_for_close();
    stream_write(std::move(head));
    return std::make_shared<StreamHandle>(std::weak_ptr<Session>(shared_from_this()));
  }

  void watch_for_close() {
    drain_buffer_.resize(kDrainChunk);
    stream_.async_read_some(net::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code error, std::size_t n) {
                              self->drained_ += n;
                              if (error || self->drained_ > kDrainBytes) {
                                return self->end_stream();
                              }
                              self->watch_for_close();
                            });
  }

  void write_next() {
    if (outbox_.empty() || stream_ended_) {
      writing_ = false;
      return;
    }
    writing_ = true;
    lowest().expires_after(steady(shared_->limits.read_timeout));
    net::async_write(stream_, net::buffer(outbox_.front()),
                     [self = shared_from_this()](beast::error_code error, std::size_t) {
                       if (error || self->stream_ended_) {
                         self->writing_ = false;
                         return self->end_stream();
                       }
                       self->outbox_bytes_ -= self->outbox_.front().size();
                       self->outbox_.pop_front();
                       self->write_next();
                     });
  }

  void drain() {
    lowest().expires_after(kDrainTime);
    drain_buffer_.resize(kDrainChunk);
    stream_.async_read_some(net::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code error, std::size_t n) {
                              self->drained_ += n;
                              if (error || self->drained_ > kDrainBytes) return self->close();
                              self->drain();
                            });
  }

  // TLS says goodbye first (close_notify, briefly), so clients see a clean end.
  void close() {
    if constexpr (kTls) {
      if (handshake_done_ && !tls_closing_ && lowest().socket().is_open()) {
        tls_closing_ = true;
        lowest().expires_after(kTlsShutdownTime);
        stream_.async_shutdown(
            [self = shared_from_this()](beast::error_code) { self->close_socket(); });
        return;
      }
    }
    close_socket();
  }

  void close_socket() {
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  std::string peer_;
  Stream stream_;
  std::shared_ptr<Shared> shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<HttpResponse> response_;
  std::optional<http::response_serializer<http::string_body>> serializer_;  // of response_
  static constexpr std::size_t kMaxWriteBytes = std::size_t{256} * 1024;
  std::string drain_buffer_;
  std::size_t drained_ = 0;
  std::uint64_t reserved_ = 0;      // of the listener's body budget
  std::deque<std::string> outbox_;  // a stream's bytes not yet written
  std::size_t outbox_bytes_ = 0;
  bool waiting_for_request_ = false;
  bool closing_ = false;
  bool handshake_done_ = false;
  bool tls_closing_ = false;
  bool streaming_ = false;
  bool writing_ = false;
  bool stream_ended_ = false;
};

HttpServer::HttpServer(net::io_context& io, Handler handler, HttpLimits limits,
                       RefusalObserver on_refusal, HeaderCheck header_check)
    : io_(io), acceptor_(io), shared_(std::make_shared<Shared>()) {
  shared_->handler = std::move(handler);
  shared_->header_check = std::move(header_check);
  shared_->limits = limits;
  shared_->on_refusal = std::move(on_refusal);
}

HttpServer::~HttpServer() { shared_->stopping = true; }

void HttpServer::use_tls(std::shared_ptr<net::ssl::context> context) {
  shared_->tls = std::move(context);
}

bool HttpServer::tls() const { return shared_->tls != nullptr; }

beast::error_code HttpServer::listen(const tcp::endpoint& endpoint) {
  beast::error_code error;
  acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.set_option(net::socket_base::reuse_address(true), error);
  if (!error && endpoint.address().is_v6()) acceptor_.set_option(net::ip::v6_only(true), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(net::socket_base::max_listen_connections, error);
  if (error) {
    beast::error_code ignored;
    acceptor_.close(ignored);
  }
  return error;
}

tcp::endpoint HttpServer::local_endpoint() const {
  beast::error_code error;
  return acceptor_.local_endpoint(error);
}

void HttpServer::start() { accept(); }

void HttpServer::accept() {
  acceptor_.async_accept([this, shared = shared_](beast::error_code error, tcp::socket socket) {
    if (shared->stopping || error == net::error::operation_aborted) return;
    if (error) {
      // Out of descriptors, typically: try again shortly rather than spin.
      auto timer = std::make_shared<net::steady_timer>(io_, kAcceptRetry);
      timer->async_wait([this, shared, timer](beast::error_code wait_error) {
        if (!wait_error && !shared->stopping) accept();
      });
      return;
    }
    // Accepting again comes first, so nothing below can leave the listener deaf.
    accept();
    if (shared->sessions.size() >= shared->limits.max_connections && !evict_idle(*shared)) {
      refuse_at_cap(std::move(socket), shared);
      return;
    }
    try {
      if (shared->tls) {
        std::make_shared<Session<TlsStream>>(std::move(socket), shared)->run();
      } else {
        std::make_shared<Session<PlainStream>>(std::move(socket), shared)->run();
      }
    } catch (const std::exception& failure) {
      shared->on_refusal(RefusalReason::kInternalError, failure.what());
    }
  });
}

bool HttpServer::evict_idle(Shared& shared) {
  for (auto& [key, weak] : shared.sessions) {
    if (auto session = weak.lock(); session && session->idle()) {
      session->stop();
      return true;
    }
  }
  return false;
}

void HttpServer::refuse_at_cap(tcp::socket socket, const std::shared_ptr<Shared>& shared) {
  beast::error_code ignored;
  const auto remote = socket.remote_endpoint(ignored);
  shared->on_refusal(RefusalReason::kConnectionCap,
                     remote.address().to_string() + ":" + std::to_string(remote.port()));
  if (shared->tls) {
    // A plain-text 503 means nothing to a TLS client, and a handshake costs what the cap is
    // there to save: the connection is closed unanswered.
    socket.close(ignored);
    return;
  }
  // Answered, then whatever the client already sent is read and dropped for a moment, so it
  // sees the 503 rather than a reset. Not a session: it does not count against the cap.
  struct Refused {
    explicit Refused(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
    tcp::socket socket;
    net::steady_timer timer;
    std::array<char, 4096> scratch{};
    std::size_t drained = 0;
  };
  static constexpr std::string_view kBusy =
      "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n"
      "Connection: close\r\n\r\n";
  auto refused = std::make_shared<Refused>(std::move(socket));
  refused->timer.expires_after(kDrainTime);
  refused->timer.async_wait([refused](beast::error_code) {
    beast::error_code error;
    refused->socket.close(error);
  });
  net::async_write(refused->socket, net::buffer(kBusy.data(), kBusy.size()),
                   [refused](beast::error_code error, std::size_t) {
                     if (error) return static_cast<void>(refused->timer.cancel());
                     beast::error_code ignored_error;
                     refused->socket.shutdown(tcp::socket::shutdown_send, ignored_error);
                     auto drain = std::make_shared<std::function<void()>>();
                     *drain = [refused, drain]() {
                       refused->socket.async_read_some(
                           net::buffer(refused->scratch),
                           [refused, drain](beast::error_code e, std::size_t n) {
                             refused->drained += n;
                             if (e || refused->drained > kDrainBytes) {
                               refused->timer.cancel();
                               *drain = nullptr;  // breaks the cycle
                               return;
                             }
                             (*drain)();
                           });
                     };
                     (*drain)();
                   });
}

void HttpServer::stop() {
  shared_->stopping = true;
  beast::error_code ignored;
  acceptor_.close(ignored);
  // Copy first: stopping a session may end it and take it out of the map.
  std::vector<std::shared_ptr<SessionBase>> sessions;
  for (auto& [key, weak] : shared_->sessions) {
    if (auto session = weak.lock()) sessions.push_back(std::move(session));
  }
  for (auto& session : sessions) session->stop();
}

std::size_t HttpServer::open_connections() const { return shared_->sessions.size(); }

}  // namespace replywatch::server
