/* no_abi: exports no habanero_abi_v* function (built with NO_ABI_EXPORT). The host must
 * refuse it at load. */
#include <habanero.h>

HABANERO_EXPORT("habanero_on_request") int32_t on_request(void) {
  habanero_response_set_status(200);
  return 0;
}
