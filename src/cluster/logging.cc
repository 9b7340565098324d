#include "cluster/logging.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include "habanero/strings.h"

namespace habanero::cluster {
namespace {

thread_local std::string t_request_id;

std::string_view levelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

// Appends `s` as a JSON string (quotes included). Bytes that are not valid
// UTF-8 become U+FFFD, so a line always parses.
void appendJsonString(std::string_view s, spdlog::memory_buf_t& out) {
  auto put = [&out](std::string_view text) { out.append(text.data(), text.data() + text.size()); };
  put("\"");
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"') {
      put("\\\"");
    } else if (c == '\\') {
      put("\\\\");
    } else if (c == '\n') {
      put("\\n");
    } else if (c == '\r') {
      put("\\r");
    } else if (c == '\t') {
      put("\\t");
    } else if (c < 0x20 || c == 0x7f) {
      char esc[7] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15], 0};
      put(esc);
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      // A UTF-8 sequence: copied when well-formed, else one U+FFFD per byte.
      size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
      bool ok = n > 0 && i + n <= s.size();
      for (size_t k = 1; ok && k < n; ++k) {
        ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
      }
      if (ok) {
        put(s.substr(i, n));
        i += n;
        continue;
      }
      put("\xef\xbf\xbd");
    }
    ++i;
  }
  put("\"");
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    auto since = msg.time.time_since_epoch();
    std::time_t secs = duration_cast<seconds>(since).count();
    int millis = static_cast<int>(duration_cast<milliseconds>(since).count() % 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char time[64];
    std::snprintf(time, sizeof time, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    auto put = [&dest](std::string_view text) {
      dest.append(text.data(), text.data() + text.size());
    };
    put("{\"time\":\"");
    put(time);
    put("\",\"level\":\"");
    put(levelName(msg.level));
    put("\",\"message\":");
    appendJsonString(std::string_view(msg.payload.data(), msg.payload.size()), dest);
    if (!t_request_id.empty()) {
      put(",\"request_id\":");
      appendJsonString(t_request_id, dest);
    }
    put("}\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// spdlog's default pattern, with " [request <id>]" before the message when known.
class RequestIdFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (t_request_id.empty()) return;
    std::string text = strCat("[request ", t_request_id, "] ");
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<RequestIdFlag>();
  }
};

}  // namespace

std::string_view currentRequestId() { return t_request_id; }

RequestIdScope::RequestIdScope(std::string_view id) : previous_(std::move(t_request_id)) {
  t_request_id.assign(id.data(), id.size());
}

RequestIdScope::~RequestIdScope() { t_request_id = std::move(previous_); }

std::unique_ptr<spdlog::formatter> jsonLogFormatter() { return std::make_unique<JsonFormatter>(); }

std::unique_ptr<spdlog::formatter> textLogFormatter() {
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<RequestIdFlag>('*');
  f->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %*%v");
  return f;
}

absl::Status setLogFormat(std::string_view format) {
  if (format == "json") {
    spdlog::set_formatter(jsonLogFormatter());
  } else if (format == "text") {
    spdlog::set_formatter(textLogFormatter());
  } else {
    return absl::InvalidArgumentError(
        strCat("log.format: must be \"text\" or \"json\", not \"", format, "\""));
  }
  return absl::OkStatus();
}

}  // namespace habanero::cluster
