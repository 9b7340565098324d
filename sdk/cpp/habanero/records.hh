// records.hh — JSON records in the extension's own kv store, with the outcome as a small
// enum handlers switch on. Needs the capability "kv".
//
// A record is a JSON object under a key the extension chooses ("p/<id>", "c/<hash>" …); a
// stored value that is not a JSON object reads as NotFound (logged), so a corrupt record is
// never half-used. TTLs are seconds; <= 0 is one second (a record already due), never
// "forever" — use kvPut for values that must not expire.
//
//   if (sdk::putRecord("p/" + id, pending, 600) != sdk::Store::Ok) return unavailable();
//   sdk::Json rec;
//   switch (sdk::takeRecord("c/" + sdk::tokenHash(code), rec)) { … }  // single use
#ifndef HABANERO_SDK_CPP_HABANERO_RECORDS_HH_
#define HABANERO_SDK_CPP_HABANERO_RECORDS_HH_

#include <habanero.hh>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <habanero/json.hh>

namespace habanero::sdk {

// Ok; NotFound (absent, expired or unreadable); Conflict (compare-and-set lost);
// Unavailable (the host's store failed; it logged why).
enum class Store { Ok, NotFound, Conflict, Unavailable };

inline Store storeResult(Result r) {
  switch (r) {
    case Result::Ok:
      return Store::Ok;
    case Result::NotFound:
      return Store::NotFound;
    case Result::Conflict:
      return Store::Conflict;
    default:
      return Store::Unavailable;
  }
}

// Milliseconds for kv calls from a record TTL in seconds (at least one second).
inline int64_t recordTtlMs(int64_t ttlS) { return ttlS <= 0 ? 1000 : ttlS * 1000; }

namespace records_detail {

inline Store parseInto(Store s, const std::string& text, Json& out) {
  if (s != Store::Ok) return s;
  std::optional<Json> j = parseJsonObject(text);
  if (!j) {
    logError("kv: a stored record is not a JSON object; treating it as absent");
    return Store::NotFound;
  }
  out = std::move(*j);
  return Store::Ok;
}

}  // namespace records_detail

inline Store putRecord(std::string_view key, const Json& value, int64_t ttlS) {
  return storeResult(kvPut(key, dumpJson(value), recordTtlMs(ttlS)));
}

inline Store getRecord(std::string_view key, Json& out) {
  std::string text;
  return records_detail::parseInto(storeResult(kvGet(key, text)), text, out);
}

// Reads and deletes atomically: of concurrent takers exactly one gets Ok.
inline Store takeRecord(std::string_view key, Json& out) {
  std::string text;
  return records_detail::parseInto(storeResult(kvTake(key, text)), text, out);
}

// Ok also when absent.
inline Store deleteRecord(std::string_view key) { return storeResult(kvRemove(key)); }

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_RECORDS_HH_
