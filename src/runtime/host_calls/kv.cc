// Capability "kv": the extension's own key-value store, in the namespace of
// its name (docs/abi.md §6).
#include "habanero/limits.h"
#include "runtime/host_calls/glue.h"

namespace habanero::runtime::host {

Result kvGet(Call& c, uint32_t key_ptr, uint32_t key_len, uint32_t out, uint32_t cap,
             uint32_t out_len) {
  auto key = c.mem.view(key_ptr, key_len);
  if (!key || !c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  if (key->size() > limits::kMaxKeyBytes) return HABANERO_LIMIT_EXCEEDED;
  auto value = c.services().storage->get(c.st.extension, *key);
  if (!value.ok()) return c.unavailable(value.status());
  if (!value->has_value()) return HABANERO_NOT_FOUND;
  return c.writeOut(out, cap, out_len, **value);
}

Result kvPut(Call& c, uint32_t key_ptr, uint32_t key_len, uint32_t value_ptr, uint32_t value_len,
             int64_t ttl_ms) {
  auto key = c.mem.view(key_ptr, key_len);
  auto value = c.mem.view(value_ptr, value_len);
  if (!key || !value) return HABANERO_INVALID_MEMORY;
  if (key->size() > limits::kMaxKeyBytes || value->size() > limits::kMaxValueBytes) {
    return HABANERO_LIMIT_EXCEEDED;
  }
  absl::Status s = c.services().storage->put(c.st.extension, *key, *value, ttl_ms);
  if (!s.ok()) return c.unavailable(s);
  return HABANERO_OK;
}

Result kvDelete(Call& c, uint32_t key_ptr, uint32_t key_len) {
  auto key = c.mem.view(key_ptr, key_len);
  if (!key) return HABANERO_INVALID_MEMORY;
  if (key->size() > limits::kMaxKeyBytes) return HABANERO_OK;  // cannot exist
  absl::Status s = c.services().storage->remove(c.st.extension, *key);
  if (!s.ok()) return c.unavailable(s);
  return HABANERO_OK;
}

Result kvTake(Call& c, uint32_t key_ptr, uint32_t key_len, uint32_t out, uint32_t cap,
              uint32_t out_len) {
  auto key = c.mem.view(key_ptr, key_len);
  if (!key || !c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  if (key->size() > limits::kMaxKeyBytes) return HABANERO_NOT_FOUND;
  // A value taken earlier in this request but too big for the guest's buffer
  // is held here, so the retry receives it: nothing is lost, nothing races.
  auto held = c.st.held_takes.find(std::string(*key));
  if (held != c.st.held_takes.end()) {
    Result r = c.writeOut(out, cap, out_len, held->second);
    if (r == HABANERO_OK) c.st.held_takes.erase(held);
    return r;
  }
  auto taken = c.services().storage->take(c.st.extension, *key);
  if (!taken.ok()) return c.unavailable(taken.status());
  if (!taken->has_value()) return HABANERO_NOT_FOUND;
  Result r = c.writeOut(out, cap, out_len, **taken);
  if (r == HABANERO_BUFFER_TOO_SMALL) {
    c.st.held_takes.emplace(std::string(*key), std::move(**taken));
  }
  return r;
}

Result kvCompareAndSet(Call& c, uint32_t key_ptr, uint32_t key_len, int32_t has_expected,
                       uint32_t expected_ptr, uint32_t expected_len, uint32_t value_ptr,
                       uint32_t value_len, int64_t ttl_ms) {
  auto key = c.mem.view(key_ptr, key_len);
  auto expected = c.mem.view(expected_ptr, has_expected != 0 ? expected_len : 0);
  auto value = c.mem.view(value_ptr, value_len);
  if (!key || !value || (has_expected != 0 && !expected)) return HABANERO_INVALID_MEMORY;
  if (key->size() > limits::kMaxKeyBytes || value->size() > limits::kMaxValueBytes) {
    return HABANERO_LIMIT_EXCEEDED;
  }
  std::optional<std::string_view> exp;
  if (has_expected != 0) exp = *expected;
  auto ok = c.services().storage->compareAndSet(c.st.extension, *key, exp, *value, ttl_ms);
  if (!ok.ok()) return c.unavailable(ok.status());
  return *ok ? HABANERO_OK : HABANERO_CONFLICT;
}

}  // namespace habanero::runtime::host
