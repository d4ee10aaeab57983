// Closures and compilation (mlx-c's closure.h and compile.h): a closure holds
// a C function pointer and its payload; mlx_compile wraps it in
// mlx::core::compile. No JS ever runs here: the functions are native
// (ffi/native/kernels/), and MLX calls them only while tracing, on the thread
// that applies the compiled closure.
#include <functional>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "mlx/compile.h"

#include "internal.h"

using namespace mlxc;

namespace {

using Fn = std::function<std::vector<mx::array>(const std::vector<mx::array>&)>;

Fn& fn(mlx_closure c) {
  if (!c.ctx) throw_empty("mlx_closure");
  return *static_cast<Fn*>(c.ctx);
}

} // namespace

extern "C" int mlx_closure_free(mlx_closure cls) {
  delete static_cast<Fn*>(cls.ctx);
  return 0;
}

// As mlx-c: the payload is owned (and `dtor` run) from the start, also when
// building the closure fails; the input vector is a fresh copy, `res` starts
// empty, a non-zero status becomes an exception (and so an error from
// mlx_closure_apply).
extern "C" mlx_closure mlx_closure_new_func_payload(
    int (*fun)(mlx_vector_array*, const mlx_vector_array, void*),
    void* payload,
    void (*dtor)(void*)) {
  MLXC_TRY
  std::shared_ptr<void> owned(payload, [dtor](void* p) {
    if (dtor) dtor(p);
  });
  if (!fun) throw std::invalid_argument("NULL closure function");
  Fn body = [fun, owned](const std::vector<mx::array>& inputs) {
    mlx_vector_array input{new std::vector<mx::array>(inputs)};
    mlx_vector_array res{nullptr};
    int status = fun(&res, input, owned.get());
    mlx_vector_array_free(input);
    std::unique_ptr<std::vector<mx::array>> out(
        static_cast<std::vector<mx::array>*>(res.ctx));
    if (status) throw std::runtime_error("mlx_closure returned a non-zero value");
    if (!out) throw_empty("mlx_vector_array");
    return std::move(*out);
  };
  return mlx_closure{new Fn(std::move(body))};
  MLXC_CATCH(mlx_closure{nullptr})
}

extern "C" int mlx_closure_apply(
    mlx_vector_array* res, mlx_closure cls, const mlx_vector_array input) {
  MLXC_TRY
  set_out(res, fn(cls)(vec(input)));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_compile(mlx_closure* res, const mlx_closure fun, bool shapeless) {
  MLXC_TRY
  set_out(res, mx::compile(fn(fun), shapeless));
  return 0;
  MLXC_CATCH(1)
}
