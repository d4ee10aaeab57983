// Private helpers shared by the compat library's translation units.
//
// Handle layout (same as mlx-c): every handle's ctx points to a heap C++
// object — mlx_array -> mlx::core::array, mlx_stream -> mlx::core::Stream,
// mlx_device -> mlx::core::Device, mlx_string -> std::string,
// mlx_vector_array -> std::vector<array>, maps -> std::unordered_map<...>.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mlx/array.h"
#include "mlx/device.h"
#include "mlx/dtype.h"
#include "mlx/stream.h"

#include "../mlxc.h"

namespace mlxc {

namespace mx = mlx::core;

using ArrayMap = std::unordered_map<std::string, mx::array>;
using StringMap = std::unordered_map<std::string, std::string>;

// ---------------------------------------------------------------- errors

// Formats "<what> at <file>:<line>" and calls the installed error handler
// (default: print "MLX error: <msg>" and exit(-1), like mlx-c).
void report_error(const char* what, const char* file, int line) noexcept;

// Must be called from inside a catch block: reports the in-flight exception.
void report_current_exception(const char* file, int line) noexcept;

#ifdef __FILE_NAME__
#define MLXC_FILE __FILE_NAME__
#else
#define MLXC_FILE __FILE__
#endif

// try { body } catch -> handler, `return fail;`
#define MLXC_TRY try {
#define MLXC_CATCH(fail)                                  \
  }                                                       \
  catch (...) {                                           \
    ::mlxc::report_current_exception(MLXC_FILE, __LINE__); \
    return fail;                                          \
  }

// --------------------------------------------------------------- accessors

[[noreturn]] inline void throw_empty(const char* what) {
  throw std::runtime_error(std::string("expected a non-empty ") + what);
}

inline mx::array& arr(mlx_array a) {
  if (!a.ctx) throw_empty("mlx_array");
  return *static_cast<mx::array*>(a.ctx);
}

// "May be null" array argument: empty handle -> std::nullopt.
inline std::optional<mx::array> opt_arr(mlx_array a) {
  if (!a.ctx) return std::nullopt;
  return *static_cast<mx::array*>(a.ctx);
}

inline mx::Stream& strm(mlx_stream s) {
  if (!s.ctx) throw_empty("mlx_stream");
  return *static_cast<mx::Stream*>(s.ctx);
}

inline mx::Device& dev(mlx_device d) {
  if (!d.ctx) throw_empty("mlx_device");
  return *static_cast<mx::Device*>(d.ctx);
}

inline std::vector<mx::array>& vec(mlx_vector_array v) {
  if (!v.ctx) throw_empty("mlx_vector_array");
  return *static_cast<std::vector<mx::array>*>(v.ctx);
}

inline ArrayMap& amap(mlx_map_string_to_array m) {
  if (!m.ctx) throw_empty("mlx_map_string_to_array");
  return *static_cast<ArrayMap*>(m.ctx);
}

inline StringMap& smap(mlx_map_string_to_string m) {
  if (!m.ctx) throw_empty("mlx_map_string_to_string");
  return *static_cast<StringMap*>(m.ctx);
}

inline std::string& str(mlx_string s) {
  if (!s.ctx) throw_empty("mlx_string");
  return *static_cast<std::string*>(s.ctx);
}

// Builds a std::string from a C string argument; NULL is an error (mlx-c
// would crash constructing std::string from NULL).
inline std::string cstr(const char* s, const char* what) {
  if (!s) throw std::invalid_argument(std::string("NULL ") + what);
  return std::string(s);
}

// ------------------------------------------------------------ out-params
// ctx == NULL -> allocate; otherwise assign into the existing object.

template <class Handle, class T>
inline void set_out(Handle* out, T&& value) {
  using V = std::decay_t<T>;
  if (!out) throw std::invalid_argument("NULL output pointer");
  if (out->ctx) {
    *static_cast<V*>(out->ctx) = std::forward<T>(value);
  } else {
    out->ctx = new V(std::forward<T>(value));
  }
}

inline void set_arr(mlx_array* out, mx::array value) {
  set_out(out, std::move(value));
}

// ------------------------------------------------------------ conversions

inline mx::Dtype to_cpp(mlx_dtype d) {
  switch (d) {
    case MLX_BOOL: return mx::bool_;
    case MLX_UINT8: return mx::uint8;
    case MLX_UINT16: return mx::uint16;
    case MLX_UINT32: return mx::uint32;
    case MLX_UINT64: return mx::uint64;
    case MLX_INT8: return mx::int8;
    case MLX_INT16: return mx::int16;
    case MLX_INT32: return mx::int32;
    case MLX_INT64: return mx::int64;
    case MLX_FLOAT16: return mx::float16;
    case MLX_FLOAT32: return mx::float32;
    case MLX_FLOAT64: return mx::float64;
    case MLX_BFLOAT16: return mx::bfloat16;
    case MLX_COMPLEX64: return mx::complex64;
  }
  throw std::invalid_argument("unknown mlx_dtype " + std::to_string(int(d)));
}

inline mlx_dtype to_c(mx::Dtype d) {
  switch (d.val()) {
    case mx::Dtype::Val::bool_: return MLX_BOOL;
    case mx::Dtype::Val::uint8: return MLX_UINT8;
    case mx::Dtype::Val::uint16: return MLX_UINT16;
    case mx::Dtype::Val::uint32: return MLX_UINT32;
    case mx::Dtype::Val::uint64: return MLX_UINT64;
    case mx::Dtype::Val::int8: return MLX_INT8;
    case mx::Dtype::Val::int16: return MLX_INT16;
    case mx::Dtype::Val::int32: return MLX_INT32;
    case mx::Dtype::Val::int64: return MLX_INT64;
    case mx::Dtype::Val::float16: return MLX_FLOAT16;
    case mx::Dtype::Val::float32: return MLX_FLOAT32;
    case mx::Dtype::Val::float64: return MLX_FLOAT64;
    case mx::Dtype::Val::bfloat16: return MLX_BFLOAT16;
    case mx::Dtype::Val::complex64: return MLX_COMPLEX64;
  }
  throw std::invalid_argument("unknown MLX dtype");
}

inline mx::Shape to_shape(const int* p, size_t n) {
  if (n == 0) return mx::Shape{};
  if (!p) throw std::invalid_argument("NULL shape pointer with non-zero length");
  return mx::Shape(p, p + n);
}

inline std::vector<int> to_ints(const int* p, size_t n) {
  if (n == 0) return {};
  if (!p) throw std::invalid_argument("NULL int pointer with non-zero length");
  return std::vector<int>(p, p + n);
}

inline std::optional<int> to_opt(mlx_optional_int o) {
  return o.has_value ? std::optional<int>(o.value) : std::nullopt;
}

inline std::optional<float> to_opt(mlx_optional_float o) {
  return o.has_value ? std::optional<float>(o.value) : std::nullopt;
}

inline std::optional<mx::Dtype> to_opt(mlx_optional_dtype o) {
  return o.has_value ? std::optional<mx::Dtype>(to_cpp(o.value)) : std::nullopt;
}

} // namespace mlxc
