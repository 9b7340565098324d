/* memory_hog: grows linear memory one 64 KiB page at a time until memory.grow fails
 * (or the host traps it). If growth fails gracefully it responds 200 with
 *   {"grown":<pages obtained>,"pages":<pages now>}
 * The host's memory limit must stop it; the figures let a test check the limit.
 *
 * With the query "mode=malloc" it behaves like a real program instead: it
 * mallocs 1 MiB blocks (touching each) until malloc fails, then aborts — a trap
 * the host must turn into a 500. */
#include <habanero.h>
#include <stdlib.h>
#include <string.h>

static uint32_t append_u32(char *out, uint32_t at, uint32_t v) {
  char digits[10];
  uint32_t n = 0;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) out[at++] = digits[--n];
  return at;
}

static uint32_t append_str(char *out, uint32_t at, const char *s) {
  while (*s) out[at++] = *s++;
  return at;
}

/* Volatile so the compiler cannot prove the blocks unused and delete the
 * allocations (which would leave an endless loop). */
static char *volatile last_block;

static void malloc_until_abort(void) {
  for (;;) {
    char *block = malloc(1u << 20);
    if (block == NULL) abort();
    memset(block, 0xAB, 1u << 20);
    last_block = block;
  }
}

HABANERO_EXPORT("habanero_on_request") int32_t on_request(void) {
  uint8_t mode[16];
  uint32_t mode_len = 0;
  if (habanero_request_param(HABANERO_PARAMS_QUERY, (const uint8_t *)"mode", 4, mode,
                             sizeof mode, &mode_len) == HABANERO_OK &&
      mode_len == 6 && memcmp(mode, "malloc", 6) == 0) {
    malloc_until_abort();
  }
  uint32_t grown = 0;
  while (__builtin_wasm_memory_grow(0, 1) != (__SIZE_TYPE__)-1) grown++;
  char body[64];
  uint32_t len = append_str(body, 0, "{\"grown\":");
  len = append_u32(body, len, grown);
  len = append_str(body, len, ",\"pages\":");
  len = append_u32(body, len, (uint32_t)__builtin_wasm_memory_size(0));
  len = append_str(body, len, "}");
  habanero_response_set_status(200);
  habanero_response_add_header((const uint8_t *)"content-type", 12,
                               (const uint8_t *)"application/json", 16);
  habanero_response_write((const uint8_t *)body, len);
  return 0;
}
