// Core array operations (mlx/ops.h): elementwise, linear algebra, shape,
// slicing, creation and reductions.
#include "mlx/ops.h"

#include "internal.h"

using namespace mlxc;

// One-result op: evaluate EXPR (may throw) and store it into *res following
// the out-param rule. Returns 0, or 1 after calling the error handler.
#define MLXC_OP(res, expr) \
  MLXC_TRY                 \
  set_arr(res, (expr));    \
  return 0;                \
  MLXC_CATCH(1)

#define MLXC_UNARY(cname, cppfn)                                          \
  extern "C" int cname(mlx_array* res, const mlx_array a, const mlx_stream s) { \
    MLXC_OP(res, mx::cppfn(arr(a), strm(s)))                              \
  }

#define MLXC_BINARY(cname, cppfn)                                         \
  extern "C" int cname(                                                   \
      mlx_array* res, const mlx_array a, const mlx_array b, const mlx_stream s) { \
    MLXC_OP(res, mx::cppfn(arr(a), arr(b), strm(s)))                      \
  }

// ============================================================ elementwise

MLXC_BINARY(mlx_add, add)
MLXC_BINARY(mlx_subtract, subtract)
MLXC_BINARY(mlx_multiply, multiply)
MLXC_BINARY(mlx_divide, divide)
MLXC_BINARY(mlx_maximum, maximum)
MLXC_BINARY(mlx_minimum, minimum)
MLXC_BINARY(mlx_power, power)
MLXC_BINARY(mlx_greater_equal, greater_equal)
MLXC_BINARY(mlx_greater, greater)
MLXC_BINARY(mlx_less, less)
MLXC_BINARY(mlx_less_equal, less_equal)
MLXC_BINARY(mlx_equal, equal)
MLXC_BINARY(mlx_not_equal, not_equal)
MLXC_BINARY(mlx_logical_and, logical_and)
MLXC_BINARY(mlx_logical_or, logical_or)
MLXC_BINARY(mlx_matmul, matmul)

MLXC_UNARY(mlx_sigmoid, sigmoid)
MLXC_UNARY(mlx_exp, exp)
MLXC_UNARY(mlx_log, log)
MLXC_UNARY(mlx_negative, negative)
MLXC_UNARY(mlx_square, square)
MLXC_UNARY(mlx_sqrt, sqrt)
MLXC_UNARY(mlx_rsqrt, rsqrt)
MLXC_UNARY(mlx_tanh, tanh)
MLXC_UNARY(mlx_abs, abs)
MLXC_UNARY(mlx_logical_not, logical_not)
MLXC_UNARY(mlx_transpose, transpose)
MLXC_UNARY(mlx_copy, copy)
MLXC_UNARY(mlx_stop_gradient, stop_gradient)
MLXC_UNARY(mlx_zeros_like, zeros_like)

extern "C" int mlx_where(
    mlx_array* res,
    const mlx_array condition,
    const mlx_array x,
    const mlx_array y,
    const mlx_stream s) {
  MLXC_OP(res, mx::where(arr(condition), arr(x), arr(y), strm(s)))
}

// ========================================================= linalg / shape

extern "C" int mlx_addmm(
    mlx_array* res,
    const mlx_array c,
    const mlx_array a,
    const mlx_array b,
    float alpha,
    float beta,
    const mlx_stream s) {
  MLXC_OP(res, mx::addmm(arr(c), arr(a), arr(b), alpha, beta, strm(s)))
}

extern "C" int mlx_reshape(
    mlx_array* res,
    const mlx_array a,
    const int* shape,
    size_t shape_num,
    const mlx_stream s) {
  MLXC_OP(res, mx::reshape(arr(a), to_shape(shape, shape_num), strm(s)))
}

extern "C" int mlx_transpose_axes(
    mlx_array* res,
    const mlx_array a,
    const int* axes,
    size_t axes_num,
    const mlx_stream s) {
  MLXC_OP(res, mx::transpose(arr(a), to_ints(axes, axes_num), strm(s)))
}

extern "C" int mlx_swapaxes(
    mlx_array* res, const mlx_array a, int axis1, int axis2, const mlx_stream s) {
  MLXC_OP(res, mx::swapaxes(arr(a), axis1, axis2, strm(s)))
}

extern "C" int mlx_expand_dims(
    mlx_array* res, const mlx_array a, int axis, const mlx_stream s) {
  MLXC_OP(res, mx::expand_dims(arr(a), axis, strm(s)))
}

extern "C" int mlx_squeeze_axis(
    mlx_array* res, const mlx_array a, int axis, const mlx_stream s) {
  MLXC_OP(res, mx::squeeze(arr(a), axis, strm(s)))
}

extern "C" int mlx_flatten(
    mlx_array* res,
    const mlx_array a,
    int start_axis,
    int end_axis,
    const mlx_stream s) {
  MLXC_OP(res, mx::flatten(arr(a), start_axis, end_axis, strm(s)))
}

extern "C" int mlx_broadcast_to(
    mlx_array* res,
    const mlx_array a,
    const int* shape,
    size_t shape_num,
    const mlx_stream s) {
  MLXC_OP(res, mx::broadcast_to(arr(a), to_shape(shape, shape_num), strm(s)))
}

extern "C" int mlx_contiguous(
    mlx_array* res, const mlx_array a, bool allow_col_major, const mlx_stream s) {
  MLXC_OP(res, mx::contiguous(arr(a), allow_col_major, strm(s)))
}

extern "C" int mlx_astype(
    mlx_array* res, const mlx_array a, mlx_dtype dtype, const mlx_stream s) {
  MLXC_OP(res, mx::astype(arr(a), to_cpp(dtype), strm(s)))
}

// ================================================================ slicing

extern "C" int mlx_slice(
    mlx_array* res,
    const mlx_array a,
    const int* start,
    size_t start_num,
    const int* stop,
    size_t stop_num,
    const int* strides,
    size_t strides_num,
    const mlx_stream s) {
  MLXC_OP(
      res,
      mx::slice(
          arr(a),
          to_shape(start, start_num),
          to_shape(stop, stop_num),
          to_shape(strides, strides_num),
          strm(s)))
}

extern "C" int mlx_slice_dynamic(
    mlx_array* res,
    const mlx_array a,
    const mlx_array start,
    const int* axes,
    size_t axes_num,
    const int* slice_size,
    size_t slice_size_num,
    const mlx_stream s) {
  MLXC_OP(
      res,
      mx::slice(
          arr(a),
          arr(start),
          to_ints(axes, axes_num),
          to_shape(slice_size, slice_size_num),
          strm(s)))
}

extern "C" int mlx_slice_update(
    mlx_array* res,
    const mlx_array src,
    const mlx_array update,
    const int* start,
    size_t start_num,
    const int* stop,
    size_t stop_num,
    const int* strides,
    size_t strides_num,
    const mlx_stream s) {
  MLXC_OP(
      res,
      mx::slice_update(
          arr(src),
          arr(update),
          to_shape(start, start_num),
          to_shape(stop, stop_num),
          to_shape(strides, strides_num),
          strm(s)))
}

extern "C" int mlx_slice_update_dynamic(
    mlx_array* res,
    const mlx_array src,
    const mlx_array update,
    const mlx_array start,
    const int* axes,
    size_t axes_num,
    const mlx_stream s) {
  MLXC_OP(
      res,
      mx::slice_update(
          arr(src), arr(update), arr(start), to_ints(axes, axes_num), strm(s)))
}

extern "C" int mlx_concatenate_axis(
    mlx_array* res,
    const mlx_vector_array arrays,
    int axis,
    const mlx_stream s) {
  MLXC_OP(res, mx::concatenate(vec(arrays), axis, strm(s)))
}

extern "C" int mlx_take_axis(
    mlx_array* res,
    const mlx_array a,
    const mlx_array indices,
    int axis,
    const mlx_stream s) {
  MLXC_OP(res, mx::take(arr(a), arr(indices), axis, strm(s)))
}

extern "C" int mlx_take(
    mlx_array* res,
    const mlx_array a,
    const mlx_array indices,
    const mlx_stream s) {
  MLXC_OP(res, mx::take(arr(a), arr(indices), strm(s)))
}

extern "C" int mlx_take_along_axis(
    mlx_array* res,
    const mlx_array a,
    const mlx_array indices,
    int axis,
    const mlx_stream s) {
  MLXC_OP(res, mx::take_along_axis(arr(a), arr(indices), axis, strm(s)))
}

extern "C" int mlx_put_along_axis(
    mlx_array* res,
    const mlx_array a,
    const mlx_array indices,
    const mlx_array values,
    int axis,
    const mlx_stream s) {
  MLXC_OP(
      res, mx::put_along_axis(arr(a), arr(indices), arr(values), axis, strm(s)))
}

// =============================================================== creation

extern "C" int mlx_zeros(
    mlx_array* res,
    const int* shape,
    size_t shape_num,
    mlx_dtype dtype,
    const mlx_stream s) {
  MLXC_OP(res, mx::zeros(to_shape(shape, shape_num), to_cpp(dtype), strm(s)))
}

extern "C" int mlx_ones(
    mlx_array* res,
    const int* shape,
    size_t shape_num,
    mlx_dtype dtype,
    const mlx_stream s) {
  MLXC_OP(res, mx::ones(to_shape(shape, shape_num), to_cpp(dtype), strm(s)))
}

extern "C" int mlx_full(
    mlx_array* res,
    const int* shape,
    size_t shape_num,
    const mlx_array vals,
    mlx_dtype dtype,
    const mlx_stream s) {
  MLXC_OP(
      res,
      mx::full(to_shape(shape, shape_num), arr(vals), to_cpp(dtype), strm(s)))
}

extern "C" int mlx_arange(
    mlx_array* res,
    double start,
    double stop,
    double step,
    mlx_dtype dtype,
    const mlx_stream s) {
  MLXC_OP(res, mx::arange(start, stop, step, to_cpp(dtype), strm(s)))
}

// ============================================================= reductions

#define MLXC_AXIS_KEEP(cname, cppfn)                               \
  extern "C" int cname(                                            \
      mlx_array* res,                                              \
      const mlx_array a,                                           \
      int axis,                                                    \
      bool keepdims,                                               \
      const mlx_stream s) {                                        \
    MLXC_OP(res, mx::cppfn(arr(a), axis, keepdims, strm(s)))       \
  }

#define MLXC_ALL_KEEP(cname, cppfn)                                          \
  extern "C" int cname(                                                      \
      mlx_array* res, const mlx_array a, bool keepdims, const mlx_stream s) { \
    MLXC_OP(res, mx::cppfn(arr(a), keepdims, strm(s)))                       \
  }

MLXC_AXIS_KEEP(mlx_argmax_axis, argmax)
MLXC_AXIS_KEEP(mlx_max_axis, max)
MLXC_AXIS_KEEP(mlx_min_axis, min)
MLXC_AXIS_KEEP(mlx_sum_axis, sum)
MLXC_AXIS_KEEP(mlx_mean_axis, mean)
MLXC_AXIS_KEEP(mlx_logsumexp_axis, logsumexp)
MLXC_ALL_KEEP(mlx_sum, sum)
MLXC_ALL_KEEP(mlx_max, max)

extern "C" int mlx_softmax_axis(
    mlx_array* res, const mlx_array a, int axis, bool precise, const mlx_stream s) {
  MLXC_OP(res, mx::softmax(arr(a), axis, precise, strm(s)))
}

extern "C" int mlx_argpartition_axis(
    mlx_array* res, const mlx_array a, int kth, int axis, const mlx_stream s) {
  MLXC_OP(res, mx::argpartition(arr(a), kth, axis, strm(s)))
}

extern "C" int mlx_argsort_axis(
    mlx_array* res, const mlx_array a, int axis, const mlx_stream s) {
  MLXC_OP(res, mx::argsort(arr(a), axis, strm(s)))
}

extern "C" int mlx_sort_axis(
    mlx_array* res, const mlx_array a, int axis, const mlx_stream s) {
  MLXC_OP(res, mx::sort(arr(a), axis, strm(s)))
}

extern "C" int mlx_topk_axis(
    mlx_array* res, const mlx_array a, int k, int axis, const mlx_stream s) {
  MLXC_OP(res, mx::topk(arr(a), k, axis, strm(s)))
}

extern "C" int mlx_cumsum(
    mlx_array* res,
    const mlx_array a,
    int axis,
    bool reverse,
    bool inclusive,
    const mlx_stream s) {
  MLXC_OP(res, mx::cumsum(arr(a), axis, reverse, inclusive, strm(s)))
}
