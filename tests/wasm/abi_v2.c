/* abi_v2: exports habanero_abi_v2 instead of habanero_abi_v1 (built with NO_ABI_EXPORT).
 * Its manifest still says abi = 1, so only the module's export is wrong: the host must
 * refuse it at load for speaking an unknown ABI version. */
#include <habanero.h>

HABANERO_EXPORT("habanero_abi_v2") void habanero_abi_v2(void) {}

HABANERO_EXPORT("habanero_on_request") int32_t on_request(void) {
  habanero_response_set_status(200);
  return 0;
}
