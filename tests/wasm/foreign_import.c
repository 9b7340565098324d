/* foreign_import: imports a function from the module "env", which no Habanero host
 * provides. The host must refuse it at load, naming the import. */
#include <habanero.h>

__attribute__((import_module("env"), import_name("host_secret"))) int32_t host_secret(void);

HABANERO_EXPORT("habanero_on_request") int32_t on_request(void) {
  habanero_response_set_status(200);
  return host_secret();
}
