/* no_entry: exports no habanero_on_request (only another function). The host must
 * refuse it at load. */
#include <habanero.h>

HABANERO_EXPORT("on_request") int32_t on_request(void) {
  habanero_response_set_status(200);
  return 0;
}
