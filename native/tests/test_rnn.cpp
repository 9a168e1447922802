// Recurrent layers (sparq/rnn.h): rnn_forward on raw and on packed weights, and the plan ops, against
// the scalar reference, over every cell, direction, layout, optional input and activation variant.
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "check.h"
#include "plan_testing.h"
#include "sparq/error.h"
#include "sparq/packed.h"
#include "sparq/plan.h"
#include "sparq/rnn.h"

using namespace sparq_test;
using sparq::RnnActivation;
using sparq::RnnCell;

namespace {

struct RnnCase {
  RnnCell cell;
  int64_t S, B, I, H;
  int D;
  bool reverse = false;
  int layout = 0;
  bool lbr = false;
  bool bias = true, lens = false, init = false, peep = false;
  float clip = 0.0f;
  RnnActivation f = RnnActivation::sigmoid;  // replaces the cell's first activation when not sigmoid/tanh default
  bool custom_acts = false;
};

struct Data {
  sparq::RnnParams p;
  std::vector<float> X, W, R, B, h0, c0, P;
  std::vector<int32_t> lens;
  sparq::RnnTensors tensors() {
    sparq::RnnTensors t;
    t.X = X.data();
    t.W = W.data();
    t.R = R.data();
    t.B = B.empty() ? nullptr : B.data();
    t.seq_lens = lens.empty() ? nullptr : lens.data();
    t.initial_h = h0.empty() ? nullptr : h0.data();
    t.initial_c = c0.empty() ? nullptr : c0.data();
    t.P = P.empty() ? nullptr : P.data();
    return t;
  }
};

Data make(const RnnCase& k, uint32_t seed) {
  Data d;
  sparq::RnnParams& p = d.p;
  p.cell = k.cell;
  p.seq = k.S, p.batch = k.B, p.input = k.I, p.hidden = k.H;
  p.directions = k.D;
  p.reverse = k.reverse;
  p.layout = k.layout;
  p.linear_before_reset = k.lbr;
  p.clip = k.clip;
  const int A = sparq::rnn_activations_per_direction(k.cell), G = sparq::rnn_gate_count(k.cell);
  for (int i = 0; i < k.D * A; ++i) p.acts[i] = sparq::rnn_default_activation(k.cell, i % A);
  if (k.custom_acts) {
    // direction 0 gets the variant, direction 1 (if any) a second one
    p.acts[0].kind = k.f;
    p.acts[0].alpha = 0.3f;
    p.acts[0].beta = 0.6f;
    if (k.D == 2) {
      p.acts[A].kind = RnnActivation::scaled_tanh;
      p.acts[A].alpha = 0.8f;
      p.acts[A].beta = 1.3f;
    }
  }
  const int64_t GH = G * k.H;
  d.X = random_vector(static_cast<size_t>(k.S * k.B * k.I), seed, -1.5f, 1.5f);
  d.W = random_vector(static_cast<size_t>(k.D * GH * k.I), seed + 1, -0.6f, 0.6f);
  d.R = random_vector(static_cast<size_t>(k.D * GH * k.H), seed + 2, -0.6f, 0.6f);
  if (k.bias) d.B = random_vector(static_cast<size_t>(k.D * 2 * GH), seed + 3, -0.5f, 0.5f);
  if (k.init) {
    d.h0 = random_vector(static_cast<size_t>(k.D * k.B * k.H), seed + 4);
    if (k.cell == RnnCell::lstm) d.c0 = random_vector(static_cast<size_t>(k.D * k.B * k.H), seed + 5);
  }
  if (k.peep) d.P = random_vector(static_cast<size_t>(k.D * 3 * k.H), seed + 6);
  if (k.lens)
    for (int64_t b = 0; b < k.B; ++b) d.lens.push_back(static_cast<int32_t>((b * 7 + 3) % (k.S + 1)));
  return d;
}

std::vector<float> transposed(const float* A, int64_t rows, int64_t cols) {
  std::vector<float> t(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[static_cast<size_t>(c * rows + r)] = A[r * cols + c];
  return t;
}

std::vector<std::shared_ptr<const sparq::PackedWeights>> pack_all(const Data& d, const char* format) {
  const auto& p = d.p;
  const int G = sparq::rnn_gate_count(p.cell);
  const int64_t GH = G * p.hidden, H = p.hidden, I = p.input, D = p.directions;
  std::vector<std::shared_ptr<const sparq::PackedWeights>> out;
  auto wt = transposed(d.W.data(), D * GH, I);  // [I, D·GH]
  out.push_back(sparq::pack_weights(format, wt.data(), I, D * GH, {}));
  const bool split = p.cell == RnnCell::gru && !p.linear_before_reset;
  for (int64_t k = 0; k < D; ++k) {
    const float* R = d.R.data() + k * GH * H;
    auto rt = transposed(R, split ? 2 * H : GH, H);
    out.push_back(sparq::pack_weights(format, rt.data(), H, split ? 2 * H : GH, {}));
  }
  if (split)
    for (int64_t k = 0; k < D; ++k) {
      auto rt = transposed(d.R.data() + k * GH * H + 2 * H * H, H, H);
      out.push_back(sparq::pack_weights(format, rt.data(), H, H, {}));
    }
  return out;
}

struct Outs {
  std::vector<float> Y, Yh, Yc;
};

Outs alloc(const sparq::RnnParams& p) {
  const size_t st = static_cast<size_t>(p.directions * p.batch * p.hidden);
  return {nan_filled(static_cast<size_t>(p.seq) * st), nan_filled(st), nan_filled(st)};
}

void bind(sparq::RnnTensors& t, Outs& o, bool lstm) {
  t.Y = o.Y.data();
  t.Y_h = o.Yh.data();
  t.Y_c = lstm ? o.Yc.data() : nullptr;
}

double worst(const std::vector<float>& a, const std::vector<float>& b) {
  double w = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) return INFINITY;
    w = std::max(w, std::fabs(static_cast<double>(a[i]) - b[i]) / (1.0 + std::fabs(static_cast<double>(b[i]))));
  }
  return w;
}

std::vector<RnnCase> rnn_cases() {
  std::vector<RnnCase> all;
  for (RnnCell cell : {RnnCell::lstm, RnnCell::gru, RnnCell::rnn})
    for (int dir = 0; dir < 3; ++dir)
      for (int layout : {0, 1}) {
        RnnCase k{cell, 5, 3, 7, 9, dir == 2 ? 2 : 1};
        k.reverse = dir == 1;
        k.layout = layout;
        all.push_back(k);
        RnnCase full = k;
        full.lens = full.init = true;
        full.peep = cell == RnnCell::lstm;
        full.lbr = true;
        all.push_back(full);
        RnnCase odd = full;
        odd.lbr = false;
        odd.bias = false;
        odd.clip = 0.7f;
        odd.S = 4, odd.B = 5, odd.I = 17, odd.H = 20;
        all.push_back(odd);
      }
  for (RnnActivation f : {RnnActivation::relu, RnnActivation::affine, RnnActivation::leaky_relu, RnnActivation::thresholded_relu,
                          RnnActivation::hard_sigmoid, RnnActivation::elu, RnnActivation::softsign, RnnActivation::softplus,
                          RnnActivation::tanh})
    for (RnnCell cell : {RnnCell::lstm, RnnCell::gru, RnnCell::rnn}) {
      RnnCase k{cell, 3, 2, 4, 6, 2};
      k.custom_acts = true;
      k.f = f;
      k.init = true;
      all.push_back(k);
    }
  // M = 1 steps of a wide layer (what a streaming VAD runs), and an empty sequence
  all.push_back(RnnCase{RnnCell::lstm, 6, 1, 64, 64, 1});
  all.push_back(RnnCase{RnnCell::gru, 0, 2, 3, 4, 2});
  return all;
}

}  // namespace

TEST(rnn_forward_raw_and_packed_match_reference) {
  uint32_t seed = 10;
  for (const RnnCase& k : rnn_cases()) {
    Data d = make(k, seed += 17);
    const bool lstm = k.cell == RnnCell::lstm;
    Outs want = alloc(d.p);
    sparq::RnnTensors t = d.tensors();
    bind(t, want, lstm);
    sparq::rnn_reference(d.p, t);
    for (int threads : {1, 2}) {
      Outs raw = alloc(d.p);
      bind(t, raw, lstm);
      sparq::OpContext ctx;
      ctx.threads = threads;
      sparq::rnn_forward(d.p, t, nullptr, ctx);
      const double e_raw = std::max({worst(raw.Y, want.Y), worst(raw.Yh, want.Yh), lstm ? worst(raw.Yc, want.Yc) : 0.0});
      CHECK_MSG(e_raw < 2e-5, "raw cell %d S%lld B%lld I%lld H%lld D%d rev%d layout%d lbr%d lens%d clip%g act%d: %g", (int)k.cell,
                (long long)k.S, (long long)k.B, (long long)k.I, (long long)k.H, k.D, k.reverse, k.layout, k.lbr, k.lens, k.clip,
                (int)k.f, e_raw);
      for (const char* format : {"dense", "int8"}) {
        auto packs = pack_all(d, format);
        sparq::RnnPacked pk;
        pk.W = packs[0].get();
        const bool split = k.cell == RnnCell::gru && !k.lbr;
        for (int i = 0; i < k.D; ++i) {
          pk.R[i] = packs[1 + static_cast<size_t>(i)].get();
          if (split) pk.Rh[i] = packs[1 + static_cast<size_t>(k.D + i)].get();
        }
        Outs got = alloc(d.p);
        sparq::RnnTensors tp = d.tensors();
        tp.W = tp.R = nullptr;
        bind(tp, got, lstm);
        sparq::rnn_forward(d.p, tp, &pk, ctx);
        const double e = std::max({worst(got.Y, want.Y), worst(got.Yh, want.Yh), lstm ? worst(got.Yc, want.Yc) : 0.0});
        // int8 weights: quantization error, bounded by the cell's saturating gates
        const double tol = std::string(format) == "dense" ? 2e-5 : 0.08;
        CHECK_MSG(e < tol, "%s cell %d D%d rev%d layout%d lbr%d lens%d: %g", format, (int)k.cell, k.D, k.reverse, k.layout, k.lbr,
                  k.lens, e);
      }
    }
  }
}

TEST(rnn_rejects_bad_sequence_lengths_before_writing) {
  RnnCase k{RnnCell::lstm, 4, 2, 3, 5, 1};
  k.lens = true;
  Data d = make(k, 3);
  d.lens[1] = 5;
  Outs o = alloc(d.p);
  sparq::RnnTensors t = d.tensors();
  bind(t, o, true);
  bool threw = false;
  try {
    sparq::rnn_forward(d.p, t, nullptr, {});
  } catch (const sparq::Error& e) {
    threw = e.code() == "ERR_INVALID_ARGUMENT";
  }
  CHECK(threw && std::isnan(o.Y[0]) && std::isnan(o.Yh[0]));
}

// Whether a one-op plan (one input) is refused at construction with ERR_INVALID_ARGUMENT.
static bool plan_refused(const std::vector<sparq::PlanSlot>& slots, const sparq::PlanOp& o,
                         const std::vector<sparq::ConstantRef>& constants, int outputs) {
  try {
    sparq::Plan p(slots, {o}, constants, 0, 1, outputs);
  } catch (const sparq::Error& e) {
    return e.code() == "ERR_INVALID_ARGUMENT";
  }
  return false;
}

TEST(rnn_plan_op_runs_packed_and_raw_and_validates) {
  using sparq::DType;
  using sparq::OpCode;
  using sparq::Shape;
  using sparq::SlotKind;
  RnnCase k{RnnCell::gru, 5, 2, 4, 6, 2};
  k.init = k.lens = true;
  Data d = make(k, 42);
  const int64_t S = k.S, B = k.B, I = k.I, H = k.H, GH = 3 * H;
  Outs want = alloc(d.p);
  sparq::RnnTensors t = d.tensors();
  bind(t, want, false);
  sparq::rnn_reference(d.p, t);
  for (bool packed : {false, true}) {
    std::vector<sparq::PlanSlot> slots = {
        slot(Shape{S, B, I}, SlotKind::input, 0),           slot(Shape{2, GH, I}, SlotKind::constant, 0),
        slot(Shape{2, GH, H}, SlotKind::constant, 1),       slot(Shape{2, 2 * GH}, SlotKind::constant, 2),
        slot(Shape{B}, SlotKind::constant, 3, DType::int32), slot(Shape{2, B, H}, SlotKind::constant, 4),
        slot(Shape{S, 2, B, H}, SlotKind::output, 0),       slot(Shape{2, B, H}, SlotKind::output, 1)};
    std::vector<int64_t> ints = {H, 2, 0, 0, 0, 0, 2, 1, 2, 1};  // acts: sigmoid tanh per direction
    std::vector<float> floats = {0.0f, 0, 0, 0, 0, 0, 0, 0, 0};
    auto o = op(OpCode::gru, {0, packed ? -1 : 1, packed ? -1 : 2, 3, 4, 5, -1, -1}, {6, 7, -1}, ints, floats);
    if (packed) {
      auto packs = pack_all(d, "dense");
      o.weights = packs[0];
      o.extra_weights.assign(packs.begin() + 1, packs.end());
    }
    std::vector<sparq::ConstantRef> constants = {{d.W.data(), d.W.size() * 4}, {d.R.data(), d.R.size() * 4},
                                                 {d.B.data(), d.B.size() * 4}, {d.lens.data(), d.lens.size() * 4},
                                                 {d.h0.data(), d.h0.size() * 4}};
    sparq::Plan plan(slots, {o}, constants, 0, 1, 2);
    Outs got = alloc(d.p);
    const void* ins[] = {d.X.data()};
    void* outs[] = {got.Y.data(), got.Yh.data()};
    plan.run(ins, outs, 1);
    CHECK_MSG(worst(got.Y, want.Y) < 2e-5 && worst(got.Yh, want.Yh) < 2e-5, "plan packed=%d", packed);
    // A wrong R shape, and a Y_c on a GRU, are refused at construction.
    auto bad = o;
    bad.outputs = {6, 7, 6};
    CHECK(plan_refused(slots, bad, constants, 2));
  }
  std::vector<sparq::PlanSlot> slots = {slot(Shape{S, B, I}, SlotKind::input, 0), slot(Shape{2, GH, I}, SlotKind::constant, 0),
                                        slot(Shape{2, GH, H + 1}, SlotKind::constant, 1), slot(Shape{S, 2, B, H}, SlotKind::output, 0)};
  auto o = op(OpCode::gru, {0, 1, 2, -1, -1, -1, -1, -1}, {3, -1, -1}, {H, 2, 0, 0, 0, 0, 2, 1, 2, 1}, {0, 0, 0, 0, 0, 0, 0, 0, 0});
  std::vector<float> big_r(static_cast<size_t>(2 * GH * (H + 1)));
  std::vector<sparq::ConstantRef> constants = {{d.W.data(), d.W.size() * 4}, {big_r.data(), big_r.size() * 4}};
  CHECK(plan_refused(slots, o, constants, 1));
}

TEST_MAIN()
