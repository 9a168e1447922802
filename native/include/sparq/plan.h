// A compiled execution plan for one concrete input signature of a graph (built by TypeScript's
// planner, src/runtime/plan.ts): value slots with fixed shapes and storage, and a list of ops that
// read and write slots. Running a plan is a loop over its ops calling the kernels of ops.h, sgemm.h
// and the packed-weight formats; nothing is allocated per op.
//
// Storage of a slot: an offset into the run's arena (intermediates), the i-th caller input or
// output buffer, or the i-th constant (owned by the caller of the constructor, who keeps it alive).
// Several slots may share storage (reshapes are aliases).
//
// The constructor validates everything memory safety depends on (slot indices, arena extents,
// constant sizes, and for every op that its slot shapes agree with what its kernel will read and
// write), so a wrong plan is an ERR_INVALID_ARGUMENT, never an out-of-bounds access.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "sparq/ops.h"
#include "sparq/packed.h"
#include "sparq/shape.h"

namespace sparq {

// Must match src/runtime/opcodes.ts.
enum class OpCode : int32_t {
  copy = 0,
  linear = 1,
  matmul = 2,
  add = 3, sub = 4, mul = 5, div = 6, pow = 7, equal = 8,
  sqrt = 10, erf = 11, tanh = 12, relu = 13, sigmoid = 14, gelu = 15,
  clip = 16,
  softmax = 20,
  layer_norm = 21,
  reduce_mean = 22,
  transpose = 23,
  gather = 24,
  slice = 25,
  concat = 26,
  split = 27,
  expand = 28,
  cast = 29,
  where = 30,
  dynamic_quantize_linear = 31,
  quantize_linear = 32,
  dequantize_linear = 33,
  matmul_integer = 34,
  gemm = 35,  // Gemm with a runtime B: ints {transA, transB}, floats {alpha, beta}
  // 100-199: the wider op set of ops_ext.h, validated and run by executor_ext.cpp.
  unary_ext = 100,    // ints {UnaryFn}, floats: its params; output bool for isnan/isinf
  binary_ext = 101,   // ints {BinaryFn}
  reduce_ext = 102,   // ints {ReduceFn, axes...} (sorted, distinct)
  arg_reduce = 103,   // ints {is_min, axis, select_last}
  softmax_ext = 104,  // ints {kind (0 softmax, 1 log, 2 hardmax), axis, coerce to 2-D (opset < 13)}
  tile = 105,
  pad = 106,          // ints {mode, begin[rank]}; inputs x, value (optional)
  topk = 107,         // ints {axis, largest, sorted}; outputs values, indices; k = values' dim
  cumsum = 108,       // ints {axis, exclusive, reverse}
  trilu = 109,        // ints {upper, k}
  one_hot = 110,      // ints {axis}; inputs indices, values (off, on); depth = the output's dim
  range = 111,        // inputs start, delta; n = the output's numel
  fill = 112,         // input value (one element): ConstantOfShape at run time
  eye_like = 113,     // ints {k}
  clip_ext = 114,     // inputs x, min (optional), max (optional)
  nll_loss = 115,     // ints {reduction (0 none, 1 sum, 2 mean), has_ignore, ignore_index}; inputs x, target, weight?
  // 200-229: convolutions and pooling (sparq/conv.h, native/runtime/ops_conv_plan.cpp).
  conv = 200, depthwise_conv = 201, max_pool = 202, avg_pool = 203, global_avg_pool = 204, global_max_pool = 205,
  conv_transpose = 206, instance_norm = 207, lrn = 208, conv_nchw = 209, batch_norm = 210,
  // 230-259: recurrent layers and indexing ops, registered by their own files (sparq/plan_ops.h)
  lstm = 230, gru = 231, rnn = 232,
  gather_elements = 233, gather_nd = 234, scatter_elements = 235, scatter_nd = 236,
  resize = 237, depth_to_space = 238, space_to_depth = 239,
  einsum = 240,
  // 260-279: decoding (sparq/kv_cache.h). kv_store writes input 1 [B,H,S,D] into the cache input 0
  // [B,H,T,D] at rows [pos, pos + S), pos = input 2 (int64); no outputs (later readers alias the cache).
  kv_store = 260,
  // cache_attention: inputs Q, K, V, cond (bool, optional), mask (optional); ints {scale_op}; floats
  // {scale, fill}; output [B,H,S,Dv] (sparq/kv_cache.h).
  cache_attention = 261,
};

enum class SlotKind : int32_t { arena = 0, input = 1, output = 2, constant = 3 };

struct PlanSlot {
  DType dtype = DType::float32;
  Shape shape;
  SlotKind kind = SlotKind::arena;
  int64_t index = 0;  // arena byte offset, or input / output / constant index
  size_t bytes() const { return static_cast<size_t>(shape.numel()) * dtype_size(dtype); }
};

struct PlanOp {
  OpCode code = OpCode::copy;
  std::vector<int32_t> inputs;   // slot ids; -1 = optional input absent
  std::vector<int32_t> outputs;  // slot ids
  std::vector<int64_t> ints;     // attributes (axis, perm, slice starts+steps, activation, ...)
  std::vector<float> floats;     // attributes (epsilon, clip bounds)
  std::shared_ptr<const PackedWeights> weights;  // linear and conv only
  // Further packed matrices of ops that multiply by several (a recurrent layer's R per direction).
  std::vector<std::shared_ptr<const PackedWeights>> extra_weights;
};

struct ConstantRef {
  const void* data = nullptr;
  size_t bytes = 0;
};

namespace detail {
// executor_ext.cpp: the op codes 100-199.
const char* ext_op_name(OpCode c);
void validate_ext_op(const PlanOp& op, const std::vector<PlanSlot>& slots);
void run_ext_op(const PlanOp& op, const std::vector<PlanSlot>& slots, void* const* ptr, const OpContext& ctx);
}  // namespace detail

class Plan {
 public:
  // Throws sparq::Error(ERR_INVALID_ARGUMENT) when the plan is inconsistent.
  Plan(std::vector<PlanSlot> slots, std::vector<PlanOp> ops, std::vector<ConstantRef> constants, size_t arena_bytes,
       int input_count, int output_count);
  ~Plan();
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  int input_count() const { return input_count_; }
  int output_count() const { return output_count_; }
  // The slot an input / output index is bound to (its dtype and shape), as validated at construction.
  const PlanSlot& input_slot(int i) const { return slots_[static_cast<size_t>(input_slots_[static_cast<size_t>(i)])]; }
  const PlanSlot& output_slot(int i) const { return slots_[static_cast<size_t>(output_slots_[static_cast<size_t>(i)])]; }
  size_t arena_bytes() const { return arena_bytes_; }
  size_t op_count() const { return ops_.size(); }

  // Runs every op. inputs[i] / outputs[i] must hold input_slot(i).bytes() / output_slot(i).bytes()
  // (the binding checks). Safe to call concurrently: each run takes its own arena from a pool.
  void run(const void* const* inputs, void* const* outputs, int threads) const;

 private:
  struct Arena;
  Arena* acquire_arena() const;
  void release_arena(Arena* a) const;
  void validate_op(const PlanOp& op) const;
  void run_op(const PlanOp& op, void* const* ptr, const OpContext& ctx) const;

  std::vector<PlanSlot> slots_;
  std::vector<PlanOp> ops_;
  std::vector<ConstantRef> constants_;
  std::vector<int32_t> input_slots_, output_slots_;
  size_t arena_bytes_;
  int input_count_, output_count_;
  mutable std::mutex pool_mutex_;
  mutable std::vector<Arena*> pool_;
};

}  // namespace sparq
