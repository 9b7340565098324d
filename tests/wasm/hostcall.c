/* hostcall: one host-call round trip per request, for benchmarks. Responds 200 with
 * the request method as the body (request_get, then response_write). */
#include <habanero.h>

HABANERO_EXPORT("habanero_on_request") int32_t on_request(void) {
  uint8_t method[32];
  uint32_t len = 0;
  if (habanero_request_get(HABANERO_REQUEST_METHOD, method, sizeof method, &len) != HABANERO_OK) {
    habanero_response_set_status(500);
    return 0;
  }
  habanero_response_write(method, len);
  return 0;
}
