// parseRequestBytes(): the server's parse-and-convert path without a socket.
#include <gtest/gtest.h>

#include "http/server.h"

namespace habanero::http {
namespace {

int statusOf(std::string_view bytes, Limits limits = {}) {
  auto request = parseRequestBytes(bytes, limits);
  if (request.ok()) return 200;
  return httpStatusForError(request.status());
}

TEST(ParseRequestTest, SplitsTargetAndKeepsHeadersInOrder) {
  auto request = parseRequestBytes(
      "POST /token?a=1&b=%20 HTTP/1.1\r\nHost: x\r\nX-B: 2\r\nx-a: 1\r\nX-B: 3\r\n"
      "Content-Length: 5\r\n\r\nhello",
      {});
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->method, "POST");
  EXPECT_EQ(request->path, "/token");
  EXPECT_EQ(request->query, "a=1&b=%20");
  EXPECT_EQ(request->body, "hello");
  EXPECT_EQ(
      request->headers,
      (Headers{{"Host", "x"}, {"X-B", "2"}, {"x-a", "1"}, {"X-B", "3"}, {"Content-Length", "5"}}));
  EXPECT_EQ(request->remote_addr, "");
  EXPECT_FALSE(request->secure);
}

TEST(ParseRequestTest, NoQuery) {
  auto request = parseRequestBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n", {});
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->path, "/");
  EXPECT_EQ(request->query, "");
  auto empty_query = parseRequestBytes("GET /a? HTTP/1.1\r\nHost: x\r\n\r\n", {});
  ASSERT_TRUE(empty_query.ok());
  EXPECT_EQ(empty_query->path, "/a");
  EXPECT_EQ(empty_query->query, "");
}

TEST(ParseRequestTest, AbsoluteFormKeepsOnlyPathAndQuery) {
  auto request = parseRequestBytes(
      "GET http://example.com:8080/p/q?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n", {});
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->path, "/p/q");
  EXPECT_EQ(request->query, "x=1");
  auto bare =
      parseRequestBytes("GET https://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", {});
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->path, "/");
}

TEST(ParseRequestTest, DecodesChunkedBodyAndDropsTrailers) {
  auto request = parseRequestBytes(
      "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
      {});
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->body, "hello world");
  EXPECT_EQ(findHeader(request->headers, "X-Trailer"), nullptr);
}

TEST(ParseRequestTest, Http10WithoutHost) {
  auto request = parseRequestBytes("GET /old HTTP/1.0\r\n\r\n", {});
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->path, "/old");
}

TEST(ParseRequestTest, IgnoresPipelinedRest) {
  auto request = parseRequestBytes("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\n", {});
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->path, "/1");
}

TEST(ParseRequestTest, MalformedIs400) {
  EXPECT_EQ(statusOf("GARBAGE\r\n\r\n"), 400);
  EXPECT_EQ(statusOf("GET / HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n"), 400);
  EXPECT_EQ(statusOf("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
  EXPECT_EQ(statusOf("GET / HTTP/1.1\r\n\r\n"), 400);                        // no Host
  EXPECT_EQ(statusOf("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);  // two Hosts
  EXPECT_EQ(statusOf("GET /#frag HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
  EXPECT_EQ(statusOf("GET foo HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
  EXPECT_EQ(statusOf("GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
  EXPECT_EQ(statusOf("GET /\x80 HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
  EXPECT_EQ(
      statusOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
      400);
  EXPECT_EQ(
      statusOf(
          "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
      400);
  EXPECT_EQ(statusOf("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n"),
            400);
  EXPECT_EQ(statusOf("GET / HTTP/1.1\r\nHost: x\r\n"), 400);  // incomplete
  EXPECT_EQ(statusOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"), 400);
  EXPECT_EQ(statusOf(""), 400);
}

TEST(ParseRequestTest, UnsupportedFeatures) {
  EXPECT_EQ(statusOf("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"), 501);
  EXPECT_EQ(
      statusOf("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
      501);
  EXPECT_EQ(statusOf("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
                     "chunked\r\n\r\n0\r\n\r\n"),
            501);
  EXPECT_EQ(statusOf("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400);
  EXPECT_EQ(statusOf("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n"), 501);
  EXPECT_EQ(statusOf("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
  EXPECT_EQ(statusOf("GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n"), 417);
  EXPECT_EQ(
      statusOf("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\na"),
      200);
}

TEST(ParseRequestTest, Limits) {
  Limits limits{.max_header_bytes = 256, .max_body_bytes = 10};
  std::string big_header = "GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(300, 'a') + "\r\n\r\n";
  EXPECT_EQ(statusOf(big_header, limits), 431);
  EXPECT_EQ(statusOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n01234567890", limits),
            413);
  EXPECT_EQ(statusOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789", limits),
            200);
  EXPECT_EQ(statusOf("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "6\r\n012345\r\n6\r\n012345\r\n0\r\n\r\n",
                     limits),
            413);
  // A trailer section larger than the read buffer is refused, not buffered.
  std::string huge_trailer =
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: " +
      std::string(200 * 1024, 'a') + "\r\n\r\n";
  EXPECT_EQ(statusOf(huge_trailer, limits), 431);
}

TEST(ParseRequestTest, NonParserErrorsMapTo400) {
  EXPECT_EQ(httpStatusForError(absl::InternalError("x")), 400);
}

TEST(ListenAddressTest, Parses) {
  auto v4 = parseListenAddress("127.0.0.1:8080");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 8080);
  auto v6 = parseListenAddress("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  for (const char* bad :
       {"", "127.0.0.1", ":80", "::1:80", "[::1:80", "h:65536", "h:-1", "h:8a", "[]:80"}) {
    EXPECT_FALSE(parseListenAddress(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace habanero::http
