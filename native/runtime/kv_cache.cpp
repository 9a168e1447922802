// The kv_store plan op (sparq/kv_cache.h): a strided copy of one step's rows into the cache, registered
// with the executor's op table (sparq/plan_ops.h).
#include "sparq/kv_cache.h"

#include <cstring>
#include <string>

#include "sparq/error.h"
#include "sparq/plan_ops.h"

namespace sparq {

bool kv_store_shapes_ok(const Shape& cache, const Shape& rows) {
  return cache.rank == 4 && rows.rank == 4 && cache[0] == rows[0] && cache[1] == rows[1] && cache[3] == rows[3] &&
         rows[2] <= cache[2];
}

void kv_store(float* cache, const Shape& cache_shape, const float* rows, const Shape& rows_shape, int64_t pos) {
  const int64_t T = cache_shape[2], S = rows_shape[2], D = cache_shape[3];
  if (pos < 0 || pos > T - S)
    throw Error("ERR_INDEX_OUT_OF_RANGE", "Expected a cache position in [0, " + std::to_string(T - S) + "] for " +
                                              std::to_string(S) + " new rows but received " + std::to_string(pos));
  const int64_t planes = cache_shape[0] * cache_shape[1];
  for (int64_t p = 0; p < planes; ++p)
    std::memcpy(cache + (p * T + pos) * D, rows + p * S * D, static_cast<size_t>(S * D) * sizeof(float));
}

namespace {

void validate_kv_store(const PlanOp& op, const std::vector<PlanSlot>& slots) {
  const PlanOpCheck c(op, slots, "KvStore");
  c.arity(3, 3, 0, 0);
  // The cache is written in place: only a caller's buffer may be (never a constant or the arena).
  if (c.in(0).kind != SlotKind::input) throw c.fail("the cache must be a caller's input buffer");
  c.dtype(c.in(0), DType::float32, "the cache");
  c.dtype(c.in(1), DType::float32, "the new rows");
  if (!kv_store_shapes_ok(c.in(0).shape, c.in(1).shape)) throw c.fail("the new rows do not fit the cache");
  c.dtype(c.in(2), DType::int64, "the position");
  if (c.in(2).shape.numel() != 1) throw c.fail("the position must be one value");
}

void run_kv_store(const PlanOp& op, const std::vector<PlanSlot>& slots, void* const* ptr, const OpContext&) {
  const PlanSlot& cache = slots[static_cast<size_t>(op.inputs[0])];
  const PlanSlot& rows = slots[static_cast<size_t>(op.inputs[1])];
  kv_store(static_cast<float*>(ptr[op.inputs[0]]), cache.shape, static_cast<const float*>(ptr[op.inputs[1]]), rows.shape,
           *static_cast<const int64_t*>(ptr[op.inputs[2]]));
}

}  // namespace

SPARQ_REGISTER_PLAN_OP(kv_store, OpCode::kv_store, (PlanOpHandler{"KvStore", validate_kv_store, run_kv_store}));

}  // namespace sparq
