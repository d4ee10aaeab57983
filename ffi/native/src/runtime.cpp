// Error handling, version/strings, devices/streams, memory, eval.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>

#include "mlx/backend/metal/metal.h"
#include "mlx/memory.h"
#include "mlx/transforms.h"
#include "mlx/version.h"

#include "internal.h"

using namespace mlxc;

// ================================================================= errors

namespace {

void default_error_handler(const char* msg, void* /*data*/) {
  // Same observable behaviour as mlx-c's default handler.
  std::printf("MLX error: %s\n", msg);
  std::exit(-1);
}

// Process-global, unsynchronised — as in mlx-c. The data pointer is owned by
// a shared_ptr carrying the caller's dtor, so replacing the handler (or
// process exit) runs the old dtor.
mlx_error_handler_func g_handler = default_error_handler;
std::shared_ptr<void> g_handler_data;

} // namespace

void mlxc::report_error(const char* what, const char* file, int line) noexcept {
  std::string msg;
  try {
    msg = what ? what : "unknown error";
    msg += " at ";
    msg += file;
    msg += ":";
    msg += std::to_string(line);
  } catch (...) {
    // Out of memory while formatting: fall back to the bare message.
    g_handler(what ? what : "unknown error", g_handler_data.get());
    return;
  }
  g_handler(msg.c_str(), g_handler_data.get());
}

void mlxc::report_current_exception(const char* file, int line) noexcept {
  try {
    throw;
  } catch (const std::exception& e) {
    report_error(e.what(), file, line);
  } catch (...) {
    report_error("unknown C++ exception", file, line);
  }
}

extern "C" void mlx_set_error_handler(
    mlx_error_handler_func handler, void* data, void (*dtor)(void*)) {
  // mlx-c semantics: the data pointer is kept only together with a dtor;
  // with dtor == NULL the handler receives data == NULL.
  if (dtor) {
    g_handler_data = std::shared_ptr<void>(data, dtor);
  } else {
    g_handler_data = nullptr;
  }
  g_handler = handler ? handler : default_error_handler;
}

// ========================================================= version, marker

extern "C" const char* mlxc_compat_version(void) {
  static const std::string v =
      std::string("ithaca-mlxc-compat 0.6.0 (mlx ") + mx::version() + ")";
  return v.c_str();
}

extern "C" int mlx_version(mlx_string* str_) {
  MLXC_TRY
  set_out(str_, std::string(mx::version()));
  return 0;
  MLXC_CATCH(1)
}

// ================================================================ strings

extern "C" mlx_string mlx_string_new(void) {
  return mlx_string{nullptr};
}

extern "C" mlx_string mlx_string_new_data(const char* s) {
  MLXC_TRY
  return mlx_string{new std::string(cstr(s, "string"))};
  MLXC_CATCH(mlx_string{nullptr})
}

extern "C" const char* mlx_string_data(mlx_string s) {
  MLXC_TRY
  return str(s).c_str();
  MLXC_CATCH(nullptr)
}

extern "C" int mlx_string_free(mlx_string s) {
  delete static_cast<std::string*>(s.ctx);
  return 0;
}

// ================================================================ devices

extern "C" mlx_device mlx_device_new_type(mlx_device_type type, int index) {
  MLXC_TRY
  mx::Device::DeviceType t;
  switch (type) {
    case MLX_CPU: t = mx::Device::cpu; break;
    case MLX_GPU: t = mx::Device::gpu; break;
    default:
      throw std::invalid_argument(
          "unknown mlx_device_type " + std::to_string(int(type)));
  }
  return mlx_device{new mx::Device(t, index)};
  MLXC_CATCH(mlx_device{nullptr})
}

extern "C" int mlx_device_free(mlx_device d) {
  delete static_cast<mx::Device*>(d.ctx);
  return 0;
}

extern "C" int mlx_get_default_device(mlx_device* d) {
  MLXC_TRY
  set_out(d, mx::Device(mx::default_device()));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_set_default_device(mlx_device d) {
  MLXC_TRY
  mx::set_default_device(dev(d));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_device_is_available(bool* avail, mlx_device d) {
  MLXC_TRY
  *avail = mx::is_available(dev(d));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_metal_is_available(bool* res) {
  MLXC_TRY
  *res = mx::metal::is_available();
  return 0;
  MLXC_CATCH(1)
}

// ================================================================ streams

extern "C" mlx_stream mlx_stream_new_device(mlx_device d) {
  MLXC_TRY
  return mlx_stream{new mx::Stream(mx::new_stream(dev(d)))};
  MLXC_CATCH(mlx_stream{nullptr})
}

extern "C" int mlx_stream_free(mlx_stream s) {
  delete static_cast<mx::Stream*>(s.ctx);
  return 0;
}

extern "C" int mlx_synchronize(mlx_stream s) {
  MLXC_TRY
  mx::synchronize(strm(s));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_get_default_stream(mlx_stream* s, mlx_device d) {
  MLXC_TRY
  set_out(s, mx::default_stream(dev(d)));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_set_default_stream(mlx_stream s) {
  MLXC_TRY
  mx::set_default_stream(strm(s));
  return 0;
  MLXC_CATCH(1)
}

extern "C" mlx_stream mlx_default_cpu_stream_new(void) {
  MLXC_TRY
  return mlx_stream{new mx::Stream(mx::default_stream(mx::Device::cpu))};
  MLXC_CATCH(mlx_stream{nullptr})
}

extern "C" mlx_stream mlx_default_gpu_stream_new(void) {
  MLXC_TRY
  return mlx_stream{new mx::Stream(mx::default_stream(mx::Device::gpu))};
  MLXC_CATCH(mlx_stream{nullptr})
}

// ================================================================= memory

extern "C" int mlx_clear_cache(void) {
  MLXC_TRY
  mx::clear_cache();
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_get_active_memory(size_t* res) {
  MLXC_TRY
  *res = mx::get_active_memory();
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_get_cache_memory(size_t* res) {
  MLXC_TRY
  *res = mx::get_cache_memory();
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_get_memory_limit(size_t* res) {
  MLXC_TRY
  *res = mx::get_memory_limit();
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_get_peak_memory(size_t* res) {
  MLXC_TRY
  *res = mx::get_peak_memory();
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_reset_peak_memory(void) {
  MLXC_TRY
  mx::reset_peak_memory();
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_set_cache_limit(size_t* res, size_t limit) {
  MLXC_TRY
  *res = mx::set_cache_limit(limit);
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_set_memory_limit(size_t* res, size_t limit) {
  MLXC_TRY
  *res = mx::set_memory_limit(limit);
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_set_wired_limit(size_t* res, size_t limit) {
  MLXC_TRY
  *res = mx::set_wired_limit(limit);
  return 0;
  MLXC_CATCH(1)
}

// ============================================================= transforms

extern "C" int mlx_eval(const mlx_vector_array outputs) {
  MLXC_TRY
  mx::eval(vec(outputs));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_async_eval(const mlx_vector_array outputs) {
  MLXC_TRY
  mx::async_eval(vec(outputs));
  return 0;
  MLXC_CATCH(1)
}
