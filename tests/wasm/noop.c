/* noop: the cheapest possible extension, for benchmarks. Makes no host call; the
 * response is the default 200 with an empty body. */
#include <habanero.h>

HABANERO_EXPORT("habanero_on_request") int32_t on_request(void) { return 0; }
