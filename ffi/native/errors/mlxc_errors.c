/*
 * Thread-safe MLX error capture for the bun:ffi binding.
 *
 * mlx-c keeps ONE process-wide error handler and calls it synchronously on the thread whose call failed. A JS
 * callback cannot serve as that handler once several Bun Workers use MLX: the last Worker to install its callback
 * would receive (on the wrong thread) every other thread's errors, and a terminated Worker's callback would crash
 * the process. This handler instead copies the message into thread-local storage; each thread reads its own last
 * message after a call returns a non-zero status. It has no MLX dependency, so it also serves a system libmlxc.
 */
#include <stddef.h>
#include <string.h>

#if defined(_WIN32)
#define MLXC_EXPORT __declspec(dllexport)
#else
#define MLXC_EXPORT __attribute__((visibility("default")))
#endif

static _Thread_local char last_message[4096];
static _Thread_local int has_message;

/* mlx_error_handler_func: `void (*)(const char* msg, void* data)`. */
MLXC_EXPORT void mlxc_errors_handler(const char* msg, void* data) {
  (void)data;
  const char* m = msg ? msg : "unknown MLX error";
  size_t n = strlen(m);
  if (n >= sizeof last_message) n = sizeof last_message - 1;
  memcpy(last_message, m, n);
  last_message[n] = '\0';
  has_message = 1;
}

/* The handler's address, to pass to mlx_set_error_handler. */
MLXC_EXPORT void* mlxc_errors_handler_address(void) { return (void*)&mlxc_errors_handler; }

/* This thread's last message (valid until this thread's next MLX error), or NULL; clears it. */
MLXC_EXPORT const char* mlxc_errors_take(void) {
  if (!has_message) return NULL;
  has_message = 0;
  return last_message;
}
