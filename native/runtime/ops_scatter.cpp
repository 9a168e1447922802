// ScatterElements and ScatterND (sparq/ops_indexing.h), with the opset-16/18 reductions, and their
// plan ops (235, 236):
//   scatter_elements: inputs [data, indices, updates], ints [axis, reduction]
//   scatter_nd:       inputs [data, indices, updates], ints [reduction]
#include <algorithm>
#include <string>
#include <vector>

#include "ops_gather_scatter_common.h"
#include "sparq/ops_indexing.h"
#include "sparq/plan_ops.h"

namespace sparq {

namespace {

template <typename T>
void combine(T* dst, const T* src, int64_t n, ScatterReduction r) {
  for (int64_t i = 0; i < n; ++i) {
    switch (r) {
      case ScatterReduction::add: dst[i] = static_cast<T>(dst[i] + src[i]); break;
      case ScatterReduction::mul: dst[i] = static_cast<T>(dst[i] * src[i]); break;
      case ScatterReduction::max: dst[i] = std::max(dst[i], src[i]); break;
      case ScatterReduction::min: dst[i] = std::min(dst[i], src[i]); break;
      default: dst[i] = src[i]; break;
    }
  }
}

// dst[0..n) (op)= src[0..n) for elements of `dtype`.
void apply(DType dtype, void* dst, const void* src, int64_t n, ScatterReduction r) {
  if (r == ScatterReduction::none) {
    std::memcpy(dst, src, static_cast<size_t>(n) * dtype_size(dtype));
    return;
  }
  switch (dtype) {
    case DType::float32: return combine(static_cast<float*>(dst), static_cast<const float*>(src), n, r);
    case DType::int32: return combine(static_cast<int32_t*>(dst), static_cast<const int32_t*>(src), n, r);
    case DType::int64: return combine(static_cast<int64_t*>(dst), static_cast<const int64_t*>(src), n, r);
    case DType::int8: return combine(static_cast<int8_t*>(dst), static_cast<const int8_t*>(src), n, r);
    case DType::uint8: return combine(static_cast<uint8_t*>(dst), static_cast<const uint8_t*>(src), n, r);
    default: throw Error("ERR_UNSUPPORTED_DTYPE", std::string("Scatter reductions do not support ") + dtype_name(dtype));
  }
}

void check_reduction(DType dtype, ScatterReduction r, const char* op) {
  if (static_cast<int32_t>(r) < 0 || static_cast<int32_t>(r) > 4) throw invalid_argument(std::string(op) + ": unknown reduction");
  if (r != ScatterReduction::none && (dtype == DType::boolean))
    throw Error("ERR_UNSUPPORTED_DTYPE", std::string(op) + ": reductions need a numeric dtype, not bool");
}

void copy_unless_same(void* out, const void* data, size_t bytes) {
  if (out != data) std::memmove(out, data, bytes);
}

}  // namespace

void scatter_elements(DType dtype, const void* data, const Shape& ds, int64_t axis, DType itype, const void* indices,
                      const Shape& is, const void* updates, ScatterReduction r, void* out, const OpContext& ctx) {
  (void)ctx;
  detail::check_index_type(itype, "ScatterElements");
  check_reduction(dtype, r, "ScatterElements");
  if (ds.rank != is.rank || ds.rank < 1) throw invalid_argument("ScatterElements: data and indices must have the same rank >= 1");
  if (axis < -ds.rank || axis >= ds.rank) throw invalid_argument("ScatterElements: axis " + std::to_string(axis) + " is out of range");
  const int a = static_cast<int>(axis < 0 ? axis + ds.rank : axis);
  for (int d = 0; d < ds.rank; ++d)
    if (d != a && is[d] > ds[d]) throw invalid_argument("ScatterElements: indices " + is.str() + " exceed data " + ds.str() + " off the axis");
  const int64_t n = is.numel(), dim = ds[a];
  for (int64_t i = 0; i < n; ++i) detail::wrap_index(detail::index_at(itype, indices, i), dim, "ScatterElements");
  const size_t es = dtype_size(dtype);
  copy_unless_same(out, data, static_cast<size_t>(ds.numel()) * es);
  int64_t st[kMaxRank];
  contiguous_strides(ds, st);
  int64_t coord[kMaxRank] = {};
  char* dst = static_cast<char*>(out);
  const char* src = static_cast<const char*>(updates);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (int d = 0; d < ds.rank; ++d) off += (d == a ? detail::wrap_index(detail::index_at(itype, indices, i), dim, "ScatterElements") : coord[d]) * st[d];
    apply(dtype, dst + static_cast<size_t>(off) * es, src + static_cast<size_t>(i) * es, 1, r);
    detail::next_index(coord, is);
  }
}

void scatter_nd(DType dtype, const void* data, const Shape& ds, DType itype, const void* indices, const Shape& is,
                const void* updates, ScatterReduction r, void* out, const OpContext& ctx) {
  (void)ctx;
  detail::check_index_type(itype, "ScatterND");
  check_reduction(dtype, r, "ScatterND");
  if (is.rank < 1 || ds.rank < 1) throw invalid_argument("ScatterND: data and indices must have rank >= 1");
  const int64_t k = is[is.rank - 1];
  if (k < 1 || k > ds.rank) throw invalid_argument("ScatterND: index tuples of " + std::to_string(k) + " do not fit data " + ds.str());
  const int kk = static_cast<int>(k);
  const int64_t tuples = is.numel() / k, slice = ds.prod(kk, ds.rank);
  int64_t st[kMaxRank];
  contiguous_strides(ds, st);
  for (int64_t t = 0; t < tuples; ++t)
    for (int j = 0; j < kk; ++j) detail::wrap_index(detail::index_at(itype, indices, t * k + j), ds[j], "ScatterND");
  const size_t es = dtype_size(dtype);
  copy_unless_same(out, data, static_cast<size_t>(ds.numel()) * es);
  char* dst = static_cast<char*>(out);
  const char* src = static_cast<const char*>(updates);
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t off = 0;
    for (int j = 0; j < kk; ++j) off += detail::wrap_index(detail::index_at(itype, indices, t * k + j), ds[j], "ScatterND") * st[j];
    apply(dtype, dst + static_cast<size_t>(off) * es, src + static_cast<size_t>(t * slice) * es, slice, r);
  }
}

namespace {

// updates' shape for ScatterND: indices.shape[:-1] + data.shape[k:]
bool nd_updates_fit(const Shape& ds, const Shape& is, const Shape& us) {
  if (is.rank < 1) return false;
  const int64_t k = is[is.rank - 1];
  if (k < 1 || k > ds.rank || us.rank != is.rank - 1 + ds.rank - static_cast<int>(k)) return false;
  for (int d = 0; d + 1 < is.rank; ++d)
    if (us[d] != is[d]) return false;
  for (int d = static_cast<int>(k); d < ds.rank; ++d)
    if (us[is.rank - 1 + d - static_cast<int>(k)] != ds[d]) return false;
  return true;
}

void validate_scatter(const PlanOp& op, const std::vector<PlanSlot>& slots) {
  const bool nd = op.code == OpCode::scatter_nd;
  PlanOpCheck c(op, slots, nd ? "ScatterND" : "ScatterElements");
  c.arity(3, 3, 1, 1);
  const PlanSlot &d = c.in(0), &i = c.in(1), &u = c.in(2), &o = c.out(0);
  if (i.dtype != DType::int64 && i.dtype != DType::int32) throw c.fail("indices must be int64 or int32");
  if (u.dtype != d.dtype || o.dtype != d.dtype) throw c.fail("data, updates and output dtypes differ");
  c.shape(o, d.shape, "output");
  const int64_t red = c.ints(nd ? 0 : 1);
  if (red < 0 || red > 4) throw c.fail("unknown reduction");
  if (nd) {
    if (!nd_updates_fit(d.shape, i.shape, u.shape)) throw c.fail("updates do not have indices.shape[:-1] + data.shape[k:]");
    return;
  }
  const int64_t a = c.ints(0);
  if (d.shape.rank != i.shape.rank || a < 0 || a >= d.shape.rank) throw c.fail("rank or axis mismatch");
  for (int k = 0; k < d.shape.rank; ++k)
    if (k != a && i.shape[k] > d.shape[k]) throw c.fail("indices exceed data off the axis");
  c.shape(u, i.shape, "updates");
}

void run_scatter(const PlanOp& op, const std::vector<PlanSlot>& slots, void* const* ptr, const OpContext& ctx) {
  const PlanSlot& d = slots[static_cast<size_t>(op.inputs[0])];
  const PlanSlot& i = slots[static_cast<size_t>(op.inputs[1])];
  if (op.code == OpCode::scatter_nd)
    scatter_nd(d.dtype, ptr[op.inputs[0]], d.shape, i.dtype, ptr[op.inputs[1]], i.shape, ptr[op.inputs[2]],
               static_cast<ScatterReduction>(op.ints[0]), ptr[op.outputs[0]], ctx);
  else
    scatter_elements(d.dtype, ptr[op.inputs[0]], d.shape, op.ints[0], i.dtype, ptr[op.inputs[1]], i.shape, ptr[op.inputs[2]],
                     static_cast<ScatterReduction>(op.ints[1]), ptr[op.outputs[0]], ctx);
}

}  // namespace

SPARQ_REGISTER_PLAN_OP(scatter_elements, OpCode::scatter_elements, (PlanOpHandler{"ScatterElements", validate_scatter, run_scatter}));
SPARQ_REGISTER_PLAN_OP(scatter_nd, OpCode::scatter_nd, (PlanOpHandler{"ScatterND", validate_scatter, run_scatter}));

}  // namespace sparq
