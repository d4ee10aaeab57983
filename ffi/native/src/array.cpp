// Arrays, vectors of arrays, string maps and safetensors I/O.
#include <complex>
#include <cstring>
#include <sstream>

#include "mlx/io.h"
#include "mlx/utils.h" // operator<<(ostream, array)

#include "internal.h"

using namespace mlxc;

// ================================================================= arrays

extern "C" int mlx_array_tostring(mlx_string* str_, const mlx_array a) {
  MLXC_TRY
  std::ostringstream os;
  os << arr(a); // evaluates the array, like mlx-c
  set_out(str_, os.str());
  return 0;
  MLXC_CATCH(1)
}

extern "C" mlx_array mlx_array_new(void) {
  return mlx_array{nullptr};
}

extern "C" int mlx_array_free(mlx_array a) {
  delete static_cast<mx::array*>(a.ctx);
  return 0;
}

extern "C" int mlx_array_set(mlx_array* a, const mlx_array src) {
  MLXC_TRY
  set_arr(a, arr(src));
  return 0;
  MLXC_CATCH(1)
}

extern "C" mlx_array mlx_array_new_bool(bool val) {
  MLXC_TRY
  return mlx_array{new mx::array(val)};
  MLXC_CATCH(mlx_array{nullptr})
}

extern "C" mlx_array mlx_array_new_int(int val) {
  MLXC_TRY
  return mlx_array{new mx::array(val)};
  MLXC_CATCH(mlx_array{nullptr})
}

extern "C" mlx_array mlx_array_new_float32(float val) {
  MLXC_TRY
  return mlx_array{new mx::array(val)};
  MLXC_CATCH(mlx_array{nullptr})
}

extern "C" mlx_array mlx_array_new_float(float val) {
  return mlx_array_new_float32(val);
}

namespace {

// Copies `data` (interpreted as T[size]) into a new array of dtype `dt`.
template <class T>
mx::array copy_typed(const void* data, mx::Shape shape, mx::Dtype dt) {
  size_t n = 1;
  for (auto d : shape) {
    if (d < 0) throw std::invalid_argument("negative dimension in shape");
    n *= static_cast<size_t>(d);
  }
  if (n > 0 && !data) throw std::invalid_argument("NULL data pointer");
  return mx::array(static_cast<const T*>(data), std::move(shape), dt);
}

mx::array copy_data(const void* data, mx::Shape shape, mlx_dtype dtype) {
  mx::Dtype dt = to_cpp(dtype);
  switch (dtype) {
    case MLX_BOOL: return copy_typed<bool>(data, std::move(shape), dt);
    case MLX_UINT8: return copy_typed<uint8_t>(data, std::move(shape), dt);
    case MLX_UINT16: return copy_typed<uint16_t>(data, std::move(shape), dt);
    case MLX_UINT32: return copy_typed<uint32_t>(data, std::move(shape), dt);
    case MLX_UINT64: return copy_typed<uint64_t>(data, std::move(shape), dt);
    case MLX_INT8: return copy_typed<int8_t>(data, std::move(shape), dt);
    case MLX_INT16: return copy_typed<int16_t>(data, std::move(shape), dt);
    case MLX_INT32: return copy_typed<int32_t>(data, std::move(shape), dt);
    case MLX_INT64: return copy_typed<int64_t>(data, std::move(shape), dt);
    case MLX_FLOAT16:
      return copy_typed<mx::float16_t>(data, std::move(shape), dt);
    case MLX_FLOAT32: return copy_typed<float>(data, std::move(shape), dt);
    case MLX_FLOAT64: return copy_typed<double>(data, std::move(shape), dt);
    case MLX_BFLOAT16:
      return copy_typed<mx::bfloat16_t>(data, std::move(shape), dt);
    case MLX_COMPLEX64:
      return copy_typed<mx::complex64_t>(data, std::move(shape), dt);
  }
  throw std::invalid_argument("unknown mlx_dtype");
}

} // namespace

extern "C" mlx_array mlx_array_new_data(
    const void* data, const int* shape, int dim, mlx_dtype dtype) {
  MLXC_TRY
  if (dim < 0) throw std::invalid_argument("negative number of dimensions");
  return mlx_array{new mx::array(
      copy_data(data, to_shape(shape, static_cast<size_t>(dim)), dtype))};
  MLXC_CATCH(mlx_array{nullptr})
}

extern "C" size_t mlx_array_itemsize(const mlx_array a) {
  MLXC_TRY
  return arr(a).itemsize();
  MLXC_CATCH(0)
}

extern "C" size_t mlx_array_size(const mlx_array a) {
  MLXC_TRY
  return arr(a).size();
  MLXC_CATCH(0)
}

extern "C" size_t mlx_array_nbytes(const mlx_array a) {
  MLXC_TRY
  return arr(a).nbytes();
  MLXC_CATCH(0)
}

extern "C" size_t mlx_array_ndim(const mlx_array a) {
  MLXC_TRY
  return arr(a).ndim();
  MLXC_CATCH(0)
}

extern "C" const int* mlx_array_shape(const mlx_array a) {
  MLXC_TRY
  // Borrowed: valid while the array object lives (and is not reassigned).
  return reinterpret_cast<const int*>(arr(a).shape().data());
  MLXC_CATCH(nullptr)
}

extern "C" int mlx_array_dim(const mlx_array a, int dim) {
  MLXC_TRY
  return arr(a).shape(dim);
  MLXC_CATCH(0)
}

extern "C" mlx_dtype mlx_array_dtype(const mlx_array a) {
  MLXC_TRY
  return to_c(arr(a).dtype());
  MLXC_CATCH(MLX_BOOL)
}

extern "C" int mlx_array_eval(mlx_array a) {
  MLXC_TRY
  arr(a).eval();
  return 0;
  MLXC_CATCH(1)
}

// item_*: evaluate (blocking) and read the single element reinterpreted as
// the requested C type — no dtype conversion, exactly like mlx-c.
extern "C" int mlx_array_item_int32(int32_t* res, const mlx_array a) {
  MLXC_TRY
  *res = arr(a).item<int32_t>();
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_array_item_float32(float* res, const mlx_array a) {
  MLXC_TRY
  *res = arr(a).item<float>();
  return 0;
  MLXC_CATCH(1)
}

// data_*: mlx-c returns `arr.data<T>()` without evaluating and documents
// "array must be evaluated, otherwise returns NULL". (Real mlx-c actually
// dereferences a null buffer for an unevaluated array.) Here:
//  - never evaluated (no buffer yet)   -> NULL, no error reported;
//  - evaluation scheduled (async_eval) -> wait for it, then the pointer
//    (mlx-c would hand out a pointer to a buffer still being written);
//  - available                          -> the pointer.
// The pointer is borrowed: valid while the array lives. No dtype check
// (as in mlx-c): the caller must ask for the array's own element type.
namespace {
template <class T>
const T* data_ptr(mlx_array a) {
  mx::array& x = arr(a);
  if (x.status() == mx::array::Status::unscheduled) return nullptr;
  if (!x.is_available()) x.wait();
  if (!x.data_shared_ptr()) return nullptr;
  return x.data<T>();
}
} // namespace

extern "C" const uint8_t* mlx_array_data_uint8(const mlx_array a) {
  MLXC_TRY
  return data_ptr<uint8_t>(a);
  MLXC_CATCH(nullptr)
}

extern "C" const uint32_t* mlx_array_data_uint32(const mlx_array a) {
  MLXC_TRY
  return data_ptr<uint32_t>(a);
  MLXC_CATCH(nullptr)
}

extern "C" const int32_t* mlx_array_data_int32(const mlx_array a) {
  MLXC_TRY
  return data_ptr<int32_t>(a);
  MLXC_CATCH(nullptr)
}

extern "C" const float* mlx_array_data_float32(const mlx_array a) {
  MLXC_TRY
  return data_ptr<float>(a);
  MLXC_CATCH(nullptr)
}

extern "C" int _mlx_array_is_available(bool* res, const mlx_array a) {
  MLXC_TRY
  *res = arr(a).is_available();
  return 0;
  MLXC_CATCH(1)
}

// The flag is set when the array is evaluated (false before).
extern "C" int _mlx_array_is_row_contiguous(bool* res, const mlx_array a) {
  MLXC_TRY
  *res = arr(a).flags().row_contiguous;
  return 0;
  MLXC_CATCH(1)
}

extern "C" int _mlx_array_wait(const mlx_array a) {
  MLXC_TRY
  arr(a).wait();
  return 0;
  MLXC_CATCH(1)
}

// ========================================================== vector_array

extern "C" mlx_vector_array mlx_vector_array_new(void) {
  MLXC_TRY
  return mlx_vector_array{new std::vector<mx::array>()};
  MLXC_CATCH(mlx_vector_array{nullptr})
}

extern "C" mlx_vector_array mlx_vector_array_new_data(
    const mlx_array* data, size_t size) {
  MLXC_TRY
  if (size > 0 && !data) throw std::invalid_argument("NULL data pointer");
  std::vector<mx::array> v;
  v.reserve(size);
  for (size_t i = 0; i < size; i++) v.push_back(arr(data[i]));
  return mlx_vector_array{new std::vector<mx::array>(std::move(v))};
  MLXC_CATCH(mlx_vector_array{nullptr})
}

extern "C" int mlx_vector_array_free(mlx_vector_array v) {
  delete static_cast<std::vector<mx::array>*>(v.ctx);
  return 0;
}

extern "C" int mlx_vector_array_set_data(
    mlx_vector_array* v, const mlx_array* data, size_t size) {
  MLXC_TRY
  if (size > 0 && !data) throw std::invalid_argument("NULL data pointer");
  std::vector<mx::array> items;
  items.reserve(size);
  for (size_t i = 0; i < size; i++) items.push_back(arr(data[i]));
  set_out(v, std::move(items));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_vector_array_append_value(
    mlx_vector_array v, const mlx_array value) {
  MLXC_TRY
  vec(v).push_back(arr(value));
  return 0;
  MLXC_CATCH(1)
}

extern "C" size_t mlx_vector_array_size(mlx_vector_array v) {
  MLXC_TRY
  return vec(v).size();
  MLXC_CATCH(0)
}

extern "C" int mlx_vector_array_get(
    mlx_array* res, const mlx_vector_array v, size_t idx) {
  MLXC_TRY
  set_arr(res, vec(v).at(idx));
  return 0;
  MLXC_CATCH(1)
}

// ================================================================== maps

extern "C" mlx_map_string_to_array mlx_map_string_to_array_new(void) {
  MLXC_TRY
  return mlx_map_string_to_array{new ArrayMap()};
  MLXC_CATCH(mlx_map_string_to_array{nullptr})
}

extern "C" int mlx_map_string_to_array_free(mlx_map_string_to_array m) {
  delete static_cast<ArrayMap*>(m.ctx);
  return 0;
}

extern "C" int mlx_map_string_to_array_insert(
    mlx_map_string_to_array m, const char* key, const mlx_array value) {
  MLXC_TRY
  amap(m).insert_or_assign(cstr(key, "key"), arr(value));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_map_string_to_array_get(
    mlx_array* value, const mlx_map_string_to_array m, const char* key) {
  MLXC_TRY
  auto& map = amap(m);
  auto it = map.find(cstr(key, "key"));
  if (it == map.end()) return 2; // missing key: no handler call
  set_arr(value, it->second);
  return 0;
  MLXC_CATCH(1)
}

extern "C" mlx_map_string_to_string mlx_map_string_to_string_new(void) {
  MLXC_TRY
  return mlx_map_string_to_string{new StringMap()};
  MLXC_CATCH(mlx_map_string_to_string{nullptr})
}

extern "C" int mlx_map_string_to_string_free(mlx_map_string_to_string m) {
  delete static_cast<StringMap*>(m.ctx);
  return 0;
}

extern "C" int mlx_map_string_to_string_insert(
    mlx_map_string_to_string m, const char* key, const char* value) {
  MLXC_TRY
  smap(m).insert_or_assign(cstr(key, "key"), cstr(value, "value"));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_map_string_to_string_get(
    const char** value, const mlx_map_string_to_string m, const char* key) {
  MLXC_TRY
  auto& map = smap(m);
  auto it = map.find(cstr(key, "key"));
  if (it == map.end()) return 2; // missing key: no handler call
  *value = it->second.c_str(); // owned by the map
  return 0;
  MLXC_CATCH(1)
}

// ============================================================ safetensors

// Lazy load: each tensor is an unevaluated array backed by a Load primitive.
// res_0 / res_1 follow the out-param rule (empty -> allocate, else assign).
// Portable callers should pass maps from *_new(): older mlx-c releases
// rejected empty out-maps.
extern "C" int mlx_load_safetensors(
    mlx_map_string_to_array* res_0,
    mlx_map_string_to_string* res_1,
    const char* file,
    const mlx_stream s) {
  MLXC_TRY
  if (!res_0 || !res_1) throw std::invalid_argument("NULL output pointer");
  auto loaded = mx::load_safetensors(cstr(file, "file name"), strm(s));
  set_out(res_0, std::move(loaded.first));
  set_out(res_1, std::move(loaded.second));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_save_safetensors(
    const char* file,
    const mlx_map_string_to_array param,
    const mlx_map_string_to_string metadata) {
  MLXC_TRY
  mx::save_safetensors(cstr(file, "file name"), amap(param), smap(metadata));
  return 0;
  MLXC_CATCH(1)
}
