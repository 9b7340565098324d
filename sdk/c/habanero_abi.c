/* Declares the ABI version this module speaks. Linked into every extension by
 * habanero_add_extension(); the host refuses modules without it. */
#include "habanero.h"

HABANERO_EXPORT("habanero_abi_v1") void habanero_abi_v1(void) {}
