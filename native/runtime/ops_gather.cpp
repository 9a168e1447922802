// GatherElements and GatherND (sparq/ops_indexing.h) on any dtype, and their plan ops (233, 234):
//   gather_elements: inputs [data, indices], ints [axis]
//   gather_nd:       inputs [data, indices], ints [batch_dims]
#include <string>
#include <vector>

#include "ops_gather_scatter_common.h"
#include "sparq/ops_indexing.h"
#include "sparq/plan_ops.h"

namespace sparq {

namespace {

int64_t norm_axis(int64_t axis, int rank, const char* op) {
  if (axis < -rank || axis >= rank) throw invalid_argument(std::string(op) + ": axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

}  // namespace

void gather_elements(DType dtype, const void* data, const Shape& ds, int64_t axis, DType itype, const void* indices,
                     const Shape& is, void* out, const OpContext& ctx) {
  (void)ctx;
  detail::check_index_type(itype, "GatherElements");
  if (ds.rank != is.rank || ds.rank < 1) throw invalid_argument("GatherElements: data and indices must have the same rank >= 1");
  const int a = static_cast<int>(norm_axis(axis, ds.rank, "GatherElements"));
  for (int d = 0; d < ds.rank; ++d)
    if (d != a && is[d] > ds[d]) throw invalid_argument("GatherElements: indices " + is.str() + " exceed data " + ds.str() + " off the axis");
  const int64_t n = is.numel(), dim = ds[a];
  for (int64_t i = 0; i < n; ++i) detail::wrap_index(detail::index_at(itype, indices, i), dim, "GatherElements");
  const size_t es = dtype_size(dtype);
  int64_t st[kMaxRank];
  contiguous_strides(ds, st);
  int64_t coord[kMaxRank] = {};
  const char* src = static_cast<const char*>(data);
  char* dst = static_cast<char*>(out);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (int d = 0; d < ds.rank; ++d) off += (d == a ? detail::wrap_index(detail::index_at(itype, indices, i), dim, "GatherElements") : coord[d]) * st[d];
    detail::copy_element(dst + static_cast<size_t>(i) * es, src + static_cast<size_t>(off) * es, es);
    detail::next_index(coord, is);
  }
}

Shape gather_nd_output_shape(const Shape& ds, const Shape& is, int64_t b) {
  if (is.rank < 1 || ds.rank < 1) throw invalid_argument("GatherND: data and indices must have rank >= 1");
  const int64_t k = is[is.rank - 1];
  if (b < 0 || b >= std::min(ds.rank, is.rank)) throw invalid_argument("GatherND: batch_dims " + std::to_string(b) + " is out of range");
  if (k < 1 || b + k > ds.rank) throw invalid_argument("GatherND: the index tuples of " + std::to_string(k) + " do not fit data " + ds.str());
  for (int d = 0; d < b; ++d)
    if (ds[d] != is[d]) throw invalid_argument("GatherND: batch dims of data " + ds.str() + " and indices " + is.str() + " differ");
  int64_t dims[kMaxRank];
  int r = 0;
  for (int d = 0; d + 1 < is.rank; ++d) dims[r++] = is[d];
  for (int d = static_cast<int>(b + k); d < ds.rank; ++d) {
    if (r >= kMaxRank) throw invalid_argument("GatherND: the output would have rank above 8");
    dims[r++] = ds[d];
  }
  return Shape::of(dims, r);
}

void gather_nd(DType dtype, const void* data, const Shape& ds, DType itype, const void* indices, const Shape& is,
               int64_t b, void* out, const OpContext& ctx) {
  (void)ctx;
  detail::check_index_type(itype, "GatherND");
  gather_nd_output_shape(ds, is, b);
  const int k = static_cast<int>(is[is.rank - 1]);
  const int bd = static_cast<int>(b);
  const int64_t tuples = is.numel() / k;                 // every index tuple
  const int64_t per_batch = tuples / std::max<int64_t>(1, ds.prod(0, bd));
  const int64_t slice = ds.prod(bd + k, ds.rank);        // elements per gathered slice
  int64_t st[kMaxRank];
  contiguous_strides(ds, st);
  for (int64_t t = 0; t < tuples; ++t)
    for (int j = 0; j < k; ++j) detail::wrap_index(detail::index_at(itype, indices, t * k + j), ds[bd + j], "GatherND");
  const size_t es = dtype_size(dtype);
  const char* src = static_cast<const char*>(data);
  char* dst = static_cast<char*>(out);
  for (int64_t t = 0; t < tuples; ++t) {
    // batch offset: the tuple's position among the batch dims of indices (= those of data)
    int64_t off = (per_batch > 0 ? t / per_batch : 0) * (bd > 0 ? st[bd - 1] : 0);
    for (int j = 0; j < k; ++j) off += detail::wrap_index(detail::index_at(itype, indices, t * k + j), ds[bd + j], "GatherND") * st[bd + j];
    std::memcpy(dst + static_cast<size_t>(t * slice) * es, src + static_cast<size_t>(off) * es, static_cast<size_t>(slice) * es);
  }
}

namespace {

void validate_gather(const PlanOp& op, const std::vector<PlanSlot>& slots, bool nd) {
  PlanOpCheck c(op, slots, nd ? "GatherND" : "GatherElements");
  c.arity(2, 2, 1, 1);
  const PlanSlot &d = c.in(0), &i = c.in(1), &o = c.out(0);
  if (i.dtype != DType::int64 && i.dtype != DType::int32) throw c.fail("indices must be int64 or int32");
  if (o.dtype != d.dtype) throw c.fail("output dtype differs from data");
  if (nd) {
    c.shape(o, gather_nd_output_shape(d.shape, i.shape, c.ints(0)), "output");
    return;
  }
  const int64_t a = c.ints(0);
  if (d.shape.rank != i.shape.rank || a < 0 || a >= d.shape.rank) throw c.fail("rank or axis mismatch");
  for (int k = 0; k < d.shape.rank; ++k)
    if (k != a && i.shape[k] > d.shape[k]) throw c.fail("indices exceed data off the axis");
  c.shape(o, i.shape, "output");
}

void run_gather(const PlanOp& op, const std::vector<PlanSlot>& slots, void* const* ptr, const OpContext& ctx) {
  const PlanSlot& d = slots[static_cast<size_t>(op.inputs[0])];
  const PlanSlot& i = slots[static_cast<size_t>(op.inputs[1])];
  void* out = ptr[op.outputs[0]];
  if (op.code == OpCode::gather_nd)
    gather_nd(d.dtype, ptr[op.inputs[0]], d.shape, i.dtype, ptr[op.inputs[1]], i.shape, op.ints[0], out, ctx);
  else
    gather_elements(d.dtype, ptr[op.inputs[0]], d.shape, op.ints[0], i.dtype, ptr[op.inputs[1]], i.shape, out, ctx);
}

}  // namespace

SPARQ_REGISTER_PLAN_OP(gather_elements, OpCode::gather_elements,
                       (PlanOpHandler{"GatherElements", [](const PlanOp& op, const std::vector<PlanSlot>& s) { validate_gather(op, s, false); }, run_gather}));
SPARQ_REGISTER_PLAN_OP(gather_nd, OpCode::gather_nd,
                       (PlanOpHandler{"GatherND", [](const PlanOp& op, const std::vector<PlanSlot>& s) { validate_gather(op, s, true); }, run_gather}));

}  // namespace sparq
