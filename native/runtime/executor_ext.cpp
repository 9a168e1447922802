// Plan ops 100-199 (the op set of ops_ext.h): validation of everything memory safety depends on
// (slot counts, dtypes, and that every kernel reads and writes within its slots' extents), and the
// run-time dispatch. The executor (executor.cpp) hands these codes here.
#include <string>

#include "sparq/error.h"
#include "sparq/ops_ext.h"
#include "sparq/plan.h"

namespace sparq {
namespace detail {

namespace {

bool is_float(DType t) { return t == DType::float32 || t == DType::float64 || t == DType::float16; }

}  // namespace

const char* ext_op_name(OpCode c) {
  switch (c) {
    case OpCode::unary_ext: return "Unary";
    case OpCode::binary_ext: return "Binary";
    case OpCode::reduce_ext: return "Reduce";
    case OpCode::arg_reduce: return "ArgMax/ArgMin";
    case OpCode::softmax_ext: return "Softmax";
    case OpCode::tile: return "Tile";
    case OpCode::pad: return "Pad";
    case OpCode::topk: return "TopK";
    case OpCode::cumsum: return "CumSum";
    case OpCode::trilu: return "Trilu";
    case OpCode::one_hot: return "OneHot";
    case OpCode::range: return "Range";
    case OpCode::fill: return "ConstantOfShape";
    case OpCode::eye_like: return "EyeLike";
    case OpCode::clip_ext: return "Clip";
    case OpCode::nll_loss: return "NegativeLogLikelihoodLoss";
    default: return "unknown";
  }
}

void validate_ext_op(const PlanOp& op, const std::vector<PlanSlot>& slots) {
  const std::string name = ext_op_name(op.code);
  auto fail = [&](const std::string& why) -> Error {
    return invalid_argument("Invalid execution plan: " + name + " op: " + why);
  };
  auto slot_ok = [&](int32_t s) { return s >= 0 && static_cast<size_t>(s) < slots.size(); };
  auto need = [&](size_t n_in, size_t n_in_max, size_t n_out) {
    if (op.inputs.size() < n_in || op.inputs.size() > n_in_max) throw fail("wrong number of inputs");
    if (op.outputs.size() != n_out) throw fail("wrong number of outputs");
    for (size_t i = 0; i < op.inputs.size(); ++i)
      if (!(slot_ok(op.inputs[i]) || (i >= n_in && op.inputs[i] == -1))) throw fail("input slot out of range");
    for (int32_t s : op.outputs) {
      if (!slot_ok(s)) throw fail("output slot out of range");
      const SlotKind k = slots[static_cast<size_t>(s)].kind;
      if (k == SlotKind::input || k == SlotKind::constant) throw fail("writes to an input or a constant");
    }
  };
  auto in = [&](size_t i) -> const PlanSlot& { return slots[static_cast<size_t>(op.inputs[i])]; };
  auto out = [&](size_t i) -> const PlanSlot& { return slots[static_cast<size_t>(op.outputs[i])]; };
  auto has = [&](size_t i) { return i < op.inputs.size() && op.inputs[i] >= 0; };
  auto ints = [&](size_t n) {
    if (op.ints.size() < n) throw fail("too few attributes");
  };
  auto axis = [&](size_t k, int rank) {
    ints(k + 1);
    if (op.ints[k] < 0 || op.ints[k] >= rank) throw fail("axis out of range");
    return static_cast<int>(op.ints[k]);
  };
  auto same = [&](const PlanSlot& a, const PlanSlot& b) {
    if (a.dtype != b.dtype || a.shape.numel() != b.shape.numel()) throw fail("input and output differ in dtype or size");
  };
  auto scalar_of = [&](size_t i, DType t) {
    if (has(i) && (in(i).dtype != t || in(i).shape.numel() != 1)) throw fail("a scalar input has the wrong dtype or size");
  };

  switch (op.code) {
    case OpCode::unary_ext: {
      need(1, 1, 1);
      ints(1);
      const auto fn = static_cast<UnaryFn>(op.ints[0]);
      if (op.ints[0] < 0 || fn >= UnaryFn::count_) throw fail("unknown fn");
      if (in(0).shape.numel() != out(0).shape.numel()) throw fail("sizes differ");
      const bool to_bool = fn == UnaryFn::isnan || fn == UnaryFn::isinf;
      if (out(0).dtype != (to_bool ? DType::boolean : in(0).dtype)) throw fail("wrong output dtype");
      return;
    }
    case OpCode::binary_ext: {
      need(2, 2, 1);
      ints(1);
      const auto fn = static_cast<BinaryFn>(op.ints[0]);
      if (op.ints[0] < 0 || fn >= BinaryFn::count_) throw fail("unknown fn");
      if (in(0).dtype != in(1).dtype && fn != BinaryFn::pow) throw fail("operand dtypes differ");
      if (broadcast_shapes(in(0).shape, in(1).shape) != out(0).shape) throw fail("output shape mismatch");
      const bool to_bool = binary_fn_comparison(fn) || fn == BinaryFn::logical_and || fn == BinaryFn::logical_or ||
                           fn == BinaryFn::logical_xor;
      if (out(0).dtype != (to_bool ? DType::boolean : in(0).dtype)) throw fail("wrong output dtype");
      return;
    }
    case OpCode::reduce_ext: {
      need(1, 1, 1);
      ints(1);
      if (op.ints[0] < 0 || op.ints[0] >= static_cast<int64_t>(ReduceFn::count_)) throw fail("unknown fn");
      if (in(0).dtype != out(0).dtype) throw fail("dtypes differ");
      const Shape& s = in(0).shape;
      bool seen[kMaxRank] = {};
      int64_t kept = 1;
      for (size_t i = 1; i < op.ints.size(); ++i) {
        const int64_t a = op.ints[i];
        if (a < 0 || a >= s.rank || seen[a]) throw fail("bad axes");
        seen[a] = true;
      }
      for (int d = 0; d < s.rank; ++d)
        if (!seen[d]) kept *= s[d];
      if (out(0).shape.numel() != kept) throw fail("output size mismatch");
      return;
    }
    case OpCode::arg_reduce: {
      need(1, 1, 1);
      const int a = axis(1, in(0).shape.rank);
      ints(3);
      const Shape& s = in(0).shape;
      if (s[a] < 1) throw fail("the axis is empty");
      if (out(0).dtype != DType::int64 || out(0).shape.numel() != s.numel() / s[a]) throw fail("output mismatch");
      return;
    }
    case OpCode::softmax_ext: {
      need(1, 1, 1);
      ints(3);
      if (op.ints[0] < 0 || op.ints[0] > 2) throw fail("unknown kind");
      axis(1, std::max(in(0).shape.rank, 1));
      if (!is_float(in(0).dtype)) throw fail("expects a float dtype");
      same(in(0), out(0));
      return;
    }
    case OpCode::tile: {
      need(1, 1, 1);
      const Shape& x = in(0).shape;
      const Shape& y = out(0).shape;
      if (x.rank != y.rank || in(0).dtype != out(0).dtype) throw fail("rank or dtype mismatch");
      for (int d = 0; d < x.rank; ++d)
        if (x[d] == 0 ? y[d] != 0 : y[d] % x[d] != 0) throw fail("output dims are not multiples of the input's");
      return;
    }
    case OpCode::pad: {
      need(1, 2, 1);
      const Shape& x = in(0).shape;
      if (out(0).shape.rank != x.rank || in(0).dtype != out(0).dtype) throw fail("rank or dtype mismatch");
      if (op.ints.size() != static_cast<size_t>(1 + x.rank) || op.ints[0] < 0 || op.ints[0] > 3) throw fail("needs mode and begins");
      scalar_of(1, in(0).dtype);
      if (op.ints[0] != 0 && x.numel() == 0 && out(0).shape.numel() > 0) throw fail("cannot pad an empty input by reflection");
      return;
    }
    case OpCode::topk: {
      need(1, 1, 2);
      ints(3);
      const Shape& x = in(0).shape;
      const int a = axis(0, x.rank);
      const Shape& v = out(0).shape;
      if (v.rank != x.rank || out(1).shape != v || out(0).dtype != in(0).dtype || out(1).dtype != DType::int64)
        throw fail("output shape or dtype mismatch");
      for (int d = 0; d < x.rank; ++d)
        if (d != a && v[d] != x[d]) throw fail("output dims mismatch");
      if (v[a] > x[a]) throw fail("k exceeds the axis");
      return;
    }
    case OpCode::cumsum: {
      need(1, 1, 1);
      ints(3);
      axis(0, in(0).shape.rank);
      same(in(0), out(0));
      return;
    }
    case OpCode::trilu: {
      need(1, 1, 1);
      ints(2);
      if (in(0).shape.rank < 2) throw fail("rank must be at least 2");
      same(in(0), out(0));
      return;
    }
    case OpCode::one_hot: {
      need(2, 2, 1);
      const Shape& idx = in(0).shape;
      const Shape& y = out(0).shape;
      const int a = axis(0, y.rank);
      if (y.rank != idx.rank + 1) throw fail("output rank is not the indices' rank + 1");
      for (int d = 0, j = 0; d < y.rank; ++d) {
        if (d == a) continue;
        if (y[d] != idx[j++]) throw fail("output dims mismatch");
      }
      if (in(1).dtype != out(0).dtype || in(1).shape.numel() != 2) throw fail("values must be two elements of the output's dtype");
      return;
    }
    case OpCode::range: {
      need(2, 2, 1);
      scalar_of(0, out(0).dtype);
      scalar_of(1, out(0).dtype);
      if (out(0).shape.rank != 1) throw fail("output must be 1-D");
      return;
    }
    case OpCode::fill: {
      need(1, 1, 1);
      scalar_of(0, out(0).dtype);
      return;
    }
    case OpCode::eye_like: {
      need(0, 0, 1);
      ints(1);
      if (out(0).shape.rank != 2) throw fail("output must be 2-D");
      return;
    }
    case OpCode::clip_ext: {
      need(1, 3, 1);
      same(in(0), out(0));
      scalar_of(1, in(0).dtype);
      scalar_of(2, in(0).dtype);
      return;
    }
    case OpCode::nll_loss: {
      need(2, 3, 1);
      ints(3);
      const Shape& x = in(0).shape;
      const Shape& t = in(1).shape;
      if (!is_float(in(0).dtype) || out(0).dtype != in(0).dtype) throw fail("expects a float input and output");
      if (in(1).dtype != DType::int64 && in(1).dtype != DType::int32) throw fail("targets must be int64 or int32");
      if (x.rank < 2 || t.rank != x.rank - 1 || t[0] != x[0]) throw fail("input and target shapes disagree");
      for (int d = 2; d < x.rank; ++d)
        if (t[d - 1] != x[d]) throw fail("input and target shapes disagree");
      if (has(2) && (in(2).dtype != in(0).dtype || in(2).shape.numel() != x[1])) throw fail("weight must hold C values");
      if (op.ints[0] < 0 || op.ints[0] > 2) throw fail("unknown reduction");
      if (out(0).shape.numel() != (op.ints[0] == 0 ? t.numel() : 1)) throw fail("output size mismatch");
      return;
    }
    default:
      throw invalid_argument("Invalid execution plan: unknown op code " + std::to_string(static_cast<int>(op.code)));
  }
}

void run_ext_op(const PlanOp& op, const std::vector<PlanSlot>& slots, void* const* ptr, const OpContext& ctx) {
  auto in = [&](size_t i) -> const PlanSlot& { return slots[static_cast<size_t>(op.inputs[i])]; };
  auto out = [&](size_t i) -> const PlanSlot& { return slots[static_cast<size_t>(op.outputs[i])]; };
  auto ip = [&](size_t i) -> const void* { return i < op.inputs.size() && op.inputs[i] >= 0 ? ptr[op.inputs[i]] : nullptr; };
  auto op_ = [&](size_t i) -> void* { return ptr[op.outputs[i]]; };
  switch (op.code) {
    case OpCode::unary_ext:
      return unary_ext(static_cast<UnaryFn>(op.ints[0]), in(0).dtype, ip(0), op_(0), in(0).shape.numel(), op.floats.data(),
                       static_cast<int>(op.floats.size()), ctx);
    case OpCode::binary_ext:
      return binary_ext(static_cast<BinaryFn>(op.ints[0]), in(0).dtype, ip(0), in(0).shape, in(1).dtype, ip(1), in(1).shape,
                        op_(0), ctx);
    case OpCode::reduce_ext:
      return reduce_ext(static_cast<ReduceFn>(op.ints[0]), in(0).dtype, ip(0), in(0).shape, op.ints.data() + 1,
                        static_cast<int>(op.ints.size() - 1), op_(0), ctx);
    case OpCode::arg_reduce:
      return arg_reduce(op.ints[0] != 0, op.ints[2] != 0, in(0).dtype, ip(0), in(0).shape, static_cast<int>(op.ints[1]),
                        static_cast<int64_t*>(op_(0)));
    case OpCode::softmax_ext: {
      const Shape& s = in(0).shape;
      const int a = s.rank == 0 ? 0 : static_cast<int>(op.ints[1]);
      if (s.rank == 0) return softmax_ext(static_cast<int>(op.ints[0]), in(0).dtype, ip(0), op_(0), 1, 1, 1);
      if (op.ints[2] != 0)
        return softmax_ext(static_cast<int>(op.ints[0]), in(0).dtype, ip(0), op_(0), s.prod(0, a), s.prod(a, s.rank), 1);
      return softmax_ext(static_cast<int>(op.ints[0]), in(0).dtype, ip(0), op_(0), s.prod(0, a), s[a], s.prod(a + 1, s.rank));
    }
    case OpCode::tile:
      return tile(in(0).dtype, ip(0), in(0).shape, op_(0), out(0).shape, ctx);
    case OpCode::pad:
      return pad(in(0).dtype, static_cast<int>(op.ints[0]), ip(0), in(0).shape, op.ints.data() + 1, ip(1), op_(0),
                 out(0).shape, ctx);
    case OpCode::topk: {
      const int a = static_cast<int>(op.ints[0]);
      return topk(in(0).dtype, ip(0), in(0).shape, a, out(0).shape[a], op.ints[1] != 0, op.ints[2] != 0, op_(0),
                  static_cast<int64_t*>(op_(1)));
    }
    case OpCode::cumsum:
      return cumsum(in(0).dtype, ip(0), in(0).shape, static_cast<int>(op.ints[0]), op.ints[1] != 0, op.ints[2] != 0, op_(0));
    case OpCode::trilu:
      return trilu(in(0).dtype, ip(0), in(0).shape, op.ints[0] != 0, op.ints[1], op_(0));
    case OpCode::one_hot: {
      const Shape& y = out(0).shape;
      const int a = static_cast<int>(op.ints[0]);
      return one_hot(in(0).dtype, ip(0), y.prod(0, a), y.prod(a + 1, y.rank), y[a], out(0).dtype, ip(1), op_(0));
    }
    case OpCode::range:
      return range_fill(out(0).dtype, ip(0), ip(1), op_(0), out(0).shape.numel());
    case OpCode::fill:
      return fill(out(0).dtype, ip(0), op_(0), out(0).shape.numel());
    case OpCode::eye_like:
      return eye_like(out(0).dtype, out(0).shape[0], out(0).shape[1], op.ints[0], op_(0));
    case OpCode::clip_ext:
      return clip_ext(in(0).dtype, ip(0), op_(0), in(0).shape.numel(), ip(1), ip(2), ctx);
    case OpCode::nll_loss: {
      const Shape& x = in(0).shape;
      return nll_loss(in(0).dtype, ip(0), x[0], x[1], x.prod(2, x.rank), in(1).dtype, ip(1), ip(2), static_cast<int>(op.ints[0]),
                      op.ints[1] != 0, op.ints[2], op_(0));
    }
    default:
      throw invalid_argument("Invalid execution plan: unknown op code " + std::to_string(static_cast<int>(op.code)));
  }
}

}  // namespace detail
}  // namespace sparq
