/* traps: fails in the way the query parameter `kind` names. Each must become an error
 * response (and a log line) on the host, never a host crash; the next request to the
 * module must work.
 *
 *   kind=unreachable     __builtin_trap() (wasm `unreachable`)
 *   kind=div0            integer division by zero (wasm traps; no UB folding: volatile)
 *   kind=stack_overflow  unbounded recursion with a 1 KiB volatile frame on the shadow
 *                        stack; with --stack-first it runs off the bottom of memory
 *                        (out-of-bounds trap) or exhausts the native stack first
 *   kind=call_stack      unbounded recursion without a shadow-stack frame: exhausts
 *                        Wasmtime's native call stack ("call stack exhausted")
 *   kind=oob             a store far outside linear memory
 *   kind=exit            exit(3): WASI proc_exit in the middle of a request
 * Anything else (or no/duplicate/invalid `kind`): 400 "unknown kind". */
#include <habanero.h>
#include <stdlib.h>
#include <string.h>

static volatile int32_t sink;
static volatile int32_t stop_at = -1; /* never reached; silences -Winfinite-recursion */

__attribute__((noinline)) static int32_t recurse_framed(int32_t depth) {
  volatile char frame[1024];
  if (depth == stop_at) return 0;
  frame[0] = (char)depth;
  frame[sizeof frame - 1] = (char)depth;
  int32_t r = recurse_framed(depth + 1); /* not a tail call: the frame is read after */
  return r + frame[0] + frame[sizeof frame - 1];
}

__attribute__((noinline)) static int32_t recurse_bare(int32_t depth) {
  if (depth == stop_at) return 0;
  int32_t r = recurse_bare(depth + 1);
  sink = r; /* a volatile store after the call defeats tail-recursion elimination */
  return r ^ depth;
}

static int equals(const uint8_t *s, uint32_t len, const char *lit) {
  return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

HABANERO_EXPORT("habanero_on_request") int32_t on_request(void) {
  uint8_t kind[32];
  uint32_t len = 0;
  if (habanero_request_param(HABANERO_PARAMS_QUERY, (const uint8_t *)"kind", 4, kind, sizeof kind,
                             &len) != HABANERO_OK) {
    len = 0;
  }
  if (equals(kind, len, "unreachable")) {
    __builtin_trap();
  } else if (equals(kind, len, "div0")) {
    volatile int32_t a = 1, b = 0;
    sink = a / b;
  } else if (equals(kind, len, "stack_overflow")) {
    sink = recurse_framed(0);
  } else if (equals(kind, len, "call_stack")) {
    sink = recurse_bare(0);
  } else if (equals(kind, len, "oob")) {
    *(volatile uint32_t *)(uintptr_t)0xFFFFFFF0u = 1;
  } else if (equals(kind, len, "exit")) {
    exit(3);
  } else {
    habanero_response_set_status(400);
    habanero_response_write((const uint8_t *)"unknown kind\n", 13);
    return 0;
  }
  /* Only reached if a trap did not happen. */
  habanero_response_set_status(200);
  habanero_response_write((const uint8_t *)"no trap\n", 8);
  return 0;
}
