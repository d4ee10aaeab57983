// Distributed groups and collectives (mlx-c v0.6.0 mlx/c/distributed_group.h
// and mlx/c/distributed.h) over mlx::core::distributed.
//
// mlx_distributed_group's ctx is a heap mx::distributed::Group (a shared_ptr
// to MLX's GroupImpl). v0.6.0 has no mlx_distributed_group_free (it arrived
// after v0.6.0, together with out-param versions of init and split), so, as
// with a real libmlxc v0.6.0, group handles are never freed: each init/split
// leaks one Group object (16 bytes); the backend itself is cached by MLX.
//
// Error returns follow mlx-c v0.6.0: rank/size return 0, split/init return an
// empty group, is_available returns false, the collectives return 1 — each
// after calling the error handler.
#include <optional>

#include "mlx/distributed/distributed.h"
#include "mlx/distributed/ops.h"

#include "internal.h"

using namespace mlxc;
namespace dist = mlx::core::distributed;

namespace {

dist::Group& grp(mlx_distributed_group g) {
  if (!g.ctx) throw_empty("mlx_distributed_group");
  return *static_cast<dist::Group*>(g.ctx);
}

// "May be null" group argument: empty handle -> std::nullopt, which MLX
// resolves to distributed::init() (backend "any", not strict).
std::optional<dist::Group> opt_grp(mlx_distributed_group g) {
  if (!g.ctx) return std::nullopt;
  return *static_cast<dist::Group*>(g.ctx);
}

mlx_distributed_group new_group(dist::Group g) {
  return mlx_distributed_group{new dist::Group(std::move(g))};
}

} // namespace

// ================================================================= groups

extern "C" int mlx_distributed_group_rank(mlx_distributed_group group) {
  MLXC_TRY
  return grp(group).rank();
  MLXC_CATCH(0)
}

extern "C" int mlx_distributed_group_size(mlx_distributed_group group) {
  MLXC_TRY
  return grp(group).size();
  MLXC_CATCH(0)
}

extern "C" mlx_distributed_group
mlx_distributed_group_split(mlx_distributed_group group, int color, int key) {
  MLXC_TRY
  return new_group(grp(group).split(color, key));
  MLXC_CATCH(mlx_distributed_group{nullptr})
}

extern "C" bool mlx_distributed_is_available(const char* bk) {
  MLXC_TRY
  return bk ? dist::is_available(std::string(bk)) : dist::is_available();
  MLXC_CATCH(false)
}

extern "C" mlx_distributed_group mlx_distributed_init(
    bool strict, const char* bk) {
  MLXC_TRY
  return new_group(bk ? dist::init(strict, std::string(bk)) : dist::init(strict));
  MLXC_CATCH(mlx_distributed_group{nullptr})
}

// ============================================================ collectives

extern "C" int mlx_distributed_all_gather(
    mlx_array* res,
    const mlx_array x,
    const mlx_distributed_group group,
    const mlx_stream S) {
  MLXC_TRY
  set_arr(res, dist::all_gather(arr(x), opt_grp(group), strm(S)));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_distributed_all_max(
    mlx_array* res,
    const mlx_array x,
    const mlx_distributed_group group,
    const mlx_stream s) {
  MLXC_TRY
  set_arr(res, dist::all_max(arr(x), opt_grp(group), strm(s)));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_distributed_all_min(
    mlx_array* res,
    const mlx_array x,
    const mlx_distributed_group group,
    const mlx_stream s) {
  MLXC_TRY
  set_arr(res, dist::all_min(arr(x), opt_grp(group), strm(s)));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_distributed_all_sum(
    mlx_array* res,
    const mlx_array x,
    const mlx_distributed_group group,
    const mlx_stream s) {
  MLXC_TRY
  set_arr(res, dist::all_sum(arr(x), opt_grp(group), strm(s)));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_distributed_recv(
    mlx_array* res,
    const int* shape,
    size_t shape_num,
    mlx_dtype dtype,
    int src,
    const mlx_distributed_group group,
    const mlx_stream s) {
  MLXC_TRY
  set_arr(
      res,
      dist::recv(
          to_shape(shape, shape_num), to_cpp(dtype), src, opt_grp(group), strm(s)));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_distributed_recv_like(
    mlx_array* res,
    const mlx_array x,
    int src,
    const mlx_distributed_group group,
    const mlx_stream s) {
  MLXC_TRY
  set_arr(res, dist::recv_like(arr(x), src, opt_grp(group), strm(s)));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_distributed_send(
    mlx_array* res,
    const mlx_array x,
    int dst,
    const mlx_distributed_group group,
    const mlx_stream s) {
  MLXC_TRY
  set_arr(res, dist::send(arr(x), dst, opt_grp(group), strm(s)));
  return 0;
  MLXC_CATCH(1)
}

extern "C" int mlx_distributed_sum_scatter(
    mlx_array* res,
    const mlx_array x,
    const mlx_distributed_group group,
    const mlx_stream s) {
  MLXC_TRY
  set_arr(res, dist::sum_scatter(arr(x), opt_grp(group), strm(s)));
  return 0;
  MLXC_CATCH(1)
}
