#include "suite.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "habanero/strings.h"

namespace habanero::conformance {
namespace {

using Json = nlohmann::json;

constexpr const char* kCodes[] = {"OK",           "NOT_FOUND",       "INVALID_MEMORY",
                                  "BUFFER_TOO_SMALL", "INVALID_ARGUMENT", "DUPLICATE",
                                  "CONFLICT",     "MISMATCH",        "LIMIT_EXCEEDED",
                                  "UNAVAILABLE",  "BAD_STATE",       "DENIED",
                                  "REJECTED"};

bool validName(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string brief(const Json& j) {
  std::string s = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > 300) s = s.substr(0, 300) + "…(" + std::to_string(s.size()) + " bytes)";
  return s;
}

std::vector<std::string> strings(const Json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end()) return out;
  if (it->is_string()) {
    out.push_back(*it);
  } else if (it->is_array()) {
    for (const Json& v : *it) {
      if (v.is_string()) out.push_back(v);
    }
  }
  return out;
}

// Replaces every ${name} in `text`. `escape` JSON-escapes the values (for text
// that is JSON: the values sit inside string literals). Unknown names are
// collected in `missing`; ${fixture:X} asks the host.
std::string substitute(const std::string& text, const std::map<std::string, std::string>& vars,
                       AbiHost& host, bool escape, std::set<std::string>& missing) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find("${", i);
    if (open == std::string::npos) break;
    size_t close = text.find('}', open);
    if (close == std::string::npos) break;
    out.append(text, i, open - i);
    std::string name = text.substr(open + 2, close - open - 2);
    std::optional<std::string> value;
    if (auto it = vars.find(name); it != vars.end()) {
      value = it->second;
    } else if (name.starts_with("fixture:")) {
      value = host.fixture(name.substr(8));
    }
    if (!value) {
      missing.insert(name);
      value = "";
    }
    if (escape) {
      std::string quoted = Json(*value).dump(-1, ' ', false, Json::error_handler_t::replace);
      out += quoted.substr(1, quoted.size() - 2);
    } else {
      out += *value;
    }
    i = close + 1;
  }
  out.append(text, i, std::string::npos);
  return out;
}

Json substituteJson(const Json& j, const std::map<std::string, std::string>& vars, AbiHost& host,
                    std::set<std::string>& missing) {
  if (j.is_string()) return substitute(j.get<std::string>(), vars, host, false, missing);
  if (j.is_array()) {
    Json out = Json::array();
    for (const Json& v : j) out.push_back(substituteJson(v, vars, host, missing));
    return out;
  }
  if (j.is_object()) {
    Json out = Json::object();
    for (auto& [k, v] : j.items()) out[k] = substituteJson(v, vars, host, missing);
    return out;
  }
  return j;
}

// Step expectations may give "result" as a code name; the report has both.
Json normaliseSteps(const Json& steps) {
  Json out = steps;
  if (!out.is_array()) return out;
  for (Json& s : out) {
    if (!s.is_object()) continue;
    auto it = s.find("result");
    if (it != s.end() && it->is_string()) {
      Json name = *it;
      s.erase("result");
      s["code"] = name;
    }
  }
  return out;
}

std::string randomNonce() {
  static std::mt19937_64 rng(std::random_device{}());
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 16; ++i) s += kHex[rng() & 15];
  return s;
}

absl::StatusOr<Setup> parseSetup(const std::string& name, const Json& j) {
  if (!validName(name)) return absl::InvalidArgumentError(strCat("setup name '", name, "'"));
  if (!j.is_object() || !j.contains("probe") || !j["probe"].is_string()) {
    return absl::InvalidArgumentError(strCat("setup ", name, ": needs \"probe\""));
  }
  Setup s;
  s.name = name;
  s.probe = j["probe"];
  s.grants = strings(j, "grants");
  s.publish = strings(j, "publish");
  s.fetch_hosts = strings(j, "fetch_hosts");
  if (auto it = j.find("settings"); it != j.end() && it->is_object()) {
    for (auto& [k, v] : it->items()) {
      s.settings[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
  }
  if (auto it = j.find("memory_mb"); it != j.end() && it->is_number_unsigned()) {
    s.memory_bytes = it->get<uint64_t>() << 20;
  }
  if (auto it = j.find("deadline_ms"); it != j.end() && it->is_number_unsigned()) {
    s.deadline_ms = it->get<uint32_t>();
  }
  for (auto& [k, v] : j.items()) {
    static const std::set<std::string> kKeys = {"probe",   "grants",    "publish",     "fetch_hosts",
                                                "settings", "memory_mb", "deadline_ms", "doc"};
    if (!kKeys.contains(k)) {
      return absl::InvalidArgumentError(strCat("setup ", name, ": unknown key '", k, "'"));
    }
  }
  return s;
}

Json responseJson(const Response& r) {
  Json headers = Json::object();
  Json counts = Json::object();
  for (const auto& [k, v] : r.headers) {
    std::string name = lower(k);
    if (headers.contains(name)) {
      headers[name] = headers[name].get<std::string>() + ", " + v;
    } else {
      headers[name] = v;
    }
    counts[name] = counts.value(name, 0) + 1;
  }
  return {{"status", r.status}, {"headers", headers}, {"header_counts", counts}, {"body", r.body}};
}

}  // namespace

void match(const Json& expected, const Json& actual, const std::string& where,
           std::vector<std::string>& failures) {
  auto fail = [&](const std::string& why) {
    failures.push_back(strCat(where, ": ", why, " (expected ", brief(expected), ", got ",
                              brief(actual), ")"));
  };
  if (expected.is_object() && !expected.empty() && expected.begin().key().starts_with("$")) {
    for (auto& [op, arg] : expected.items()) {
      if (op == "$any") {
        if (actual.is_null()) fail("missing");
      } else if (op == "$absent") {
        if (!actual.is_null()) fail("present");
      } else if (op == "$regex") {
        if (!actual.is_string() ||
            !std::regex_search(actual.get<std::string>(), std::regex(arg.get<std::string>()))) {
          fail("does not match the regex");
        }
      } else if (op == "$contains") {
        if (!actual.is_string() ||
            actual.get<std::string>().find(arg.get<std::string>()) == std::string::npos) {
          fail("does not contain it");
        }
      } else if (op == "$not_contains") {
        if (actual.is_string() &&
            actual.get<std::string>().find(arg.get<std::string>()) != std::string::npos) {
          fail("contains it");
        }
      } else if (op == "$len") {
        size_t n = actual.is_string() ? actual.get<std::string>().size()
                   : actual.is_array() || actual.is_object() ? actual.size()
                                                             : SIZE_MAX;
        match(arg, n == SIZE_MAX ? Json() : Json(n), where + " (length)", failures);
      } else if (op == "$min" || op == "$max") {
        if (!actual.is_number() ||
            (op == "$min" ? actual.get<double>() < arg.get<double>()
                          : actual.get<double>() > arg.get<double>())) {
          fail(op == "$min" ? "too small" : "too large");
        }
      } else if (op == "$json") {
        Json parsed = actual.is_string()
                          ? Json::parse(actual.get<std::string>(), nullptr, false)
                          : Json(Json::value_t::discarded);
        if (parsed.is_discarded()) fail("not JSON");
        else match(arg, parsed, where + " (as JSON)", failures);
      } else if (op == "$one_of") {
        bool any = false;
        for (const Json& option : arg) {
          std::vector<std::string> sink;
          match(option, actual, where, sink);
          if (sink.empty()) any = true;
        }
        if (!any) fail("matches none of the options");
      } else if (op == "$not") {
        std::vector<std::string> sink;
        match(arg, actual, where, sink);
        if (sink.empty()) fail("matches what it must not");
      } else if (op == "$each") {
        if (!actual.is_object() && !actual.is_array()) {
          fail("not a collection");
        } else {
          for (auto& [k, v] : actual.items()) match(arg, v, where + "." + k, failures);
        }
      } else {
        fail("unknown matcher " + op);
      }
    }
    return;
  }
  if (expected.is_object()) {
    if (!actual.is_object()) return fail("not an object");
    for (auto& [k, v] : expected.items()) {
      auto it = actual.find(k);
      match(v, it == actual.end() ? Json() : *it, where + "." + k, failures);
    }
    return;
  }
  if (expected.is_array()) {
    if (!actual.is_array()) return fail("not an array");
    if (actual.size() != expected.size()) {
      return fail(strCat("has ", actual.size(), " elements, not ", expected.size()));
    }
    for (size_t i = 0; i < expected.size(); ++i) {
      match(expected[i], actual[i], strCat(where, "[", i, "]"), failures);
    }
    return;
  }
  if (expected.is_number() && actual.is_number()) {
    if (expected.get<double>() != actual.get<double>()) fail("differs");
    return;
  }
  if (expected != actual) fail("differs");
}

absl::StatusOr<Suite> Suite::open(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(strCat(path, ": cannot read"));
  std::stringstream text;
  text << in.rdbuf();
  Json j = Json::parse(text.str(), nullptr, false, /*ignore_comments=*/true);
  if (!j.is_object()) return absl::InvalidArgumentError(strCat(path, ": not a JSON object"));
  Suite s;
  s.dir_ = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  s.fixtures_ = j.value("fixtures", Json::object());
  if (!j.contains("setups") || !j["setups"].is_object()) {
    return absl::InvalidArgumentError(strCat(path, ": no \"setups\" object"));
  }
  for (auto& [name, v] : j["setups"].items()) {
    auto setup = parseSetup(name, v);
    if (!setup.ok()) return absl::InvalidArgumentError(strCat(path, ": ", setup.status().message()));
    s.setups_[name] = *setup;
  }
  if (!j.contains("cases") || !j["cases"].is_array()) {
    return absl::InvalidArgumentError(strCat(path, ": no \"cases\" array"));
  }
  std::set<std::string> names;
  for (const Json& c : j["cases"]) {
    if (!c.is_object() || !c.contains("name") || !c["name"].is_string()) {
      return absl::InvalidArgumentError(strCat(path, ": a case without a name: ", brief(c)));
    }
    Case k;
    k.name = c["name"];
    k.doc = c.value("doc", "");
    k.setup = c.value("setup", "");
    k.json = c;
    if (!validName(k.name)) {
      return absl::InvalidArgumentError(strCat(path, ": case name '", k.name, "' is not [a-z0-9_]+"));
    }
    if (!names.insert(k.name).second) {
      return absl::InvalidArgumentError(strCat(path, ": case '", k.name, "' twice"));
    }
    if (!s.setups_.contains(k.setup)) {
      return absl::InvalidArgumentError(
          strCat(path, ": case '", k.name, "' names unknown setup '", k.setup, "'"));
    }
    if (!c.contains("load_error") && !(c.contains("exchanges") && c["exchanges"].is_array())) {
      return absl::InvalidArgumentError(
          strCat(path, ": case '", k.name, "' has neither \"exchanges\" nor \"load_error\""));
    }
    s.cases_.push_back(std::move(k));
  }
  return s;
}

absl::StatusOr<Differences> Suite::differencesFor(const std::string& host) const {
  Differences d;
  std::string path = strCat(dir_, "/differences/", host, ".json");
  std::ifstream in(path);
  if (!in) return d;
  std::stringstream text;
  text << in.rdbuf();
  Json j = Json::parse(text.str(), nullptr, false, true);
  if (!j.is_object() || !j.contains("differences") || !j["differences"].is_array()) {
    return absl::InvalidArgumentError(strCat(path, ": expected {\"differences\": [...]}"));
  }
  for (const Json& e : j["differences"]) {
    if (!e.is_object() || !e.contains("case") || !e["case"].is_string() ||
        !e.contains("reason") || !e["reason"].is_string()) {
      return absl::InvalidArgumentError(strCat(path, ": each difference needs case and reason"));
    }
    std::string name = e["case"];
    bool known = std::any_of(cases_.begin(), cases_.end(),
                             [&](const Case& c) { return c.name == name; });
    if (!known) return absl::InvalidArgumentError(strCat(path, ": no case named '", name, "'"));
    d.reasons[name] = e["reason"];
  }
  return d;
}

CaseResult Suite::run(const Case& c, AbiHost& host) const {
  CaseResult result;
  const Setup& setup = setups_.at(c.setup);
  const Json& j = c.json;
  std::map<std::string, std::string> vars = {{"nonce", randomNonce()}, {"mount", setup.mount()}};

  absl::Status loaded = host.load(setup);
  if (j.contains("load_error")) {
    if (loaded.ok()) {
      result.failures.push_back(strCat("setup ", setup.name, " loaded; expected a refusal"));
    } else if (host.reportsLoadErrors()) {
      for (const std::string& fragment : strings(j, "load_error")) {
        if (std::string(loaded.message()).find(fragment) == std::string::npos) {
          result.failures.push_back(strCat("the load error does not contain \"", fragment,
                                           "\": ", loaded.message()));
        }
      }
    }
    return result;
  }
  if (!loaded.ok()) {
    result.failures.push_back(strCat("setup ", setup.name, " refused: ", loaded.message()));
    return result;
  }

  const Json& exchanges = j["exchanges"];
  for (size_t i = 0; i < exchanges.size(); ++i) {
    const Json& ex = exchanges[i];
    std::string where = strCat("exchange ", i);
    std::set<std::string> missing;
    // An exchange may go to another setup (e.g. a second extension).
    const Setup* target = &setup;
    if (auto it = ex.find("setup"); it != ex.end() && it->is_string()) {
      auto found = setups_.find(it->get<std::string>());
      if (found == setups_.end()) {
        result.failures.push_back(strCat(where, ": unknown setup ", it->dump()));
        return result;
      }
      target = &found->second;
      absl::Status s = host.load(*target);
      if (!s.ok()) {
        result.failures.push_back(strCat("setup ", target->name, " refused: ", s.message()));
        return result;
      }
    }
    Request req;
    req.method = ex.value("method", "GET");
    req.path = target->mount() + substitute(ex.value("path", "/"), vars, host, false, missing);
    req.query = substitute(ex.value("query", ""), vars, host, false, missing);
    req.body = substitute(ex.value("body", ""), vars, host, false, missing);
    req.remote_addr = "127.0.0.1";
    if (auto it = ex.find("headers"); it != ex.end() && it->is_array()) {
      for (const Json& h : *it) {
        if (h.is_array() && h.size() == 2 && h[0].is_string() && h[1].is_string()) {
          req.headers.emplace_back(h[0].get<std::string>(),
                                   substitute(h[1].get<std::string>(), vars, host, false, missing));
        }
      }
    }
    if (auto it = ex.find("steps"); it != ex.end()) {
      req.headers.emplace_back(
          "x-probe", substitute(it->dump(-1, ' ', false, Json::error_handler_t::replace), vars,
                                host, true, missing));
    }
    Json expect = substituteJson(ex.value("expect", Json::object()), vars, host, missing);
    for (const std::string& m : missing) {
      if (m.starts_with("fixture:")) {
        result.skipped = strCat("the host has no fixture '", m.substr(8), "'");
        return result;
      }
      result.failures.push_back(strCat(where, ": unknown variable ${", m, "}"));
    }
    if (!result.failures.empty()) return result;

    host.clearLog();
    Response resp = host.dispatch(req);
    Json actual = responseJson(resp);
    if (expect.contains("status")) match(expect["status"], actual["status"], where + " status", result.failures);
    if (auto it = expect.find("headers"); it != expect.end()) {
      for (auto& [name, want] : it->items()) {
        auto got = actual["headers"].find(lower(name));
        Json value = got == actual["headers"].end() ? Json() : *got;
        if (want.is_null()) {
          if (!value.is_null()) {
            result.failures.push_back(strCat(where, " header ", name, ": present: ", brief(value)));
          }
        } else {
          match(want, value, strCat(where, " header ", name), result.failures);
        }
      }
    }
    if (auto it = expect.find("header_counts"); it != expect.end()) {
      for (auto& [name, want] : it->items()) {
        match(want, actual["header_counts"].value(lower(name), 0),
              strCat(where, " count of header ", name), result.failures);
      }
    }
    if (auto it = expect.find("body"); it != expect.end()) {
      match(*it, actual["body"], where + " body", result.failures);
    }
    if (auto it = expect.find("body_len"); it != expect.end()) {
      match(*it, resp.body.size(), where + " body length", result.failures);
    }
    // The probe's report ends the body (steps may have written before it).
    size_t report_at = resp.body.rfind("{\"steps\":");
    Json report = report_at == std::string::npos
                      ? Json(Json::value_t::discarded)
                      : Json::parse(resp.body.substr(report_at), nullptr, false);
    if (auto it = expect.find("steps"); it != expect.end()) {
      if (!report.is_object() || !report.contains("steps")) {
        result.failures.push_back(strCat(where, ": no probe report; status ", resp.status,
                                         ", body ", brief(Json(resp.body))));
      } else {
        match(normaliseSteps(*it), report["steps"], where + " steps", result.failures);
      }
    }
    std::vector<std::string> want_log = strings(expect, "log");
    std::vector<std::string> no_log = strings(expect, "log_absent");
    if (!want_log.empty() || !no_log.empty()) {
      // Guest stdout/stderr reach the log from another thread: wait for them.
      std::optional<std::string> log = host.log();
      for (int k = 0; log && k < 300; ++k) {
        bool all = std::all_of(want_log.begin(), want_log.end(), [&](const std::string& f) {
          return log->find(f) != std::string::npos;
        });
        if (all) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        log = host.log();
      }
      if (log) {
        for (const std::string& f : want_log) {
          if (log->find(f) == std::string::npos) {
            result.failures.push_back(strCat(where, ": the log lacks \"", f, "\""));
          }
        }
        for (const std::string& f : no_log) {
          if (log->find(f) != std::string::npos) {
            result.failures.push_back(strCat(where, ": the log has \"", f, "\""));
          }
        }
      }
    }
    // Captures for later exchanges: {"var": {"header": NAME, "regex": RE}} (group 1,
    // else the whole match) or {"var": {"step": K}} (step K's "out").
    if (auto it = ex.find("capture"); it != ex.end() && it->is_object()) {
      for (auto& [var, spec] : it->items()) {
        std::optional<std::string> value;
        if (spec.contains("header")) {
          auto got = actual["headers"].find(lower(spec["header"].get<std::string>()));
          if (got != actual["headers"].end()) {
            std::string text = *got;
            std::smatch m;
            std::regex re(spec.value("regex", ".*"));
            if (std::regex_search(text, m, re)) value = m.size() > 1 ? m[1].str() : m[0].str();
          }
        } else if (spec.contains("step") && report.is_object() && report.contains("steps")) {
          size_t k = spec["step"].get<size_t>();
          if (k < report["steps"].size() && report["steps"][k].contains("out")) {
            value = report["steps"][k]["out"].get<std::string>();
          }
        }
        if (!value) {
          result.failures.push_back(strCat(where, ": nothing to capture as ", var, " (",
                                           brief(spec), ")"));
        } else {
          vars[var] = *value;
        }
      }
    }
    if (!result.failures.empty()) {
      result.failures.push_back(strCat(where, ": the response was status ", resp.status,
                                       ", headers ", brief(actual["headers"]), ", body ",
                                       brief(Json(resp.body))));
      return result;
    }
  }
  return result;
}

}  // namespace habanero::conformance
