#include "runtime/host_calls/glue.h"

#include <algorithm>
#include <bit>

#include <spdlog/spdlog.h>

#include "habanero/limits.h"
#include "habanero/strings.h"
#include "runtime/capabilities.h"

static_assert(std::endian::native == std::endian::little, "guest memory is little-endian");

namespace habanero::runtime {
namespace host {
namespace {

std::span<const uint8_t> asBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

bool Call::outBufferValid(uint32_t out, uint32_t cap, uint32_t out_len) const {
  return mem.slice(out_len, 4) && mem.slice(out, cap);
}

Result Call::writeOut(uint32_t out, uint32_t cap, uint32_t out_len, std::string_view data) const {
  if (!outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  if (data.size() > cap) {
    mem.writeU32(out_len, static_cast<uint32_t>(std::min<size_t>(data.size(), UINT32_MAX)));
    return HABANERO_BUFFER_TOO_SMALL;
  }
  mem.write(out, asBytes(data));
  mem.writeU32(out_len, static_cast<uint32_t>(data.size()));
  return HABANERO_OK;
}

Result Call::unavailable(const absl::Status& status) const {
  spdlog::error("[{}] {}: {}", st.extension, name, sv(status.message()));
  return HABANERO_UNAVAILABLE;
}

Result sendResult(const Call& c, const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk: return HABANERO_OK;
    case absl::StatusCode::kInvalidArgument:
      spdlog::warn("[{}] {}: {}", c.st.extension, c.name, sv(s.message()));
      return HABANERO_INVALID_ARGUMENT;
    case absl::StatusCode::kFailedPrecondition:
      spdlog::error("[{}] {}: refused for good: {}", c.st.extension, c.name, sv(s.message()));
      return HABANERO_REJECTED;
    default:
      spdlog::warn("[{}] {}: {}", c.st.extension, c.name, sv(s.message()));
      return HABANERO_UNAVAILABLE;
  }
}

std::string logSafe(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

void hostHeader(HostState& st, std::string_view name, std::string value) {
  st.response_bytes += name.size() + value.size();
  st.response.headers.emplace_back(std::string(name), std::move(value));
}

void hostRedirect(HostState& st, std::string url) {
  auto& headers = st.response.headers;
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [](const auto& h) { return equalsIgnoreCase(h.first, "location"); }),
                headers.end());
  st.response.status = st.request->method == "POST" ? 303 : 302;
  hostHeader(st, "Location", std::move(url));
}

}  // namespace host

// ---- GuestOutput (host_calls.h) ------------------------------------------

ptrdiff_t GuestOutput::write(void* self, const unsigned char* buf, size_t len) {
  auto* out = static_cast<GuestOutput*>(self);
  std::lock_guard<std::mutex> lock(out->mu_);
  out->append({reinterpret_cast<const char*>(buf), len});
  return static_cast<ptrdiff_t>(len);
}

void GuestOutput::finalize(void* self) {
  auto* out = static_cast<GuestOutput*>(self);
  {
    std::lock_guard<std::mutex> lock(out->mu_);
    if (!out->partial_.empty()) out->logLine(out->partial_);
  }
  delete out;
}

void GuestOutput::logLine(std::string_view line) const {
  if (stream_ == 0) spdlog::info("[{}] stdout: {}", extension_, host::logSafe(line));
  else spdlog::warn("[{}] stderr: {}", extension_, host::logSafe(line));
}

void GuestOutput::append(std::string_view bytes) {
  partial_.append(bytes);
  size_t start = 0, nl;
  while ((nl = partial_.find('\n', start)) != std::string::npos) {
    logLine(std::string_view(partial_.data() + start, nl - start));
    start = nl + 1;
  }
  partial_.erase(0, start);
  while (partial_.size() > limits::kMaxLogLineBytes) {  // an endless line: log it in pieces
    logLine(std::string_view(partial_.data(), limits::kMaxLogLineBytes));
    partial_.erase(0, limits::kMaxLogLineBytes);
  }
}

bool HostServices::has(uint32_t facilities) const {
  const void* by_bit[facility::kCount] = {storage, signer,  sessions, users, clients,
                                          outbox,  mailer, sms,      fetcher};
  for (uint32_t i = 0; i < facility::kCount; ++i) {
    if ((facilities & (1u << i)) && by_bit[i] == nullptr) return false;
  }
  return true;
}

}  // namespace habanero::runtime
