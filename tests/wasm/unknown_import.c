/* unknown_import: imports habanero.no_such_call, a host function in no capability. The
 * host must refuse it at load, naming the function. */
#include <habanero.h>

HABANERO_IMPORT("no_such_call") habanero_result_t no_such_call(void);

HABANERO_EXPORT("habanero_on_request") int32_t on_request(void) { return no_such_call(); }
