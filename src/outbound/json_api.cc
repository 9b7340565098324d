#include "outbound/json_api.h"

#include <nlohmann/json.hpp>

#include "habanero/json_member.h"
#include "habanero/strings.h"
#include "outbound/turtle.h"

namespace habanero::outbound {

using Json = nlohmann::json;

absl::StatusOr<MailMessage> mailMessageFromJson(std::string_view json) {
  Json j = Json::parse(json, nullptr, false);
  if (!j.is_object()) return absl::InvalidArgumentError("mail: not a JSON object");
  auto to = jsonStringMember(j, "to");
  auto subject = jsonStringMember(j, "subject");
  auto text = jsonStringMember(j, "text");
  if (!to || !subject || !text) {
    return absl::InvalidArgumentError("mail: to, subject and text must be strings");
  }
  return MailMessage{*to, *subject, *text, jsonStringMember(j, "html").value_or("")};
}

absl::StatusOr<SmsMessage> smsMessageFromJson(std::string_view json) {
  Json j = Json::parse(json, nullptr, false);
  if (!j.is_object()) return absl::InvalidArgumentError("sms: not a JSON object");
  auto to = jsonStringMember(j, "to");
  auto text = jsonStringMember(j, "text");
  if (!to || !text || !isE164(*to) || text->empty()) {
    return absl::InvalidArgumentError("sms: to must be an E.164 number and text non-empty");
  }
  return SmsMessage{*to, *text};
}

absl::StatusOr<std::string> fetchJson(Fetcher& fetcher, std::string_view request_json,
                                      const FetchPolicy& policy) {
  Json j = Json::parse(request_json, nullptr, false);
  if (!j.is_object()) return absl::InvalidArgumentError("fetch: request is not a JSON object");
  auto url = jsonStringMember(j, "url");
  if (!url) return absl::InvalidArgumentError("fetch: url must be a string");
  std::string parse = jsonStringMember(j, "parse").value_or("");
  if (!parse.empty() && parse != "turtle") {
    return absl::InvalidArgumentError("fetch: parse must be \"turtle\" or absent");
  }
  auto response = fetcher.fetch({*url, jsonStringMember(j, "accept").value_or("")}, policy);
  if (!response.ok()) {
    return absl::Status(response.status().code(),
                        strCat(*url, ": ", sv(response.status().message())));
  }
  Json out = {{"status", response->status},
              {"url", response->url},
              {"content_type", response->content_type},
              {"links", response->links}};
  if (parse == "turtle") {
    auto triples = parseTurtle(response->body, response->url);
    if (!triples.ok()) {
      return absl::InvalidArgumentError(strCat(*url, ": ", sv(triples.status().message())));
    }
    Json list = Json::array();
    for (const Triple& t : *triples) list.push_back({t.subject, t.predicate, t.object});
    out["triples"] = std::move(list);
  } else {
    out["body"] = response->body;
  }
  return out.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace habanero::outbound
