// Internal to src/outbound: move-only owners of libcurl handles and the
// one-time global initialisation. Not part of the public API.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>
#include <string_view>

namespace habanero::outbound::internal {

// curl_global_init exactly once per process (thread-safe).
void curlGlobalInit();

struct CurlEasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

// A new easy handle with NOSIGNAL set and proxies disabled (the environment's
// http_proxy must never redirect the host's outbound traffic). nullptr on OOM.
CurlEasy newEasy();

// An owned curl_slist; append() keeps the list valid across calls.
class CurlList {
 public:
  CurlList() = default;
  CurlList(const CurlList&) = delete;
  CurlList& operator=(const CurlList&) = delete;
  ~CurlList() { curl_slist_free_all(list_); }
  bool append(const std::string& s) {
    curl_slist* next = curl_slist_append(list_, s.c_str());
    if (next == nullptr) return false;
    list_ = next;
    return true;
  }
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using CurlUrl = std::unique_ptr<CURLU, CurlUrlDeleter>;

// Replaces every occurrence of `secret` in `text` with "***" (no-op for an
// empty secret). Used on every message that might quote a server or curl.
std::string redact(std::string text, std::string_view secret);

// Percent-encodes for application/x-www-form-urlencoded and query strings
// (unreserved characters kept, space as %20).
std::string formEncode(std::string_view s);

}  // namespace habanero::outbound::internal
