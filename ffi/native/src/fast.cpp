// Fused kernels (mlx/fast.h), quantization and random numbers.
#include "mlx/fast.h"
#include "mlx/ops.h"
#include "mlx/random.h"

#include "internal.h"

using namespace mlxc;

#define MLXC_OP(res, expr) \
  MLXC_TRY                 \
  set_arr(res, (expr));    \
  return 0;                \
  MLXC_CATCH(1)

// =================================================================== fast

extern "C" int mlx_fast_rms_norm(
    mlx_array* res,
    const mlx_array x,
    const mlx_array weight,
    float eps,
    const mlx_stream s) {
  MLXC_OP(res, mx::fast::rms_norm(arr(x), opt_arr(weight), eps, strm(s)))
}

extern "C" int mlx_fast_layer_norm(
    mlx_array* res,
    const mlx_array x,
    const mlx_array weight,
    const mlx_array bias,
    float eps,
    const mlx_stream s) {
  MLXC_OP(
      res,
      mx::fast::layer_norm(
          arr(x), opt_arr(weight), opt_arr(bias), eps, strm(s)))
}

extern "C" int mlx_fast_rope(
    mlx_array* res,
    const mlx_array x,
    int dims,
    bool traditional,
    mlx_optional_float base,
    float scale,
    int offset,
    const mlx_array freqs,
    const mlx_stream s) {
  MLXC_OP(
      res,
      mx::fast::rope(
          arr(x),
          dims,
          traditional,
          to_opt(base),
          scale,
          offset,
          opt_arr(freqs),
          strm(s)))
}

extern "C" int mlx_fast_rope_dynamic(
    mlx_array* res,
    const mlx_array x,
    int dims,
    bool traditional,
    mlx_optional_float base,
    float scale,
    const mlx_array offset,
    const mlx_array freqs,
    const mlx_stream s) {
  MLXC_OP(
      res,
      mx::fast::rope(
          arr(x),
          dims,
          traditional,
          to_opt(base),
          scale,
          arr(offset),
          opt_arr(freqs),
          strm(s)))
}

// mlx-c v0.6.0 has no force_fused argument; MLX 0.32's C++ API does
// (default false), so it is passed explicitly as false.
extern "C" int mlx_fast_scaled_dot_product_attention(
    mlx_array* res,
    const mlx_array queries,
    const mlx_array keys,
    const mlx_array values,
    float scale,
    const char* mask_mode,
    const mlx_array mask_arr,
    const mlx_array sinks,
    const mlx_stream s) {
  MLXC_OP(
      res,
      mx::fast::scaled_dot_product_attention(
          arr(queries),
          arr(keys),
          arr(values),
          scale,
          cstr(mask_mode, "mask_mode"),
          opt_arr(mask_arr),
          opt_arr(sinks),
          /* force_fused = */ false,
          strm(s)))
}

// ============================================================== quantized

extern "C" int mlx_quantized_matmul(
    mlx_array* res,
    const mlx_array x,
    const mlx_array w,
    const mlx_array scales,
    const mlx_array biases,
    bool transpose,
    mlx_optional_int group_size,
    mlx_optional_int bits,
    const char* mode,
    const mlx_stream s) {
  MLXC_OP(
      res,
      mx::quantized_matmul(
          arr(x),
          arr(w),
          arr(scales),
          opt_arr(biases),
          transpose,
          to_opt(group_size),
          to_opt(bits),
          cstr(mode, "mode"),
          strm(s)))
}

extern "C" int mlx_dequantize(
    mlx_array* res,
    const mlx_array w,
    const mlx_array scales,
    const mlx_array biases,
    mlx_optional_int group_size,
    mlx_optional_int bits,
    const char* mode,
    const mlx_array global_scale,
    mlx_optional_dtype dtype,
    const mlx_stream s) {
  MLXC_OP(
      res,
      mx::dequantize(
          arr(w),
          arr(scales),
          opt_arr(biases),
          to_opt(group_size),
          to_opt(bits),
          cstr(mode, "mode"),
          opt_arr(global_scale),
          to_opt(dtype),
          strm(s)))
}

extern "C" int mlx_quantize(
    mlx_vector_array* res,
    const mlx_array w,
    mlx_optional_int group_size,
    mlx_optional_int bits,
    const char* mode,
    const mlx_array global_scale,
    const mlx_stream s) {
  MLXC_TRY
  set_out(
      res,
      mx::quantize(
          arr(w),
          to_opt(group_size),
          to_opt(bits),
          cstr(mode, "mode"),
          opt_arr(global_scale),
          strm(s)));
  return 0;
  MLXC_CATCH(1)
}

// ================================================================= random

extern "C" int mlx_random_seed(uint64_t seed) {
  MLXC_TRY
  mx::random::seed(seed);
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_random_key(mlx_array* res, uint64_t seed) {
  MLXC_OP(res, mx::random::key(seed))
}

extern "C" int mlx_random_split(
    mlx_array* res_0, mlx_array* res_1, const mlx_array key, const mlx_stream s) {
  MLXC_TRY
  if (!res_0 || !res_1) throw std::invalid_argument("NULL output pointer");
  auto keys = mx::random::split(arr(key), strm(s));
  set_arr(res_0, std::move(keys.first));
  set_arr(res_1, std::move(keys.second));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_random_categorical(
    mlx_array* res,
    const mlx_array logits,
    int axis,
    const mlx_array key,
    const mlx_stream s) {
  MLXC_OP(
      res, mx::random::categorical(arr(logits), axis, opt_arr(key), strm(s)))
}

extern "C" int mlx_random_uniform(
    mlx_array* res,
    const mlx_array low,
    const mlx_array high,
    const int* shape,
    size_t shape_num,
    mlx_dtype dtype,
    const mlx_array key,
    const mlx_stream s) {
  MLXC_OP(
      res,
      mx::random::uniform(
          arr(low),
          arr(high),
          to_shape(shape, shape_num),
          to_cpp(dtype),
          opt_arr(key),
          strm(s)))
}

extern "C" int mlx_random_normal(
    mlx_array* res,
    const int* shape,
    size_t shape_num,
    mlx_dtype dtype,
    float loc,
    float scale,
    const mlx_array key,
    const mlx_stream s) {
  MLXC_OP(
      res,
      mx::random::normal(
          to_shape(shape, shape_num),
          to_cpp(dtype),
          loc,
          scale,
          opt_arr(key),
          strm(s)))
}
