/*
 * mlxc.h — C declarations of the Ithaca MLX C API compatibility library.
 *
 * This header is the project's own declaration of the subset of the MLX C API
 * (mlx-c v0.6.0) that Ithaca uses. Names, argument order, by-value struct
 * layouts and enum values match mlx-c, so a caller (bun:ffi) can load either
 * this library (libmlxc-compat) or a real libmlxc without changes.
 *
 * Conventions (same as mlx-c):
 *  - Handles are one-pointer structs passed BY VALUE; ctx == NULL is "empty".
 *  - int-returning functions return 0 on success and non-zero after calling
 *    the error handler (exception: mlx_map_*_get returns 2, without calling
 *    the handler, for a missing key).
 *  - Out-params (mlx_array* res, …): if res->ctx is NULL a new object is
 *    allocated and owned by the caller; otherwise the result is ASSIGNED into
 *    the existing object (the handle pointer stays the same).
 *  - Array arguments marked "may be null" accept an empty handle (= absent).
 *  - Every op takes a non-empty stream as its last argument.
 *
 * Extra symbol, not in mlx-c: mlxc_compat_version() identifies this library.
 */
#ifndef ITHACA_MLXC_H
#define ITHACA_MLXC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define MLXC_API __declspec(dllexport)
#else
#define MLXC_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ types */

typedef struct mlx_array_ { void* ctx; } mlx_array;
typedef struct mlx_stream_ { void* ctx; } mlx_stream;
typedef struct mlx_device_ { void* ctx; } mlx_device;
typedef struct mlx_string_ { void* ctx; } mlx_string;
typedef struct mlx_vector_array_ { void* ctx; } mlx_vector_array;
typedef struct mlx_map_string_to_array_ { void* ctx; } mlx_map_string_to_array;
typedef struct mlx_map_string_to_string_ { void* ctx; } mlx_map_string_to_string;
typedef struct mlx_distributed_group_ { void* ctx; } mlx_distributed_group;
typedef struct mlx_closure_ { void* ctx; } mlx_closure;

typedef enum mlx_dtype_ {
  MLX_BOOL = 0,
  MLX_UINT8 = 1,
  MLX_UINT16 = 2,
  MLX_UINT32 = 3,
  MLX_UINT64 = 4,
  MLX_INT8 = 5,
  MLX_INT16 = 6,
  MLX_INT32 = 7,
  MLX_INT64 = 8,
  MLX_FLOAT16 = 9,
  MLX_FLOAT32 = 10,
  MLX_FLOAT64 = 11,
  MLX_BFLOAT16 = 12,
  MLX_COMPLEX64 = 13,
} mlx_dtype;

typedef enum mlx_device_type_ { MLX_CPU = 0, MLX_GPU = 1 } mlx_device_type;

typedef struct mlx_optional_int_ { int value; bool has_value; } mlx_optional_int;
typedef struct mlx_optional_float_ { float value; bool has_value; } mlx_optional_float;
typedef struct mlx_optional_dtype_ { mlx_dtype value; bool has_value; } mlx_optional_dtype;

typedef void (*mlx_error_handler_func)(const char* msg, void* data);

/* ------------------------------------------------- compat marker (extra) */

/* "ithaca-mlxc-compat 0.6.0 (mlx X.Y.Z)"; static storage, never NULL. */
MLXC_API const char* mlxc_compat_version(void);

/* ------------------------------------------------ errors, version, string */

MLXC_API void mlx_set_error_handler(
    mlx_error_handler_func handler, void* data, void (*dtor)(void*));
MLXC_API int mlx_version(mlx_string* str_);

MLXC_API mlx_string mlx_string_new(void);
MLXC_API mlx_string mlx_string_new_data(const char* str);
MLXC_API const char* mlx_string_data(mlx_string str);
MLXC_API int mlx_string_free(mlx_string str);

/* ---------------------------------------------------------- device/stream */

MLXC_API mlx_device mlx_device_new_type(mlx_device_type type, int index);
MLXC_API int mlx_device_free(mlx_device dev);
MLXC_API int mlx_get_default_device(mlx_device* dev);
MLXC_API int mlx_set_default_device(mlx_device dev);
MLXC_API int mlx_device_is_available(bool* avail, mlx_device dev);
MLXC_API int mlx_metal_is_available(bool* res);

MLXC_API mlx_stream mlx_stream_new_device(mlx_device dev);
MLXC_API int mlx_stream_free(mlx_stream stream);
MLXC_API int mlx_synchronize(mlx_stream stream);
MLXC_API int mlx_get_default_stream(mlx_stream* stream, mlx_device dev);
MLXC_API int mlx_set_default_stream(mlx_stream stream);
MLXC_API mlx_stream mlx_default_cpu_stream_new(void);
MLXC_API mlx_stream mlx_default_gpu_stream_new(void);

/* ----------------------------------------------------------------- memory */

MLXC_API int mlx_clear_cache(void);
MLXC_API int mlx_get_active_memory(size_t* res);
MLXC_API int mlx_get_cache_memory(size_t* res);
MLXC_API int mlx_get_memory_limit(size_t* res);
MLXC_API int mlx_get_peak_memory(size_t* res);
MLXC_API int mlx_reset_peak_memory(void);
MLXC_API int mlx_set_cache_limit(size_t* res, size_t limit);
MLXC_API int mlx_set_memory_limit(size_t* res, size_t limit);
MLXC_API int mlx_set_wired_limit(size_t* res, size_t limit);

/* ------------------------------------------------------------------ array */

MLXC_API int mlx_array_tostring(mlx_string* str, const mlx_array arr);
MLXC_API mlx_array mlx_array_new(void);
MLXC_API int mlx_array_free(mlx_array arr);
MLXC_API int mlx_array_set(mlx_array* arr, const mlx_array src);
MLXC_API mlx_array mlx_array_new_bool(bool val);
MLXC_API mlx_array mlx_array_new_int(int val);
MLXC_API mlx_array mlx_array_new_float32(float val);
MLXC_API mlx_array mlx_array_new_float(float val);
MLXC_API mlx_array mlx_array_new_data(
    const void* data, const int* shape, int dim, mlx_dtype dtype);

MLXC_API size_t mlx_array_itemsize(const mlx_array arr);
MLXC_API size_t mlx_array_size(const mlx_array arr);
MLXC_API size_t mlx_array_nbytes(const mlx_array arr);
MLXC_API size_t mlx_array_ndim(const mlx_array arr);
MLXC_API const int* mlx_array_shape(const mlx_array arr);
MLXC_API int mlx_array_dim(const mlx_array arr, int dim);
MLXC_API mlx_dtype mlx_array_dtype(const mlx_array arr);

MLXC_API int mlx_array_eval(mlx_array arr);
MLXC_API int mlx_array_item_int32(int32_t* res, const mlx_array arr);
MLXC_API int mlx_array_item_float32(float* res, const mlx_array arr);

MLXC_API const uint8_t* mlx_array_data_uint8(const mlx_array arr);
MLXC_API const uint32_t* mlx_array_data_uint32(const mlx_array arr);
MLXC_API const int32_t* mlx_array_data_int32(const mlx_array arr);
MLXC_API const float* mlx_array_data_float32(const mlx_array arr);

MLXC_API int _mlx_array_is_available(bool* res, const mlx_array arr);
MLXC_API int _mlx_array_wait(const mlx_array arr);
MLXC_API int _mlx_array_is_row_contiguous(bool* res, const mlx_array arr);

/* ----------------------------------------------------------- vector_array */

MLXC_API mlx_vector_array mlx_vector_array_new(void);
MLXC_API mlx_vector_array mlx_vector_array_new_data(
    const mlx_array* data, size_t size);
MLXC_API int mlx_vector_array_free(mlx_vector_array vec);
MLXC_API int mlx_vector_array_set_data(
    mlx_vector_array* vec, const mlx_array* data, size_t size);
MLXC_API int mlx_vector_array_append_value(
    mlx_vector_array vec, const mlx_array value);
MLXC_API size_t mlx_vector_array_size(mlx_vector_array vec);
MLXC_API int mlx_vector_array_get(
    mlx_array* res, const mlx_vector_array vec, size_t idx);

/* ------------------------------------------------------------- maps + io */

MLXC_API mlx_map_string_to_array mlx_map_string_to_array_new(void);
MLXC_API int mlx_map_string_to_array_free(mlx_map_string_to_array map);
MLXC_API int mlx_map_string_to_array_insert(
    mlx_map_string_to_array map, const char* key, const mlx_array value);
MLXC_API int mlx_map_string_to_array_get(
    mlx_array* value, const mlx_map_string_to_array map, const char* key);

MLXC_API mlx_map_string_to_string mlx_map_string_to_string_new(void);
MLXC_API int mlx_map_string_to_string_free(mlx_map_string_to_string map);
MLXC_API int mlx_map_string_to_string_insert(
    mlx_map_string_to_string map, const char* key, const char* value);
MLXC_API int mlx_map_string_to_string_get(
    const char** value, const mlx_map_string_to_string map, const char* key);

MLXC_API int mlx_load_safetensors(
    mlx_map_string_to_array* res_0,
    mlx_map_string_to_string* res_1,
    const char* file,
    const mlx_stream s);
MLXC_API int mlx_save_safetensors(
    const char* file,
    const mlx_map_string_to_array param,
    const mlx_map_string_to_string metadata);

/* ------------------------------------------------------------- transforms */

MLXC_API int mlx_eval(const mlx_vector_array outputs);
MLXC_API int mlx_async_eval(const mlx_vector_array outputs);

/* ------------------------------------------------------ closures, compile */
/*
 * A closure wraps a C function `int fun(mlx_vector_array* res, const
 * mlx_vector_array input, void* payload)`: it is called with `res->ctx` NULL
 * (set it with mlx_vector_array_set_data) and must return 0, or non-zero after
 * an mlx-c call failed (applying the closure then fails with "mlx_closure
 * returned a non-zero value"). `dtor` (may be NULL) frees `payload` when the
 * last copy of the closure is freed. mlx_compile's result is a closure whose
 * fun runs only while MLX traces it (per thread, and per input shapes unless
 * `shapeless`); it is `fun` itself when compilation is disabled or
 * unavailable on the default device (MLX's CPU backend needs g++ at run time).
 */
MLXC_API int mlx_closure_free(mlx_closure cls);
MLXC_API mlx_closure mlx_closure_new_func_payload(
    int (*fun)(mlx_vector_array*, const mlx_vector_array, void*),
    void* payload,
    void (*dtor)(void*));
MLXC_API int mlx_closure_apply(
    mlx_vector_array* res, mlx_closure cls, const mlx_vector_array input);
MLXC_API int mlx_compile(mlx_closure* res, const mlx_closure fun, bool shapeless);

/* ------------------------------------------------------------------- fast */

MLXC_API int mlx_fast_rms_norm(
    mlx_array* res,
    const mlx_array x,
    const mlx_array weight /* may be null */,
    float eps,
    const mlx_stream s);
MLXC_API int mlx_fast_layer_norm(
    mlx_array* res,
    const mlx_array x,
    const mlx_array weight /* may be null */,
    const mlx_array bias /* may be null */,
    float eps,
    const mlx_stream s);
MLXC_API int mlx_fast_rope(
    mlx_array* res,
    const mlx_array x,
    int dims,
    bool traditional,
    mlx_optional_float base,
    float scale,
    int offset,
    const mlx_array freqs /* may be null */,
    const mlx_stream s);
MLXC_API int mlx_fast_rope_dynamic(
    mlx_array* res,
    const mlx_array x,
    int dims,
    bool traditional,
    mlx_optional_float base,
    float scale,
    const mlx_array offset,
    const mlx_array freqs /* may be null */,
    const mlx_stream s);
MLXC_API int mlx_fast_scaled_dot_product_attention(
    mlx_array* res,
    const mlx_array queries,
    const mlx_array keys,
    const mlx_array values,
    float scale,
    const char* mask_mode,
    const mlx_array mask_arr /* may be null */,
    const mlx_array sinks /* may be null */,
    const mlx_stream s);

/* -------------------------------------------------------------- quantized */

MLXC_API int mlx_quantized_matmul(
    mlx_array* res,
    const mlx_array x,
    const mlx_array w,
    const mlx_array scales,
    const mlx_array biases /* may be null */,
    bool transpose,
    mlx_optional_int group_size,
    mlx_optional_int bits,
    const char* mode,
    const mlx_stream s);
MLXC_API int mlx_dequantize(
    mlx_array* res,
    const mlx_array w,
    const mlx_array scales,
    const mlx_array biases /* may be null */,
    mlx_optional_int group_size,
    mlx_optional_int bits,
    const char* mode,
    const mlx_array global_scale /* may be null */,
    mlx_optional_dtype dtype,
    const mlx_stream s);
MLXC_API int mlx_quantize(
    mlx_vector_array* res,
    const mlx_array w,
    mlx_optional_int group_size,
    mlx_optional_int bits,
    const char* mode,
    const mlx_array global_scale /* may be null */,
    const mlx_stream s);

/* ------------------------------------------------------------ elementwise */

#define MLXC_DECL_UNARY(name) \
  MLXC_API int name(mlx_array* res, const mlx_array a, const mlx_stream s);
#define MLXC_DECL_BINARY(name)                                         \
  MLXC_API int name(                                                   \
      mlx_array* res, const mlx_array a, const mlx_array b, const mlx_stream s);

MLXC_DECL_BINARY(mlx_add)
MLXC_DECL_BINARY(mlx_subtract)
MLXC_DECL_BINARY(mlx_multiply)
MLXC_DECL_BINARY(mlx_divide)
MLXC_DECL_BINARY(mlx_maximum)
MLXC_DECL_BINARY(mlx_minimum)
MLXC_DECL_BINARY(mlx_power)
MLXC_DECL_BINARY(mlx_greater_equal)
MLXC_DECL_BINARY(mlx_greater)
MLXC_DECL_BINARY(mlx_less)
MLXC_DECL_BINARY(mlx_less_equal)
MLXC_DECL_BINARY(mlx_equal)
MLXC_DECL_BINARY(mlx_not_equal)
MLXC_DECL_BINARY(mlx_logical_and)
MLXC_DECL_BINARY(mlx_logical_or)
MLXC_DECL_BINARY(mlx_matmul)

MLXC_DECL_UNARY(mlx_sigmoid)
MLXC_DECL_UNARY(mlx_exp)
MLXC_DECL_UNARY(mlx_log)
MLXC_DECL_UNARY(mlx_negative)
MLXC_DECL_UNARY(mlx_square)
MLXC_DECL_UNARY(mlx_sqrt)
MLXC_DECL_UNARY(mlx_rsqrt)
MLXC_DECL_UNARY(mlx_tanh)
MLXC_DECL_UNARY(mlx_abs)
MLXC_DECL_UNARY(mlx_logical_not)
MLXC_DECL_UNARY(mlx_transpose)
MLXC_DECL_UNARY(mlx_copy)
MLXC_DECL_UNARY(mlx_stop_gradient)
MLXC_DECL_UNARY(mlx_zeros_like)

#undef MLXC_DECL_UNARY
#undef MLXC_DECL_BINARY

MLXC_API int mlx_where(
    mlx_array* res,
    const mlx_array condition,
    const mlx_array x,
    const mlx_array y,
    const mlx_stream s);

/* ---------------------------------------------------------- linalg/shape */

MLXC_API int mlx_addmm(
    mlx_array* res,
    const mlx_array c,
    const mlx_array a,
    const mlx_array b,
    float alpha,
    float beta,
    const mlx_stream s);
MLXC_API int mlx_reshape(
    mlx_array* res,
    const mlx_array a,
    const int* shape,
    size_t shape_num,
    const mlx_stream s);
MLXC_API int mlx_transpose_axes(
    mlx_array* res,
    const mlx_array a,
    const int* axes,
    size_t axes_num,
    const mlx_stream s);
MLXC_API int mlx_swapaxes(
    mlx_array* res, const mlx_array a, int axis1, int axis2, const mlx_stream s);
MLXC_API int mlx_expand_dims(
    mlx_array* res, const mlx_array a, int axis, const mlx_stream s);
MLXC_API int mlx_squeeze_axis(
    mlx_array* res, const mlx_array a, int axis, const mlx_stream s);
MLXC_API int mlx_flatten(
    mlx_array* res,
    const mlx_array a,
    int start_axis,
    int end_axis,
    const mlx_stream s);
MLXC_API int mlx_broadcast_to(
    mlx_array* res,
    const mlx_array a,
    const int* shape,
    size_t shape_num,
    const mlx_stream s);
MLXC_API int mlx_contiguous(
    mlx_array* res, const mlx_array a, bool allow_col_major, const mlx_stream s);
MLXC_API int mlx_astype(
    mlx_array* res, const mlx_array a, mlx_dtype dtype, const mlx_stream s);

/* ---------------------------------------------------------------- slicing */

MLXC_API int mlx_slice(
    mlx_array* res,
    const mlx_array a,
    const int* start,
    size_t start_num,
    const int* stop,
    size_t stop_num,
    const int* strides,
    size_t strides_num,
    const mlx_stream s);
MLXC_API int mlx_slice_dynamic(
    mlx_array* res,
    const mlx_array a,
    const mlx_array start,
    const int* axes,
    size_t axes_num,
    const int* slice_size,
    size_t slice_size_num,
    const mlx_stream s);
MLXC_API int mlx_slice_update(
    mlx_array* res,
    const mlx_array src,
    const mlx_array update,
    const int* start,
    size_t start_num,
    const int* stop,
    size_t stop_num,
    const int* strides,
    size_t strides_num,
    const mlx_stream s);
MLXC_API int mlx_slice_update_dynamic(
    mlx_array* res,
    const mlx_array src,
    const mlx_array update,
    const mlx_array start,
    const int* axes,
    size_t axes_num,
    const mlx_stream s);
MLXC_API int mlx_concatenate_axis(
    mlx_array* res,
    const mlx_vector_array arrays,
    int axis,
    const mlx_stream s);
MLXC_API int mlx_take_axis(
    mlx_array* res,
    const mlx_array a,
    const mlx_array indices,
    int axis,
    const mlx_stream s);
MLXC_API int mlx_take(
    mlx_array* res,
    const mlx_array a,
    const mlx_array indices,
    const mlx_stream s);
MLXC_API int mlx_take_along_axis(
    mlx_array* res,
    const mlx_array a,
    const mlx_array indices,
    int axis,
    const mlx_stream s);
MLXC_API int mlx_put_along_axis(
    mlx_array* res,
    const mlx_array a,
    const mlx_array indices,
    const mlx_array values,
    int axis,
    const mlx_stream s);

/* --------------------------------------------------------------- creation */

MLXC_API int mlx_zeros(
    mlx_array* res,
    const int* shape,
    size_t shape_num,
    mlx_dtype dtype,
    const mlx_stream s);
MLXC_API int mlx_ones(
    mlx_array* res,
    const int* shape,
    size_t shape_num,
    mlx_dtype dtype,
    const mlx_stream s);
MLXC_API int mlx_full(
    mlx_array* res,
    const int* shape,
    size_t shape_num,
    const mlx_array vals,
    mlx_dtype dtype,
    const mlx_stream s);
MLXC_API int mlx_arange(
    mlx_array* res,
    double start,
    double stop,
    double step,
    mlx_dtype dtype,
    const mlx_stream s);

/* ------------------------------------------------------------- reductions */

#define MLXC_DECL_AXIS_KEEP(name)  \
  MLXC_API int name(               \
      mlx_array* res,              \
      const mlx_array a,           \
      int axis,                    \
      bool keepdims,               \
      const mlx_stream s);
#define MLXC_DECL_ALL_KEEP(name) \
  MLXC_API int name(             \
      mlx_array* res, const mlx_array a, bool keepdims, const mlx_stream s);

MLXC_DECL_AXIS_KEEP(mlx_argmax_axis)
MLXC_DECL_AXIS_KEEP(mlx_max_axis)
MLXC_DECL_AXIS_KEEP(mlx_min_axis)
MLXC_DECL_AXIS_KEEP(mlx_sum_axis)
MLXC_DECL_AXIS_KEEP(mlx_mean_axis)
MLXC_DECL_AXIS_KEEP(mlx_logsumexp_axis)
MLXC_DECL_ALL_KEEP(mlx_sum)
MLXC_DECL_ALL_KEEP(mlx_max)

#undef MLXC_DECL_AXIS_KEEP
#undef MLXC_DECL_ALL_KEEP

MLXC_API int mlx_softmax_axis(
    mlx_array* res, const mlx_array a, int axis, bool precise, const mlx_stream s);
MLXC_API int mlx_argpartition_axis(
    mlx_array* res, const mlx_array a, int kth, int axis, const mlx_stream s);
MLXC_API int mlx_argsort_axis(
    mlx_array* res, const mlx_array a, int axis, const mlx_stream s);
MLXC_API int mlx_sort_axis(
    mlx_array* res, const mlx_array a, int axis, const mlx_stream s);
MLXC_API int mlx_topk_axis(
    mlx_array* res, const mlx_array a, int k, int axis, const mlx_stream s);
MLXC_API int mlx_cumsum(
    mlx_array* res,
    const mlx_array a,
    int axis,
    bool reverse,
    bool inclusive,
    const mlx_stream s);

/* ----------------------------------------------------------------- random */

MLXC_API int mlx_random_seed(uint64_t seed);
MLXC_API int mlx_random_key(mlx_array* res, uint64_t seed);
MLXC_API int mlx_random_split(
    mlx_array* res_0, mlx_array* res_1, const mlx_array key, const mlx_stream s);
MLXC_API int mlx_random_categorical(
    mlx_array* res,
    const mlx_array logits,
    int axis,
    const mlx_array key /* may be null */,
    const mlx_stream s);
MLXC_API int mlx_random_uniform(
    mlx_array* res,
    const mlx_array low,
    const mlx_array high,
    const int* shape,
    size_t shape_num,
    mlx_dtype dtype,
    const mlx_array key /* may be null */,
    const mlx_stream s);
MLXC_API int mlx_random_normal(
    mlx_array* res,
    const int* shape,
    size_t shape_num,
    mlx_dtype dtype,
    float loc,
    float scale,
    const mlx_array key /* may be null */,
    const mlx_stream s);

/* ------------------------------------------------------------ distributed */
/* mlx-c v0.6.0 (distributed_group.h, distributed.h). v0.6.0 has no
 * mlx_distributed_group_free: group handles are never freed. A "may be null"
 * group resolves to mlx_distributed_init(false, "any"). */

MLXC_API int mlx_distributed_group_rank(mlx_distributed_group group);
MLXC_API int mlx_distributed_group_size(mlx_distributed_group group);
MLXC_API mlx_distributed_group
mlx_distributed_group_split(mlx_distributed_group group, int color, int key);
MLXC_API bool mlx_distributed_is_available(const char* bk /* may be null */);
MLXC_API mlx_distributed_group mlx_distributed_init(
    bool strict, const char* bk /* may be null */);

#define MLXC_DECL_COLLECTIVE(name)          \
  MLXC_API int name(                        \
      mlx_array* res,                       \
      const mlx_array x,                    \
      const mlx_distributed_group group /* may be null */, \
      const mlx_stream s);

MLXC_DECL_COLLECTIVE(mlx_distributed_all_gather)
MLXC_DECL_COLLECTIVE(mlx_distributed_all_max)
MLXC_DECL_COLLECTIVE(mlx_distributed_all_min)
MLXC_DECL_COLLECTIVE(mlx_distributed_all_sum)
MLXC_DECL_COLLECTIVE(mlx_distributed_sum_scatter)

#undef MLXC_DECL_COLLECTIVE

MLXC_API int mlx_distributed_recv(
    mlx_array* res,
    const int* shape,
    size_t shape_num,
    mlx_dtype dtype,
    int src,
    const mlx_distributed_group group /* may be null */,
    const mlx_stream s);
MLXC_API int mlx_distributed_recv_like(
    mlx_array* res,
    const mlx_array x,
    int src,
    const mlx_distributed_group group /* may be null */,
    const mlx_stream s);
MLXC_API int mlx_distributed_send(
    mlx_array* res,
    const mlx_array x,
    int dst,
    const mlx_distributed_group group /* may be null */,
    const mlx_stream s);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ITHACA_MLXC_H */
