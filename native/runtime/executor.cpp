// The plan executor: validates a plan once, then runs its ops in order over slot pointers resolved
// per run (arena from a pool, caller inputs/outputs, constants). See sparq/plan.h.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <string>

#include "sparq/aligned.h"
#include "sparq/conv.h"
#include "sparq/error.h"
#include "sparq/plan.h"
#include "sparq/plan_ops.h"
#include "sparq/sgemm.h"

namespace sparq {

namespace {

Error bad_plan(const std::string& message) { return invalid_argument("Invalid execution plan: " + message); }

const char* op_name(OpCode c) {
  switch (c) {
    case OpCode::copy: return "Copy";
    case OpCode::linear: return "Linear";
    case OpCode::matmul: return "MatMul";
    case OpCode::add: return "Add";
    case OpCode::sub: return "Sub";
    case OpCode::mul: return "Mul";
    case OpCode::div: return "Div";
    case OpCode::pow: return "Pow";
    case OpCode::equal: return "Equal";
    case OpCode::sqrt: return "Sqrt";
    case OpCode::erf: return "Erf";
    case OpCode::tanh: return "Tanh";
    case OpCode::relu: return "Relu";
    case OpCode::sigmoid: return "Sigmoid";
    case OpCode::gelu: return "Gelu";
    case OpCode::clip: return "Clip";
    case OpCode::softmax: return "Softmax";
    case OpCode::layer_norm: return "LayerNormalization";
    case OpCode::reduce_mean: return "ReduceMean";
    case OpCode::transpose: return "Transpose";
    case OpCode::gather: return "Gather";
    case OpCode::slice: return "Slice";
    case OpCode::concat: return "Concat";
    case OpCode::split: return "Split";
    case OpCode::expand: return "Expand";
    case OpCode::cast: return "Cast";
    case OpCode::where: return "Where";
    case OpCode::dynamic_quantize_linear: return "DynamicQuantizeLinear";
    case OpCode::quantize_linear: return "QuantizeLinear";
    case OpCode::dequantize_linear: return "DequantizeLinear";
    case OpCode::matmul_integer: return "MatMulInteger";
    case OpCode::gemm: return "Gemm";
    default: break;
  }
  if (const PlanOpHandler* h = plan_op_handler(c)) return h->name;
  if (is_conv_op(static_cast<int32_t>(c))) return conv_op_name(static_cast<int32_t>(c));
  return detail::ext_op_name(c);
}

bool is_binary(OpCode c) { return c >= OpCode::add && c <= OpCode::equal; }
bool is_unary(OpCode c) { return c >= OpCode::sqrt && c <= OpCode::gelu; }

BinaryOp binary_of(OpCode c) {
  switch (c) {
    case OpCode::add: return BinaryOp::add;
    case OpCode::sub: return BinaryOp::sub;
    case OpCode::mul: return BinaryOp::mul;
    case OpCode::div: return BinaryOp::div;
    case OpCode::pow: return BinaryOp::pow;
    default: return BinaryOp::equal;
  }
}

UnaryOp unary_of(OpCode c) {
  switch (c) {
    case OpCode::sqrt: return UnaryOp::sqrt;
    case OpCode::erf: return UnaryOp::erf;
    case OpCode::tanh: return UnaryOp::tanh;
    case OpCode::relu: return UnaryOp::relu;
    case OpCode::sigmoid: return UnaryOp::sigmoid;
    default: return UnaryOp::gelu;
  }
}

// [outer, channels, inner] of a quantize/dequantize over `shape` with `count` scale values.
void quant_split(const Shape& shape, int64_t axis, int64_t count, int64_t& outer, int64_t& channels, int64_t& inner) {
  if (count == 1) {
    outer = shape.numel();
    channels = 1;
    inner = 1;
    return;
  }
  outer = shape.prod(0, static_cast<int>(axis));
  channels = shape[static_cast<int>(axis)];
  inner = shape.prod(static_cast<int>(axis) + 1, shape.rank);
}

}  // namespace

struct Plan::Arena {
  void* data = nullptr;
  size_t bytes = 0;
  explicit Arena(size_t size) : bytes(size) {
    if (size > 0) data = aligned_allocate(size);
  }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena() { aligned_release(data, bytes); }
};

Plan::Plan(std::vector<PlanSlot> slots, std::vector<PlanOp> ops, std::vector<ConstantRef> constants, size_t arena_bytes,
           int input_count, int output_count)
    : slots_(std::move(slots)), ops_(std::move(ops)), constants_(std::move(constants)), arena_bytes_(arena_bytes),
      input_count_(input_count), output_count_(output_count) {
  if (input_count < 0 || output_count < 0) throw bad_plan("negative input or output count");
  input_slots_.assign(static_cast<size_t>(input_count), -1);
  output_slots_.assign(static_cast<size_t>(output_count), -1);
  for (size_t s = 0; s < slots_.size(); ++s) {
    const PlanSlot& slot = slots_[s];
    const size_t bytes = slot.bytes();
    const std::string where = "slot " + std::to_string(s);
    switch (slot.kind) {
      case SlotKind::arena:
        if (slot.index < 0 || slot.index % 64 != 0 || static_cast<size_t>(slot.index) > arena_bytes_ ||
            bytes > arena_bytes_ - static_cast<size_t>(slot.index))
          throw bad_plan(where + " lies outside the arena");
        break;
      case SlotKind::input:
      case SlotKind::output: {
        auto& table = slot.kind == SlotKind::input ? input_slots_ : output_slots_;
        if (slot.index < 0 || slot.index >= static_cast<int64_t>(table.size())) throw bad_plan(where + " names a missing input/output");
        int32_t& first = table[static_cast<size_t>(slot.index)];
        if (first < 0)
          first = static_cast<int32_t>(s);
        else if (slots_[static_cast<size_t>(first)].bytes() != bytes)
          throw bad_plan(where + " disagrees in size with another view of the same buffer");
        break;
      }
      case SlotKind::constant:
        if (slot.index < 0 || slot.index >= static_cast<int64_t>(constants_.size())) throw bad_plan(where + " names a missing constant");
        if (constants_[static_cast<size_t>(slot.index)].bytes < bytes) throw bad_plan(where + " is larger than its constant");
        break;
      default:
        throw bad_plan(where + " has an unknown storage kind");
    }
  }
  for (int i = 0; i < input_count; ++i)
    if (input_slots_[static_cast<size_t>(i)] < 0) throw bad_plan("input " + std::to_string(i) + " has no slot");
  for (int i = 0; i < output_count; ++i)
    if (output_slots_[static_cast<size_t>(i)] < 0) throw bad_plan("output " + std::to_string(i) + " has no slot");
  for (const PlanOp& op : ops_) validate_op(op);
}

Plan::~Plan() {
  for (Arena* a : pool_) delete a;
}

Plan::Arena* Plan::acquire_arena() const {
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (!pool_.empty()) {
      Arena* a = pool_.back();
      pool_.pop_back();
      return a;
    }
  }
  return new Arena(arena_bytes_);
}

void Plan::release_arena(Arena* a) const {
  std::lock_guard<std::mutex> lock(pool_mutex_);
  pool_.push_back(a);
}

void Plan::validate_op(const PlanOp& op) const {
  const std::string name = op_name(op.code);
  auto fail = [&](const std::string& why) -> Error { return bad_plan(name + " op: " + why); };
  auto slot_ok = [&](int32_t s) { return s >= 0 && static_cast<size_t>(s) < slots_.size(); };
  auto need = [&](size_t n_in, size_t n_in_max, size_t n_out) {
    if (op.inputs.size() < n_in || op.inputs.size() > n_in_max) throw fail("wrong number of inputs");
    if (op.outputs.size() != n_out) throw fail("wrong number of outputs");
    for (size_t i = 0; i < op.inputs.size(); ++i)
      if (!(slot_ok(op.inputs[i]) || (i >= n_in && op.inputs[i] == -1))) throw fail("input slot out of range");
    for (int32_t s : op.outputs) {
      if (!slot_ok(s)) throw fail("output slot out of range");
      SlotKind k = slots_[static_cast<size_t>(s)].kind;
      if (k == SlotKind::input || k == SlotKind::constant) throw fail("writes to an input or a constant");
    }
  };
  auto in = [&](size_t i) -> const PlanSlot& { return slots_[static_cast<size_t>(op.inputs[i])]; };
  auto out = [&](size_t i) -> const PlanSlot& { return slots_[static_cast<size_t>(op.outputs[i])]; };
  auto has = [&](size_t i) { return i < op.inputs.size() && op.inputs[i] >= 0; };
  auto axis_at = [&](size_t k, int rank) {
    if (op.ints.size() <= k || op.ints[k] < 0 || op.ints[k] >= std::max(rank, 1)) throw fail("axis out of range");
    return op.ints[k];
  };
  auto same_numel = [&](const PlanSlot& a, const PlanSlot& b) {
    if (a.shape.numel() != b.shape.numel()) throw fail("input and output sizes differ");
  };
  auto f32 = [&](const PlanSlot& s) {
    if (s.dtype != DType::float32) throw fail("expects float32");
  };

  const OpCode c = op.code;
  if (c == OpCode::copy) {
    need(1, 1, 1);
    if (in(0).bytes() != out(0).bytes()) throw fail("sizes differ");
  } else if (c == OpCode::linear) {
    need(1, 2, 1);
    if (!op.weights) throw fail("has no weights");
    f32(in(0));
    f32(out(0));
    const int64_t K = op.weights->K(), N = op.weights->N();
    const Shape& x = in(0).shape;
    if (x.rank < 1 || x[x.rank - 1] != K) throw fail("x's last dim is not the weights' K");
    if (out(0).shape.numel() != x.numel() / std::max<int64_t>(K, 1) * N) throw fail("output size is not M·N");
    if (has(1) && (in(1).dtype != DType::float32 || in(1).shape.numel() != N)) throw fail("bias is not N floats");
    if (op.ints.empty() || op.ints[0] < 0 || op.ints[0] > 2) throw fail("unknown activation");
  } else if (c == OpCode::matmul) {
    need(2, 2, 1);
    f32(in(0));
    f32(in(1));
    f32(out(0));
    if (matmul_output_shape(in(0).shape, in(1).shape) != out(0).shape) throw fail("output shape mismatch");
  } else if (is_binary(c)) {
    need(2, 2, 1);
    if (in(0).dtype != in(1).dtype) throw fail("operand dtypes differ");
    if (broadcast_shapes(in(0).shape, in(1).shape) != out(0).shape) throw fail("output shape mismatch");
    const DType want = c == OpCode::equal ? DType::boolean : in(0).dtype;
    if (out(0).dtype != want) throw fail("wrong output dtype");
  } else if (is_unary(c)) {
    need(1, 1, 1);
    same_numel(in(0), out(0));
    if (in(0).dtype != out(0).dtype) throw fail("dtypes differ");
  } else if (c == OpCode::clip) {
    need(1, 1, 1);
    same_numel(in(0), out(0));
    if (in(0).dtype != out(0).dtype) throw fail("dtypes differ");
    if (op.floats.size() != 2) throw fail("needs two bounds");
  } else if (c == OpCode::softmax) {
    need(1, 1, 1);
    f32(in(0));
    f32(out(0));
    same_numel(in(0), out(0));
    axis_at(0, in(0).shape.rank);
    if (op.ints.size() != 2) throw fail("needs axis and the opset < 13 flag");
  } else if (c == OpCode::layer_norm) {
    // outputs: Y, then Mean and InvStdDev (slot -1 when not requested)
    if (op.outputs.size() != 3) throw fail("needs three output slots (-1 for absent)");
    if (op.inputs.size() < 2 || op.inputs.size() > 3) throw fail("wrong number of inputs");
    for (size_t i = 0; i < op.inputs.size(); ++i)
      if (!(slot_ok(op.inputs[i]) || (i == 2 && op.inputs[i] == -1))) throw fail("input slot out of range");
    for (size_t i = 0; i < 3; ++i) {
      if (i > 0 && op.outputs[i] == -1) continue;
      if (!slot_ok(op.outputs[i])) throw fail("output slot out of range");
      const SlotKind k = slots_[static_cast<size_t>(op.outputs[i])].kind;
      if (k == SlotKind::input || k == SlotKind::constant) throw fail("writes to an input or a constant");
      f32(out(i));
    }
    f32(in(0));
    f32(in(1));
    same_numel(in(0), out(0));
    const int64_t axis = axis_at(0, in(0).shape.rank);
    const int64_t rows = in(0).shape.prod(0, static_cast<int>(axis));
    for (size_t i = 1; i < 3; ++i)
      if (op.outputs[i] != -1 && out(i).shape.numel() != rows) throw fail("mean/inv-std outputs must hold one value per row");
    const int64_t cols = in(0).shape.prod(static_cast<int>(axis), in(0).shape.rank);
    if (in(1).shape.numel() != cols || (has(2) && (in(2).dtype != DType::float32 || in(2).shape.numel() != cols)))
      throw fail("scale/bias size is not the normalized size");
    if (op.floats.size() != 1) throw fail("needs epsilon");
  } else if (c == OpCode::reduce_mean) {
    need(1, 1, 1);
    f32(in(0));
    f32(out(0));
    for (int64_t a : op.ints)
      if (a < 0 || a >= in(0).shape.rank) throw fail("axis out of range");
    const Shape r = reduce_output_shape(in(0).shape, op.ints.data(), static_cast<int>(op.ints.size()), false);
    if (r.numel() != out(0).shape.numel() || (op.ints.empty() && in(0).shape.rank > 0 && out(0).shape.numel() != 1))
      throw fail("output size mismatch");
  } else if (c == OpCode::transpose) {
    need(1, 1, 1);
    if (static_cast<int>(op.ints.size()) != in(0).shape.rank) throw fail("perm has the wrong length");
    if (transpose_output_shape(in(0).shape, op.ints.data()) != out(0).shape || in(0).dtype != out(0).dtype)
      throw fail("output shape mismatch");
  } else if (c == OpCode::gather) {
    need(2, 2, 1);
    if (in(1).dtype != DType::int64 && in(1).dtype != DType::int32) throw fail("indices must be int64 or int32");
    const int64_t axis = axis_at(0, in(0).shape.rank);
    if (in(0).shape.rank < 1) throw fail("data must have rank >= 1");
    const Shape r = gather_output_shape(in(0).shape, axis, in(1).shape);
    if (r.numel() != out(0).shape.numel() || in(0).dtype != out(0).dtype) throw fail("output shape mismatch");
  } else if (c == OpCode::slice) {
    need(1, 1, 1);
    const Shape& x = in(0).shape;
    const Shape& y = out(0).shape;
    if (x.rank != y.rank || static_cast<int>(op.ints.size()) != 2 * x.rank || in(0).dtype != out(0).dtype)
      throw fail("starts/steps do not match the rank");
    for (int a = 0; a < x.rank; ++a) {
      const int64_t start = op.ints[static_cast<size_t>(a)], step = op.ints[static_cast<size_t>(x.rank + a)];
      if (step == 0) throw fail("step is 0");
      if (y[a] == 0) continue;
      const int64_t last = start + (y[a] - 1) * step;
      if (start < 0 || start >= x[a] || last < 0 || last >= x[a]) throw fail("reads outside the input");
    }
  } else if (c == OpCode::concat) {
    if (op.inputs.empty() || op.outputs.size() != 1) throw fail("needs inputs and one output");
    need(op.inputs.size(), op.inputs.size(), 1);
    std::vector<Shape> shapes;
    for (size_t i = 0; i < op.inputs.size(); ++i) {
      if (in(i).dtype != out(0).dtype) throw fail("dtypes differ");
      shapes.push_back(in(i).shape);
    }
    const int64_t axis = axis_at(0, out(0).shape.rank);
    if (concat_output_shape(shapes.data(), static_cast<int>(shapes.size()), axis) != out(0).shape) throw fail("output shape mismatch");
  } else if (c == OpCode::split) {
    if (op.outputs.empty()) throw fail("needs outputs");
    need(1, 1, op.outputs.size());
    const Shape& x = in(0).shape;
    const int64_t axis = axis_at(0, x.rank);
    int64_t total = 0;
    for (size_t i = 0; i < op.outputs.size(); ++i) {
      Shape y = out(i).shape;
      if (y.rank != x.rank || out(i).dtype != in(0).dtype) throw fail("output rank/dtype mismatch");
      for (int a = 0; a < x.rank; ++a)
        if (a != axis && y[a] != x[a]) throw fail("output dims mismatch");
      total += y[static_cast<int>(axis)];
    }
    if (total != x[static_cast<int>(axis)]) throw fail("sizes do not cover the axis");
  } else if (c == OpCode::expand) {
    need(2, 2, 1);
    if (!broadcasts_to(in(0).shape, out(0).shape) || in(0).dtype != out(0).dtype) throw fail("input does not broadcast to the output");
  } else if (c == OpCode::cast) {
    need(1, 1, 1);
    same_numel(in(0), out(0));
  } else if (c == OpCode::where) {
    need(3, 3, 1);
    if (in(0).dtype != DType::boolean || in(1).dtype != in(2).dtype || out(0).dtype != in(1).dtype) throw fail("dtype mismatch");
    if (where_output_shape(in(0).shape, in(1).shape, in(2).shape) != out(0).shape) throw fail("output shape mismatch");
  } else if (c == OpCode::dynamic_quantize_linear) {
    need(1, 1, 3);
    f32(in(0));
    if (out(0).dtype != DType::uint8 || out(1).dtype != DType::float32 || out(2).dtype != DType::uint8 ||
        out(1).shape.numel() != 1 || out(2).shape.numel() != 1)
      throw fail("output dtypes/sizes mismatch");
    same_numel(in(0), out(0));
  } else if (c == OpCode::quantize_linear || c == OpCode::dequantize_linear) {
    need(2, 3, 1);
    same_numel(in(0), out(0));
    if (in(1).dtype != DType::float32) throw fail("scale must be float32");
    const int64_t count = in(1).shape.numel();
    if (count != 1) {
      const int64_t axis = axis_at(0, in(0).shape.rank);
      if (in(0).shape[static_cast<int>(axis)] != count) throw fail("scale size is not the axis dim");
    }
    if (has(2) && in(2).shape.numel() != count) throw fail("zero point size differs from scale");
    if (c == OpCode::quantize_linear) {
      f32(in(0));
      if (out(0).dtype != DType::uint8 && out(0).dtype != DType::int8) throw fail("output must be uint8 or int8");
      if (has(2) && in(2).dtype != out(0).dtype) throw fail("zero point dtype differs from output");
    } else {
      f32(out(0));
      if (has(2) && in(2).dtype != in(0).dtype) throw fail("zero point dtype differs from input");
    }
  } else if (c == OpCode::matmul_integer) {
    need(2, 4, 1);
    if (out(0).dtype != DType::int32) throw fail("output must be int32");
    if (matmul_output_shape(in(0).shape, in(1).shape) != out(0).shape) throw fail("output shape mismatch");
    if (has(2) && in(2).dtype != in(0).dtype) throw fail("a_zero_point dtype differs from A");
    if (has(3) && in(3).dtype != in(1).dtype) throw fail("b_zero_point dtype differs from B");
    const Shape& a = in(0).shape;
    const Shape& b = in(1).shape;
    const int64_t M = a.rank >= 2 ? a[a.rank - 2] : 1, N = b.rank >= 2 ? b[b.rank - 1] : 1;
    if (has(2) && in(2).shape.numel() != 1 && in(2).shape.numel() != M) throw fail("a_zero_point size");
    if (has(3) && in(3).shape.numel() != 1 && in(3).shape.numel() != N) throw fail("b_zero_point size");
  } else if (c == OpCode::gemm) {
    need(2, 3, 1);
    f32(in(0));
    f32(in(1));
    f32(out(0));
    if (op.ints.size() != 2 || op.floats.size() != 2) throw fail("needs transA, transB, alpha, beta");
    const Shape& a = in(0).shape;
    const Shape& b = in(1).shape;
    if (a.rank != 2 || b.rank != 2) throw fail("A and B must be 2-D");
    const int64_t M = op.ints[0] ? a[1] : a[0], K = op.ints[0] ? a[0] : a[1];
    const int64_t Kb = op.ints[1] ? b[1] : b[0], N = op.ints[1] ? b[0] : b[1];
    if (K != Kb || out(0).shape != Shape{M, N}) throw fail("shapes do not multiply to the output");
    if (has(2) && (in(2).dtype != DType::float32 || !broadcasts_to(in(2).shape, out(0).shape))) throw fail("C does not broadcast to the output");
  } else if (is_conv_op(static_cast<int32_t>(c))) {
    validate_conv_op(op, slots_);
  } else if (const PlanOpHandler* h = plan_op_handler(c)) {
    h->validate(op, slots_);
  } else if (static_cast<int32_t>(c) >= 100 && static_cast<int32_t>(c) < 200) {
    detail::validate_ext_op(op, slots_);
  } else {
    throw bad_plan("unknown op code " + std::to_string(static_cast<int>(c)));
  }
}

void Plan::run(const void* const* inputs, void* const* outputs, int threads) const {
  Arena* arena = acquire_arena();
  struct Release {
    const Plan* plan;
    Arena* arena;
    ~Release() { plan->release_arena(arena); }
  } release{this, arena};
  std::vector<void*> ptr(slots_.size());
  char* base = static_cast<char*>(arena->data);
  for (size_t s = 0; s < slots_.size(); ++s) {
    const PlanSlot& slot = slots_[s];
    const size_t i = static_cast<size_t>(slot.index);
    switch (slot.kind) {
      case SlotKind::arena: ptr[s] = base + i; break;
      case SlotKind::input: ptr[s] = const_cast<void*>(inputs[i]); break;
      case SlotKind::output: ptr[s] = outputs[i]; break;
      case SlotKind::constant: ptr[s] = const_cast<void*>(constants_[i].data); break;
    }
  }
  OpContext ctx;
  ctx.threads = threads;
  // SPARQ_PROFILE=1 prints the time spent per op type after each run (stderr): a tuning aid.
  // SPARQ_PROFILE_OPS=1 also prints each op with its input shapes as it runs.
  static const bool profile = std::getenv("SPARQ_PROFILE") != nullptr;
  static const bool per_op = std::getenv("SPARQ_PROFILE_OPS") != nullptr;
  if (!profile) {
    for (const PlanOp& op : ops_) run_op(op, ptr.data(), ctx);
    return;
  }
  double per_code[512] = {};  // op codes are below 512 (the binding checks)
  for (const PlanOp& op : ops_) {
    const auto t0 = std::chrono::steady_clock::now();
    run_op(op, ptr.data(), ctx);
    const double dt = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    per_code[static_cast<int>(op.code) & 511] += dt;
    if (per_op) {
      std::string sh;
      for (int32_t i : op.inputs) if (i >= 0) { sh += "["; for (int d = 0; d < slots_[static_cast<size_t>(i)].shape.rank; ++d) sh += std::to_string(slots_[static_cast<size_t>(i)].shape[d]) + ","; sh += "]"; }
      if (op.weights) sh += " W" + std::to_string(op.weights->K()) + "x" + std::to_string(op.weights->N());
      std::fprintf(stderr, "op %s %.4f %s\n", op_name(op.code), dt, sh.c_str());
    }
  }
  std::string line = "sparq profile (ms):";
  for (int c = 0; c < 512; ++c)
    if (per_code[c] > 0) line += std::string(" ") + op_name(static_cast<OpCode>(c)) + "=" + std::to_string(per_code[c]);
  std::fprintf(stderr, "%s\n", line.c_str());
}

void Plan::run_op(const PlanOp& op, void* const* ptr, const OpContext& ctx) const {
  auto in = [&](size_t i) -> const PlanSlot& { return slots_[static_cast<size_t>(op.inputs[i])]; };
  auto out = [&](size_t i) -> const PlanSlot& { return slots_[static_cast<size_t>(op.outputs[i])]; };
  auto ip = [&](size_t i) -> const void* {
    return i < op.inputs.size() && op.inputs[i] >= 0 ? ptr[op.inputs[i]] : nullptr;
  };
  auto op_ = [&](size_t i) -> void* { return ptr[op.outputs[i]]; };
  const float* fx = static_cast<const float*>(ip(0));
  switch (op.code) {
    case OpCode::copy:
      if (ip(0) != op_(0)) std::memcpy(op_(0), ip(0), in(0).bytes());
      return;
    case OpCode::linear: {
      const int64_t K = op.weights->K();
      const int64_t M = K > 0 ? in(0).shape.numel() / K : 0;
      Epilogue ep;
      ep.bias = static_cast<const float*>(ip(1));
      ep.act = static_cast<Activation>(op.ints[0]);
      op.weights->matmul(fx, M, static_cast<float*>(op_(0)), ep, ctx.threads);
      return;
    }
    case OpCode::matmul:
      matmul_f32(fx, in(0).shape, static_cast<const float*>(ip(1)), in(1).shape, static_cast<float*>(op_(0)), ctx.threads,
                 nullptr, ctx.isa);
      return;
    case OpCode::add: case OpCode::sub: case OpCode::mul: case OpCode::div: case OpCode::pow: case OpCode::equal:
      binary(binary_of(op.code), in(0).dtype, ip(0), in(0).shape, ip(1), in(1).shape, op_(0), ctx);
      return;
    case OpCode::sqrt: case OpCode::erf: case OpCode::tanh: case OpCode::relu: case OpCode::sigmoid: case OpCode::gelu:
      unary(unary_of(op.code), in(0).dtype, ip(0), op_(0), in(0).shape.numel(), ctx);
      return;
    case OpCode::clip: {
      const DType t = in(0).dtype;
      const float lo_f = op.floats[0], hi_f = op.floats[1];
      const int32_t lo_i = static_cast<int32_t>(std::max<double>(lo_f, std::numeric_limits<int32_t>::min()));
      const int32_t hi_i = static_cast<int32_t>(std::min<double>(hi_f, std::numeric_limits<int32_t>::max()));
      const int64_t lo_l = static_cast<int64_t>(std::max<double>(lo_f, -9.2e18)), hi_l = static_cast<int64_t>(std::min<double>(hi_f, 9.2e18));
      const void* lo = t == DType::float32 ? static_cast<const void*>(&lo_f) : t == DType::int32 ? static_cast<const void*>(&lo_i) : &lo_l;
      const void* hi = t == DType::float32 ? static_cast<const void*>(&hi_f) : t == DType::int32 ? static_cast<const void*>(&hi_i) : &hi_l;
      clip(t, ip(0), op_(0), in(0).shape.numel(), lo, hi, ctx);
      return;
    }
    case OpCode::softmax: {
      const Shape& s = in(0).shape;
      const int a = static_cast<int>(op.ints[0]);
      if (op.ints[1] != 0)  // opset < 13: softmax over the flattened dims[a:]
        softmax(fx, static_cast<float*>(op_(0)), s.prod(0, a), s.prod(a, s.rank), 1, false, ctx);
      else
        softmax(fx, static_cast<float*>(op_(0)), s.prod(0, a), s.rank ? s[a] : 1, s.prod(a + 1, s.rank), false, ctx);
      return;
    }
    case OpCode::layer_norm: {
      const Shape& s = in(0).shape;
      const int a = static_cast<int>(op.ints[0]);
      layer_norm(fx, static_cast<float*>(op_(0)), s.prod(0, a), s.prod(a, s.rank), static_cast<const float*>(ip(1)),
                 static_cast<const float*>(ip(2)), op.floats[0],
                 op.outputs[1] >= 0 ? static_cast<float*>(op_(1)) : nullptr,
                 op.outputs[2] >= 0 ? static_cast<float*>(op_(2)) : nullptr, ctx);
      return;
    }
    case OpCode::reduce_mean:
      reduce_axes(ReduceOp::mean, fx, in(0).shape, op.ints.data(), static_cast<int>(op.ints.size()), static_cast<float*>(op_(0)), ctx);
      return;
    case OpCode::transpose:
      transpose(in(0).dtype, ip(0), in(0).shape, op.ints.data(), op_(0), ctx);
      return;
    case OpCode::gather:
      gather(in(0).dtype, ip(0), in(0).shape, op.ints[0], in(1).dtype, ip(1), in(1).shape, op_(0), ctx);
      return;
    case OpCode::slice: {
      SlicePlan plan;
      const int r = in(0).shape.rank;
      plan.out = out(0).shape;
      for (int a = 0; a < r; ++a) {
        plan.start[a] = op.ints[static_cast<size_t>(a)];
        plan.step[a] = op.ints[static_cast<size_t>(r + a)];
      }
      slice(in(0).dtype, ip(0), in(0).shape, plan, op_(0), ctx);
      return;
    }
    case OpCode::concat: {
      std::vector<const void*> srcs(op.inputs.size());
      std::vector<Shape> shapes(op.inputs.size());
      for (size_t i = 0; i < op.inputs.size(); ++i) {
        srcs[i] = ip(i);
        shapes[i] = in(i).shape;
      }
      concat(out(0).dtype, srcs.data(), shapes.data(), static_cast<int>(srcs.size()), op.ints[0], op_(0), ctx);
      return;
    }
    case OpCode::split: {
      std::vector<void*> dsts(op.outputs.size());
      std::vector<int64_t> sizes(op.outputs.size());
      for (size_t i = 0; i < op.outputs.size(); ++i) {
        dsts[i] = op_(i);
        sizes[i] = out(i).shape[static_cast<int>(op.ints[0])];
      }
      split(in(0).dtype, ip(0), in(0).shape, op.ints[0], sizes.data(), static_cast<int>(sizes.size()), dsts.data(), ctx);
      return;
    }
    case OpCode::expand:
      expand(in(0).dtype, ip(0), in(0).shape, op_(0), out(0).shape, ctx);
      return;
    case OpCode::cast:
      cast(in(0).dtype, out(0).dtype, ip(0), op_(0), in(0).shape.numel(), ctx);
      return;
    case OpCode::where:
      where(in(1).dtype, static_cast<const uint8_t*>(ip(0)), in(0).shape, ip(1), in(1).shape, ip(2), in(2).shape, op_(0), ctx);
      return;
    case OpCode::dynamic_quantize_linear:
      dynamic_quantize_linear(fx, in(0).shape.numel(), static_cast<uint8_t*>(op_(0)), static_cast<float*>(op_(1)),
                              static_cast<uint8_t*>(op_(2)), ctx);
      return;
    case OpCode::quantize_linear: case OpCode::dequantize_linear: {
      int64_t outer, channels, inner;
      quant_split(in(0).shape, op.ints.empty() ? 0 : op.ints[0], in(1).shape.numel(), outer, channels, inner);
      if (op.code == OpCode::quantize_linear)
        quantize_linear(fx, outer, channels, inner, static_cast<const float*>(ip(1)), out(0).dtype, ip(2), op_(0), ctx);
      else
        dequantize_linear(ip(0), in(0).dtype, outer, channels, inner, static_cast<const float*>(ip(1)), ip(2),
                          static_cast<float*>(op_(0)), ctx);
      return;
    }
    case OpCode::gemm: {
      const Shape& a = in(0).shape;
      const Shape& b = in(1).shape;
      const bool ta = op.ints[0] != 0, tb = op.ints[1] != 0;
      const int64_t M = out(0).shape[0], N = out(0).shape[1], K = ta ? a[0] : a[1];
      float beta = op.floats[1];
      if (ip(2) && beta != 0.0f)
        expand(DType::float32, ip(2), in(2).shape, op_(0), out(0).shape, ctx);
      else
        beta = 0.0f;
      sgemm(ta, tb, M, N, K, op.floats[0], fx, a[1], static_cast<const float*>(ip(1)), b[1], beta,
            static_cast<float*>(op_(0)), N, ctx.threads, nullptr, ctx.isa);
      return;
    }
    case OpCode::matmul_integer: {
      const int64_t azc = ip(2) ? in(2).shape.numel() : 0, bzc = ip(3) ? in(3).shape.numel() : 0;
      matmul_integer(in(0).dtype, ip(0), in(0).shape, in(1).dtype, ip(1), in(1).shape, ip(2), azc, ip(3), bzc,
                     static_cast<int32_t*>(op_(0)), ctx);
      return;
    }
    default:
      if (is_conv_op(static_cast<int32_t>(op.code)))
        run_conv_op(op, slots_, ptr, ctx);
      else if (const PlanOpHandler* h = plan_op_handler(op.code))
        h->run(op, slots_, ptr, ctx);
      else  // validate_op admitted the code: one of the wider op set's
        detail::run_ext_op(op, slots_, ptr, ctx);
      return;
  }
}

}  // namespace sparq
