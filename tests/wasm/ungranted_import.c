/* ungranted_import: its manifest asks only for "http", yet it imports habanero.kv_get
 * (capability "kv"). The host must refuse to load it, naming the import; if it ever
 * ran, it would answer 200 with the kv_get result code as text. */
#include <habanero.h>

HABANERO_EXPORT("habanero_on_request") int32_t on_request(void) {
  uint8_t out[16];
  uint32_t len = 0;
  habanero_result_t r = habanero_kv_get((const uint8_t *)"k", 1, out, sizeof out, &len);
  uint8_t body[2] = {(uint8_t)('0' + (r % 10)), '\n'};
  habanero_response_write(body, sizeof body);
  return 0;
}
