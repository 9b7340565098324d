/* wasi_files: opens a file with fopen(), which pulls in WASI imports Habanero does not
 * provide (path_open, fd_read, ...). The host must refuse it at load. */
#include <habanero.h>
#include <stdio.h>

HABANERO_EXPORT("habanero_on_request") int32_t on_request(void) {
  FILE *f = fopen("/etc/passwd", "r");
  char line[64] = {0};
  if (f != NULL && fgets(line, sizeof line, f) != NULL) {
    habanero_response_write((const uint8_t *)line, 1);
  }
  return 0;
}
