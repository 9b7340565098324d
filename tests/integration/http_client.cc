#include "http_client.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace habanero::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;

HttpReply sendRaw(uint16_t port, const std::string& raw, int timeout_ms) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  HttpReply reply;
  beast::error_code ec;
  stream.expires_after(std::chrono::milliseconds(timeout_ms));
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return reply;
  asio::write(stream.socket(), asio::buffer(raw), ec);
  if (ec) return reply;
  beast::flat_buffer buffer;
  beast::http::response_parser<beast::http::string_body> parser;
  parser.body_limit(64 << 20);
  stream.expires_after(std::chrono::milliseconds(timeout_ms));
  beast::http::read(stream, buffer, parser, ec);
  if (ec && !parser.is_header_done()) return reply;
  auto& res = parser.get();
  reply.status = res.result_int();
  for (const auto& field : res.base()) {
    reply.headers += std::string(field.name_string()) + ": " + std::string(field.value()) + "\n";
  }
  reply.body = res.body();
  return reply;
}

HttpReply httpGet(uint16_t port, const std::string& target) {
  return sendRaw(port, "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
}

}  // namespace habanero::testing
