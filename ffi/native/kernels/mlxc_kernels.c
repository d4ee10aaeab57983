/*
 * Native closure bodies for mlx_compile: the step mlx-lm decorates with @mx.compile in the models Ithaca runs
 * (swiglu), and the fast ops that MLX's CPU backend runs as graphs of element-wise ops (rms_norm, rope), which
 * compiling fuses into few kernels. Each is a C function with mlx-c's closure signature; the binding wraps it in
 * mlx_closure_new_func_payload (payload: the stream its ops run on and their scalar arguments, see
 * mlxc_kernels_params), compiles it with mlx_compile and applies the result. MLX calls the body only while it traces,
 * on the applying thread. Nothing here calls back into JS (JS callbacks called from MLX crashed the process once
 * several Workers used MLX).
 *
 * The library has no link-time MLX dependency, so it serves the compatibility library and a real libmlxc alike:
 * mlxc_kernels_init dlopens the MLX C library the binding loaded (same path, so the same handle) and resolves the
 * few mlx-c functions the bodies call. Their types are taken from ffi/native/mlxc.h, which declares mlx-c's exact
 * signatures.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "../mlxc.h"

#if defined(_WIN32)
#define MLXC_EXPORT __declspec(dllexport)
#else
#define MLXC_EXPORT __attribute__((visibility("default")))
#endif

/* The mlx-c functions the bodies call, resolved once per process from one library. */
static struct {
  void* library;
  __typeof__(&mlx_array_new) array_new;
  __typeof__(&mlx_array_free) array_free;
  __typeof__(&mlx_vector_array_size) vector_array_size;
  __typeof__(&mlx_vector_array_get) vector_array_get;
  __typeof__(&mlx_vector_array_set_data) vector_array_set_data;
  __typeof__(&mlx_sigmoid) sigmoid;
  __typeof__(&mlx_multiply) multiply;
  __typeof__(&mlx_fast_rms_norm) fast_rms_norm;
  __typeof__(&mlx_fast_rope_dynamic) fast_rope_dynamic;
} api;
static pthread_mutex_t api_lock = PTHREAD_MUTEX_INITIALIZER;

#define RESOLVE(field, name)                  \
  do {                                        \
    *(void**)&api.field = dlsym(lib, #name);  \
    if (!api.field) return 3;                 \
  } while (0)

static int resolve(void* lib) {
  RESOLVE(array_new, mlx_array_new);
  RESOLVE(array_free, mlx_array_free);
  RESOLVE(vector_array_size, mlx_vector_array_size);
  RESOLVE(vector_array_get, mlx_vector_array_get);
  RESOLVE(vector_array_set_data, mlx_vector_array_set_data);
  RESOLVE(sigmoid, mlx_sigmoid);
  RESOLVE(multiply, mlx_multiply);
  RESOLVE(fast_rms_norm, mlx_fast_rms_norm);
  RESOLVE(fast_rope_dynamic, mlx_fast_rope_dynamic);
  return 0;
}

/*
 * Resolves the mlx-c functions from the MLX C library at `path` (the one the caller loaded). Idempotent; every
 * thread of a process must pass the same library. Returns 0; 1 when `path` cannot be opened (dlerror() says why),
 * 2 when another library was already bound, 3 when a symbol is missing (nothing is bound then).
 */
MLXC_EXPORT int mlxc_kernels_init(const char* path) {
  void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) return 1;
  pthread_mutex_lock(&api_lock);
  int status = 0;
  if (api.library) {
    status = api.library == lib ? 0 : 2;
    dlclose(lib); /* the first dlopen keeps it loaded */
  } else {
    status = resolve(lib);
    if (status == 0) {
      api.library = lib;
    } else {
      dlclose(lib);
    }
  }
  pthread_mutex_unlock(&api_lock);
  return status;
}

/* A closure's payload: the stream its ops run on and the op's scalar arguments (each body reads its own). */
typedef struct {
  mlx_stream stream;
  float eps;               /* rms_norm */
  int dims;                /* rope */
  bool traditional;        /* rope */
  mlx_optional_float base; /* rope: absent when the frequencies come as an input */
  float scale;             /* rope */
} params;

/*
 * A payload for mlx_closure_new_func_payload (NULL when out of memory), freed by the function at
 * mlxc_kernels_params_free_address(). `stream` is an mlx_stream's ctx, which must outlive the closure.
 */
MLXC_EXPORT void* mlxc_kernels_params(
    void* stream, float eps, int dims, bool traditional, float base, bool has_base, float scale) {
  params* p = malloc(sizeof *p);
  if (!p) return NULL;
  p->stream = (mlx_stream){stream};
  p->eps = eps;
  p->dims = dims;
  p->traditional = traditional;
  p->base = (mlx_optional_float){base, has_base};
  p->scale = scale;
  return p;
}

static void params_free(void* p) { free(p); }

/* The payload destructor's address, for mlx_closure_new_func_payload. */
MLXC_EXPORT void* mlxc_kernels_params_free_address(void) { return (void*)&params_free; }

/*
 * Reads the closure's inputs into `in` (new handles; unused slots stay empty): at least `min`, at most `max`.
 * Returns how many, or -1 after freeing what it read.
 */
static int read_inputs(mlx_array* in, int min, int max, const mlx_vector_array inputs) {
  size_t n = api.vector_array_size(inputs);
  for (int i = 0; i < max; i++) in[i] = api.array_new();
  int ok = n >= (size_t)min && n <= (size_t)max;
  for (size_t i = 0; ok && i < n; i++) ok = api.vector_array_get(&in[i], inputs, i) == 0;
  if (ok) return (int)n;
  for (int i = 0; i < max; i++) api.array_free(in[i]);
  return -1;
}

/* Returns `out` as the closure's single output and frees the handles; `status` is the body's so far. */
static int finish(int status, mlx_vector_array* res, mlx_array out, mlx_array* in, int n_in) {
  if (status == 0) status = api.vector_array_set_data(res, &out, 1);
  api.array_free(out);
  for (int i = 0; i < n_in; i++) api.array_free(in[i]);
  return status;
}

/*
 * mlx-lm models/activations.py `swiglu(gate, x) = silu(gate) * x` with silu(g) = g * sigmoid(g) (mlx.nn.silu),
 * the same ops in the same order. Inputs [gate, x] (same shape and dtype), output [silu(gate) * x].
 */
static int swiglu(mlx_vector_array* res, const mlx_vector_array inputs, void* payload) {
  const params* p = payload;
  mlx_array in[2];
  if (read_inputs(in, 2, 2, inputs) < 0) return 1;
  mlx_array sig = api.array_new(), silu = api.array_new(), out = api.array_new();
  int status = api.sigmoid(&sig, in[0], p->stream) || api.multiply(&silu, in[0], sig, p->stream) ||
               api.multiply(&out, silu, in[1], p->stream);
  api.array_free(sig);
  api.array_free(silu);
  return finish(status, res, out, in, 2);
}

/*
 * mlx.fast.rms_norm(x, weight, eps) (mlx-lm's nn.RMSNorm). Inputs [x, weight], output [rms_norm(x) * weight]. On a
 * CPU stream MLX expands it into element-wise ops, which compiling fuses.
 */
static int rms_norm(mlx_vector_array* res, const mlx_vector_array inputs, void* payload) {
  const params* p = payload;
  mlx_array in[2];
  if (read_inputs(in, 2, 2, inputs) < 0) return 1;
  mlx_array out = api.array_new();
  int status = api.fast_rms_norm(&out, in[0], in[1], p->eps, p->stream);
  return finish(status, res, out, in, 2);
}

/*
 * mlx.fast.rope(x, dims, traditional, base, scale, offset, freqs) (mlx-lm's nn.RoPE and rope_utils). Inputs
 * [x, offset (int32 scalar or [B])] or [x, offset, freqs], output [the rotated x]. On a CPU stream MLX expands it into
 * element-wise ops (the same graph for an int offset, which MLX turns into an int32 array), which compiling fuses.
 */
static int rope(mlx_vector_array* res, const mlx_vector_array inputs, void* payload) {
  const params* p = payload;
  mlx_array in[3];
  int n = read_inputs(in, 2, 3, inputs);
  if (n < 0) return 1;
  mlx_array out = api.array_new();
  int status = api.fast_rope_dynamic(
      &out, in[0], p->dims, p->traditional, p->base, p->scale, in[1], in[2], p->stream);
  return finish(status, res, out, in, 3);
}

/* The closure bodies' addresses, for mlx_closure_new_func_payload (mlxc_kernels_init must have succeeded). */
MLXC_EXPORT void* mlxc_kernels_swiglu_address(void) { return (void*)&swiglu; }
MLXC_EXPORT void* mlxc_kernels_rms_norm_address(void) { return (void*)&rms_norm; }
MLXC_EXPORT void* mlxc_kernels_rope_address(void) { return (void*)&rope; }
