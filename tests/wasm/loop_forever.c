/* loop_forever: never returns. The host must interrupt it (epoch deadline) and answer
 * the request with an error instead of hanging. The volatile counter keeps the
 * compiler from deleting the loop. */
#include <habanero.h>

static volatile uint32_t spins;

HABANERO_EXPORT("habanero_on_request") int32_t on_request(void) {
  habanero_response_set_status(200); /* one http call, so the manifest's "http" is exact */
  for (;;) spins = spins + 1;
}
