// LSTM, GRU and RNN as plan ops (op codes 230-232; see sparq/plan_ops.h and src/runtime/plan-rnn.ts).
//   inputs  [X, W, R, B, sequence_lens, initial_h, initial_c, P], -1 where absent; W and R are -1 when
//           the op carries them packed: `weights` = Wᵀ [input, D·G·H], `extra_weights` = R_dᵀ per
//           direction (a GRU without linear_before_reset: Rzr_0ᵀ, Rzr_1ᵀ.., then Rh_0ᵀ, ..)
//   outputs [Y, Y_h, Y_c], -1 where not wanted
//   ints    [hidden, directions, reverse, layout, linear_before_reset, input_forget, activation kinds...]
//   floats  [clip (0 = none), alphas..., betas...] (one kind, alpha and beta per activation, D·A of each)
#include <string>

#include "sparq/plan_ops.h"
#include "sparq/rnn.h"

namespace sparq {
namespace {

RnnCell cell_of(OpCode c) { return c == OpCode::lstm ? RnnCell::lstm : c == OpCode::gru ? RnnCell::gru : RnnCell::rnn; }
const char* name_of(RnnCell c) { return c == RnnCell::lstm ? "LSTM" : c == RnnCell::gru ? "GRU" : "RNN"; }

// The params an op describes, from its attributes and X's shape (checked by validate first).
RnnParams params_of(const PlanOp& op, const std::vector<PlanSlot>& slots) {
  RnnParams p;
  p.cell = cell_of(op.code);
  const Shape& x = slots[static_cast<size_t>(op.inputs[0])].shape;
  p.hidden = op.ints[0];
  p.directions = static_cast<int>(op.ints[1]);
  p.reverse = op.ints[2] != 0;
  p.layout = static_cast<int>(op.ints[3]);
  p.linear_before_reset = op.ints[4] != 0;
  p.input_forget = op.ints[5] != 0;
  p.seq = p.layout == 0 ? x[0] : x[1];
  p.batch = p.layout == 0 ? x[1] : x[0];
  p.input = x[2];
  p.clip = op.floats[0];
  const int n = p.directions * rnn_activations_per_direction(p.cell);
  for (int i = 0; i < n; ++i) {
    p.acts[i].kind = static_cast<RnnActivation>(op.ints[6 + static_cast<size_t>(i)]);
    p.acts[i].alpha = op.floats[1 + static_cast<size_t>(i)];
    p.acts[i].beta = op.floats[1 + static_cast<size_t>(n + i)];
  }
  return p;
}

void validate(const PlanOp& op, const std::vector<PlanSlot>& slots) {
  const RnnCell cell = cell_of(op.code);
  const bool lstm = cell == RnnCell::lstm;
  PlanOpCheck c(op, slots, name_of(cell));
  c.arity(1, 8, 0, 3);
  if (op.inputs.size() != 8 || op.outputs.size() != 3) throw c.fail("needs 8 input and 3 output positions (-1 where absent)");
  if (op.ints.size() < 6) throw c.fail("too few integer attributes");
  const int64_t H = op.ints[0], D = op.ints[1];
  if (H < 0 || (D != 1 && D != 2) || op.ints[3] < 0 || op.ints[3] > 1) throw c.fail("bad hidden size, directions or layout");
  const int A = rnn_activations_per_direction(cell), G = rnn_gate_count(cell);
  if (op.ints.size() != static_cast<size_t>(6 + D * A) || op.floats.size() != static_cast<size_t>(1 + 2 * D * A))
    throw c.fail("wrong number of activation attributes");
  for (int64_t i = 0; i < D * A; ++i) {
    const int64_t k = op.ints[static_cast<size_t>(6 + i)];
    if (k < 0 || k >= kRnnActivationCount) throw c.fail("unknown activation");
  }
  if (!(op.floats[0] >= 0.0f)) throw c.fail("clip must be >= 0");
  const PlanSlot& xs = c.in(0);
  c.dtype(xs, DType::float32, "X");
  if (xs.shape.rank != 3) throw c.fail("X must be 3-D");
  const bool layout1 = op.ints[3] == 1;
  const int64_t S = layout1 ? xs.shape[1] : xs.shape[0], Bn = layout1 ? xs.shape[0] : xs.shape[1], I = xs.shape[2];
  const int64_t GH = G * H;
  const bool gru_split = cell == RnnCell::gru && op.ints[4] == 0;
  if (op.weights) {
    if (c.has(1) || c.has(2)) throw c.fail("has both packed and raw weights");
    if (op.weights->K() != I || op.weights->N() != D * GH) throw c.fail("packed W is not [input, directions·gates·hidden]");
    const size_t want = static_cast<size_t>(gru_split ? 2 * D : D);
    if (op.extra_weights.size() != want) throw c.fail("wrong number of packed R matrices");
    for (size_t i = 0; i < want; ++i) {
      const auto& r = op.extra_weights[i];
      const int64_t n = gru_split ? (static_cast<int64_t>(i) < D ? 2 * H : H) : GH;
      if (!r || r->K() != H || r->N() != n) throw c.fail("packed R " + std::to_string(i) + " has the wrong size");
    }
  } else {
    if (!c.has(1) || !c.has(2) || !op.extra_weights.empty()) throw c.fail("needs W and R");
    c.dtype(c.in(1), DType::float32, "W");
    c.dtype(c.in(2), DType::float32, "R");
    c.shape(c.in(1), Shape{D, GH, I}, "W");
    c.shape(c.in(2), Shape{D, GH, H}, "R");
  }
  const Shape state = layout1 ? Shape{Bn, D, H} : Shape{D, Bn, H};
  if (c.has(3)) {
    c.dtype(c.in(3), DType::float32, "B");
    c.shape(c.in(3), Shape{D, 2 * GH}, "B");
  }
  if (c.has(4)) {
    c.dtype(c.in(4), DType::int32, "sequence_lens");
    c.shape(c.in(4), Shape{Bn}, "sequence_lens");
  }
  for (size_t i : {5, 6}) {
    if (!c.has(i)) continue;
    if (i == 6 && !lstm) throw c.fail("only LSTM takes initial_c");
    c.dtype(c.in(i), DType::float32, "an initial state");
    c.shape(c.in(i), state, "an initial state");
  }
  if (c.has(7)) {
    if (!lstm) throw c.fail("only LSTM takes peepholes");
    c.dtype(c.in(7), DType::float32, "P");
    c.shape(c.in(7), Shape{D, 3 * H}, "P");
  }
  if (c.has_out(0)) {
    c.dtype(c.out(0), DType::float32, "Y");
    c.shape(c.out(0), layout1 ? Shape{Bn, S, D, H} : Shape{S, D, Bn, H}, "Y");
  }
  for (size_t i : {1, 2}) {
    if (!c.has_out(i)) continue;
    if (i == 2 && !lstm) throw c.fail("only LSTM has Y_c");
    c.dtype(c.out(i), DType::float32, "a final state");
    c.shape(c.out(i), state, "a final state");
  }
}

void run(const PlanOp& op, const std::vector<PlanSlot>& slots, void* const* ptr, const OpContext& ctx) {
  const RnnParams p = params_of(op, slots);
  auto in = [&](size_t i) { return op.inputs[i] >= 0 ? ptr[op.inputs[i]] : nullptr; };
  auto out = [&](size_t i) { return op.outputs[i] >= 0 ? static_cast<float*>(ptr[op.outputs[i]]) : nullptr; };
  RnnTensors t;
  t.X = static_cast<const float*>(in(0));
  t.W = static_cast<const float*>(in(1));
  t.R = static_cast<const float*>(in(2));
  t.B = static_cast<const float*>(in(3));
  t.seq_lens = static_cast<const int32_t*>(in(4));
  t.initial_h = static_cast<const float*>(in(5));
  t.initial_c = static_cast<const float*>(in(6));
  t.P = static_cast<const float*>(in(7));
  t.Y = out(0);
  t.Y_h = out(1);
  t.Y_c = out(2);
  if (!op.weights) return rnn_forward(p, t, nullptr, ctx);
  RnnPacked packed;
  packed.W = op.weights.get();
  const bool split = p.cell == RnnCell::gru && !p.linear_before_reset;
  for (int d = 0; d < p.directions; ++d) {
    packed.R[d] = op.extra_weights[static_cast<size_t>(d)].get();
    if (split) packed.Rh[d] = op.extra_weights[static_cast<size_t>(p.directions + d)].get();
  }
  rnn_forward(p, t, &packed, ctx);
}

}  // namespace

SPARQ_REGISTER_PLAN_OP(lstm, OpCode::lstm, (PlanOpHandler{"LSTM", validate, run}));
SPARQ_REGISTER_PLAN_OP(gru, OpCode::gru, (PlanOpHandler{"GRU", validate, run}));
SPARQ_REGISTER_PLAN_OP(rnn, OpCode::rnn, (PlanOpHandler{"RNN", validate, run}));

}  // namespace sparq
