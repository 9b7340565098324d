// Capability "http": the request and the response (docs/abi.md §6).
#include <algorithm>
#include <cctype>

#include "habanero/limits.h"
#include "habanero/strings.h"
#include "runtime/host_calls/glue.h"

namespace habanero::runtime::host {
namespace {

std::string_view trimLeft(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

// Header values: visible ASCII, obs-text and HTAB/space; no other controls.
bool validHeaderText(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && u != '\t') || u == 0x7f;
  });
}

bool validHeaderName(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

// The query or form parameters, parsed on first use.
const absl::StatusOr<http::Params>& paramsOf(HostState& st, int32_t source) {
  if (source == HABANERO_PARAMS_QUERY) {
    if (!st.query) st.query = http::parseForm(st.request->query);
    return *st.query;
  }
  if (!st.form) {
    const std::string* ct = findHeader(st.request->headers, "content-type");
    bool is_form =
        ct && startsWithIgnoreCase(trimLeft(*ct), "application/x-www-form-urlencoded");
    st.form = is_form ? http::parseForm(st.request->body) : http::parseForm("");
  }
  return *st.form;
}

}  // namespace

Result requestGet(Call& c, int32_t field, uint32_t out, uint32_t cap, uint32_t out_len) {
  const Request& r = c.request();
  std::string_view value;
  switch (field) {
    case HABANERO_REQUEST_METHOD: value = r.method; break;
    case HABANERO_REQUEST_PATH: value = r.path; break;
    case HABANERO_REQUEST_QUERY: value = r.query; break;
    case HABANERO_REQUEST_BODY: value = r.body; break;
    case HABANERO_REQUEST_REMOTE_ADDR: value = r.remote_addr; break;
    case HABANERO_REQUEST_MOUNT: value = c.st.mount; break;
    case HABANERO_REQUEST_SCHEME: value = r.secure ? "https" : "http"; break;
    default:
      if (!c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
      return HABANERO_INVALID_ARGUMENT;
  }
  return c.writeOut(out, cap, out_len, value);
}

Result requestHeader(Call& c, uint32_t name_ptr, uint32_t name_len, uint32_t out, uint32_t cap,
                     uint32_t out_len) {
  auto name = c.mem.view(name_ptr, name_len);
  if (!name || !c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  std::string joined;
  bool found = false;
  for (const auto& [k, v] : c.request().headers) {
    if (equalsIgnoreCase(k, *name)) {
      if (found) joined += ", ";
      joined += v;
      found = true;
    }
  }
  if (!found) return HABANERO_NOT_FOUND;
  return c.writeOut(out, cap, out_len, joined);
}

Result requestParam(Call& c, int32_t source, uint32_t name_ptr, uint32_t name_len, uint32_t out,
                    uint32_t cap, uint32_t out_len) {
  auto name = c.mem.view(name_ptr, name_len);
  if (!name || !c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  if (source != HABANERO_PARAMS_QUERY && source != HABANERO_PARAMS_FORM) {
    return HABANERO_INVALID_ARGUMENT;
  }
  const absl::StatusOr<http::Params>& params = paramsOf(c.st, source);
  if (!params.ok()) return HABANERO_INVALID_ARGUMENT;
  http::Params::Lookup found = params->find(*name);
  switch (found.kind) {
    case http::Params::Lookup::kNotFound: return HABANERO_NOT_FOUND;
    case http::Params::Lookup::kDuplicate: return HABANERO_DUPLICATE;
    case http::Params::Lookup::kValue: break;
  }
  return c.writeOut(out, cap, out_len, found.value);
}

Result responseSetStatus(Call& c, int32_t status) {
  if (status < 200 || status > 599) return HABANERO_INVALID_ARGUMENT;
  c.st.response.status = status;
  return HABANERO_OK;
}

Result responseAddHeader(Call& c, uint32_t name_ptr, uint32_t name_len, uint32_t value_ptr,
                         uint32_t value_len) {
  auto name = c.mem.view(name_ptr, name_len);
  auto value = c.mem.view(value_ptr, value_len);
  if (!name || !value) return HABANERO_INVALID_MEMORY;
  if (!validHeaderName(*name) || !validHeaderText(*value)) return HABANERO_INVALID_ARGUMENT;
  HostState& st = c.st;
  if (st.response.headers.size() >= limits::kMaxResponseHeaders ||
      st.response_bytes + name->size() + value->size() > limits::kMaxResponseBytes) {
    return HABANERO_LIMIT_EXCEEDED;
  }
  st.response_bytes += name->size() + value->size();
  st.response.headers.emplace_back(std::string(*name), std::string(*value));
  return HABANERO_OK;
}

Result responseWrite(Call& c, uint32_t data_ptr, uint32_t len) {
  auto data = c.mem.view(data_ptr, len);
  if (!data) return HABANERO_INVALID_MEMORY;
  HostState& st = c.st;
  if (st.response_bytes + data->size() > limits::kMaxResponseBytes) return HABANERO_LIMIT_EXCEEDED;
  st.response_bytes += data->size();
  st.response.body.append(*data);
  return HABANERO_OK;
}

Result responseRedirect(Call& c, int32_t status, uint32_t url_ptr, uint32_t url_len) {
  auto url = c.mem.view(url_ptr, url_len);
  if (!url) return HABANERO_INVALID_MEMORY;
  if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) {
    return HABANERO_INVALID_ARGUMENT;
  }
  if (url->empty() || !validHeaderText(*url)) return HABANERO_INVALID_ARGUMENT;
  HostState& st = c.st;
  if (st.response_bytes + url->size() > limits::kMaxResponseBytes) return HABANERO_LIMIT_EXCEEDED;
  st.response_bytes += url->size();
  st.response.status = status;
  auto& headers = st.response.headers;
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [](const auto& h) { return equalsIgnoreCase(h.first, "location"); }),
                headers.end());
  headers.emplace_back("Location", std::string(*url));
  return HABANERO_OK;
}

}  // namespace habanero::runtime::host
