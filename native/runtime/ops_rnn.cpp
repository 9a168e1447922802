// The recurrent layers' runtime (sparq/rnn.h): one GEMM projects the whole input sequence (M =
// seq·batch rows, every direction's gates side by side), then each step multiplies the hidden state
// by R (M = batch) and combines the gates in place. Both GEMMs run on packed weights when the model's
// W and R are constants (the planner packs them), else on sgemm over the raw ONNX tensors.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "sparq/aligned.h"
#include "sparq/error.h"
#include "sparq/ops_kernels.h"
#include "sparq/rnn.h"
#include "sparq/sgemm.h"

namespace sparq {

int rnn_gate_count(RnnCell cell) { return cell == RnnCell::lstm ? 4 : cell == RnnCell::gru ? 3 : 1; }
int rnn_activations_per_direction(RnnCell cell) { return cell == RnnCell::lstm ? 3 : cell == RnnCell::gru ? 2 : 1; }

RnnAct rnn_default_activation(RnnCell cell, int i) {
  RnnAct a;
  a.kind = cell != RnnCell::rnn && i == 0 ? RnnActivation::sigmoid : RnnActivation::tanh;
  return a;
}

void rnn_check(const RnnParams& p, const int32_t* seq_lens) {
  if (p.seq < 0 || p.batch < 0 || p.input < 0 || p.hidden < 0) throw invalid_argument("Expected non-negative sizes for a recurrent layer");
  if (p.directions != 1 && p.directions != 2) throw invalid_argument("Expected 1 or 2 directions for a recurrent layer");
  if (p.layout != 0 && p.layout != 1) throw invalid_argument("Expected layout 0 or 1 for a recurrent layer");
  if (static_cast<int32_t>(p.cell) < 0 || static_cast<int32_t>(p.cell) > 2) throw invalid_argument("Unknown recurrent cell");
  if (!(p.clip >= 0.0f)) throw invalid_argument("Expected a non-negative clip for a recurrent layer");
  for (int i = 0; i < p.directions * rnn_activations_per_direction(p.cell); ++i) {
    const int k = static_cast<int>(p.acts[i].kind);
    if (k < 0 || k >= kRnnActivationCount) throw invalid_argument("Unknown activation " + std::to_string(k) + " for a recurrent layer");
  }
  if (seq_lens)
    for (int64_t b = 0; b < p.batch; ++b)
      if (seq_lens[b] < 0 || seq_lens[b] > p.seq)
        throw invalid_argument("Expected sequence_lens in [0, " + std::to_string(p.seq) + "] but received " + std::to_string(seq_lens[b]) +
                               " for batch row " + std::to_string(b));
}

void rnn_activate(const RnnAct& a, float* x, int64_t n) {
  const OpsKernels& k = ops_kernels(active_isa());
  switch (a.kind) {
    case RnnActivation::relu: return k.unary_f32(UnaryOp::relu, x, x, n);
    case RnnActivation::tanh: return k.unary_f32(UnaryOp::tanh, x, x, n);
    case RnnActivation::sigmoid: return k.unary_f32(UnaryOp::sigmoid, x, x, n);
    case RnnActivation::affine:
      for (int64_t i = 0; i < n; ++i) x[i] = a.alpha * x[i] + a.beta;
      return;
    case RnnActivation::leaky_relu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= 0.0f ? x[i] : a.alpha * x[i];
      return;
    case RnnActivation::thresholded_relu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] > a.alpha ? x[i] : 0.0f;
      return;
    case RnnActivation::scaled_tanh:
      for (int64_t i = 0; i < n; ++i) x[i] *= a.beta;
      k.unary_f32(UnaryOp::tanh, x, x, n);
      for (int64_t i = 0; i < n; ++i) x[i] *= a.alpha;
      return;
    case RnnActivation::hard_sigmoid:
      for (int64_t i = 0; i < n; ++i) x[i] = std::max(0.0f, std::min(1.0f, a.alpha * x[i] + a.beta));
      return;
    case RnnActivation::elu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= 0.0f ? x[i] : a.alpha * std::expm1(x[i]);
      return;
    case RnnActivation::softsign:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::fabs(x[i]));
      return;
    case RnnActivation::softplus:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 20.0f ? x[i] : std::log1p(std::exp(x[i]));
      return;
  }
}

namespace {

// Per-thread scratch reused from run to run (a session's runs would otherwise page-fault a fresh
// projection buffer each time).
thread_local AlignedBuffer<float> scratch;

struct Step {
  const RnnParams& p;
  int64_t H;
  float clip;
  void clamp(float* x, int64_t n) const {
    if (clip <= 0.0f) return;
    for (int64_t i = 0; i < n; ++i) x[i] = std::max(-clip, std::min(clip, x[i]));
  }
  void act(const RnnAct& a, float* x, int64_t n) const {
    clamp(x, n);
    rnn_activate(a, x, n);
  }
};

// acc[j] += x[j]
inline void add_to(float* acc, const float* x, int64_t n) {
  for (int64_t j = 0; j < n; ++j) acc[j] += x[j];
}

}  // namespace

void rnn_forward(const RnnParams& p, const RnnTensors& t, const RnnPacked* packed, const OpContext& ctx) {
  rnn_check(p, t.seq_lens);
  const int64_t S = p.seq, Bn = p.batch, I = p.input, H = p.hidden;
  const int D = p.directions, G = rnn_gate_count(p.cell), A = rnn_activations_per_direction(p.cell);
  const int64_t GH = G * H, N = D * GH, M = S * Bn;
  const bool gru_split = p.cell == RnnCell::gru && !p.linear_before_reset;
  if (t.Y && (t.seq_lens || S == 0)) std::fill(t.Y, t.Y + S * D * Bn * H, 0.0f);
  if (Bn == 0 || H == 0) return;

  // Scratch: the projection XW [M, N], the input bias [N], the hidden bias [GH], the hidden product
  // [batch, GH], r ⊙ H and its product (GRU without linear_before_reset), and the states.
  const size_t need = static_cast<size_t>(M * N + N + GH + Bn * GH + 2 * Bn * H + 2 * Bn * H);
  float* base = scratch.reserve(need);
  float* xw = base;
  float* bx = xw + M * N;
  float* bh = bx + N;
  float* gh = bh + GH;
  float* rh = gh + Bn * GH;
  float* ghh = rh + Bn * H;
  float* h = ghh + Bn * H;
  float* c = h + Bn * H;

  // Biases: everything that adds before the gate's activation goes with the projection (Wb + Rb);
  // a GRU with linear_before_reset keeps Rbh inside r ⊙ (H·Rhᵀ + Rbh), with the hidden product.
  for (int d = 0; d < D; ++d)
    for (int64_t g = 0; g < GH; ++g) {
      const float wb = t.B ? t.B[d * 2 * GH + g] : 0.0f, rb = t.B ? t.B[d * 2 * GH + GH + g] : 0.0f;
      const bool hidden_side = p.cell == RnnCell::gru && p.linear_before_reset && g >= 2 * H;
      bx[d * GH + g] = hidden_side ? wb : wb + rb;
    }

  Epilogue ep_x;
  ep_x.bias = t.B ? bx : nullptr;
  if (M > 0) {
    if (packed)
      packed->W->matmul(t.X, M, xw, ep_x, ctx.threads);
    else
      sgemm(false, true, M, N, I, 1.0f, t.X, I, t.W, I, 0.0f, xw, N, ctx.threads, &ep_x, ctx.isa);
  }
  const Step st{p, H, p.clip};
  auto row_of = [&](int64_t s, int64_t b) { return p.layout == 0 ? s * Bn + b : b * S + s; };
  auto state_at = [&](int d, int64_t b) { return p.layout == 0 ? (d * Bn + b) * H : (b * D + d) * H; };
  auto y_at = [&](int64_t s, int d, int64_t b) { return p.layout == 0 ? ((s * D + d) * Bn + b) * H : ((b * S + s) * D + d) * H; };
  const size_t row_bytes = static_cast<size_t>(H) * sizeof(float);
  int64_t longest = 0;
  for (int64_t b = 0; b < Bn; ++b) longest = std::max<int64_t>(longest, t.seq_lens ? t.seq_lens[b] : S);

  for (int d = 0; d < D; ++d) {
    const bool backwards = D == 2 ? d == 1 : p.reverse;
    const RnnAct* act = p.acts + d * A;
    const float* R = t.R ? t.R + d * GH * H : nullptr;
    const float* P = t.P ? t.P + d * 3 * H : nullptr;
    // The time step a row is at in step `step` of this direction, or -1 once its sequence ended.
    auto time_of = [&](int64_t b, int64_t step) -> int64_t {
      const int64_t len = t.seq_lens ? t.seq_lens[b] : S;
      return step >= len ? -1 : backwards ? len - 1 - step : step;
    };
    for (int64_t b = 0; b < Bn; ++b) {
      if (t.initial_h) std::memcpy(h + b * H, t.initial_h + state_at(d, b), row_bytes);
      else std::fill(h + b * H, h + (b + 1) * H, 0.0f);
      if (p.cell == RnnCell::lstm) {
        if (t.initial_c) std::memcpy(c + b * H, t.initial_c + state_at(d, b), row_bytes);
        else std::fill(c + b * H, c + (b + 1) * H, 0.0f);
      }
    }
    Epilogue ep_h;
    if (p.cell == RnnCell::gru && p.linear_before_reset && t.B) {
      std::fill(bh, bh + 2 * H, 0.0f);
      std::memcpy(bh + 2 * H, t.B + d * 2 * GH + GH + 2 * H, row_bytes);
      ep_h.bias = bh;
    }
    const int64_t first_n = gru_split ? 2 * H : GH;  // columns of the first hidden product
    for (int64_t step = 0; step < longest; ++step) {
      // gh = H·Rᵀ (+ bias), every row (finished rows are computed and ignored)
      if (packed)
        packed->R[d]->matmul(h, Bn, gh, ep_h, ctx.threads);
      else
        sgemm(false, true, Bn, first_n, H, 1.0f, h, H, R, H, 0.0f, gh, first_n, ctx.threads, &ep_h, ctx.isa);
      for (int64_t b = 0; b < Bn; ++b) {
        const int64_t s = time_of(b, step);
        if (s < 0) continue;
        const float* x = xw + row_of(s, b) * N + d * GH;
        float* g = gh + b * first_n;
        float* hb = h + b * H;
        if (p.cell == RnnCell::rnn) {
          add_to(g, x, H);
          st.act(act[0], g, H);
          std::memcpy(hb, g, row_bytes);
        } else if (p.cell == RnnCell::lstm) {
          float* cb = c + b * H;
          float *gi = g, *go = g + H, *gf = g + 2 * H, *gc = g + 3 * H;
          add_to(g, x, GH);
          if (P)
            for (int64_t j = 0; j < H; ++j) {
              gi[j] += P[j] * cb[j];
              gf[j] += P[2 * H + j] * cb[j];
            }
          if (!P) {
            st.act(act[0], g, 3 * H);  // i o f together
          } else {
            st.act(act[0], gi, H);
            st.act(act[0], gf, H);
          }
          if (p.input_forget)
            for (int64_t j = 0; j < H; ++j) gf[j] = 1.0f - gi[j];
          st.act(act[1], gc, H);
          for (int64_t j = 0; j < H; ++j) cb[j] = gf[j] * cb[j] + gi[j] * gc[j];
          if (P) {
            for (int64_t j = 0; j < H; ++j) go[j] += P[H + j] * cb[j];
            st.act(act[0], go, H);
          }
          std::memcpy(gc, cb, row_bytes);
          rnn_activate(act[2], gc, H);
          for (int64_t j = 0; j < H; ++j) hb[j] = go[j] * gc[j];
        } else {
          // GRU: z r from the first product; the candidate after it
          add_to(g, x, 2 * H);
          st.act(act[0], g, 2 * H);
          if (p.linear_before_reset) {
            float* n = g + 2 * H;
            for (int64_t j = 0; j < H; ++j) n[j] = x[2 * H + j] + g[H + j] * n[j];
            st.act(act[1], n, H);
          } else {
            for (int64_t j = 0; j < H; ++j) rh[b * H + j] = g[H + j] * hb[j];
          }
        }
      }
      if (p.cell != RnnCell::gru) {
        for (int64_t b = 0; b < Bn; ++b) {
          const int64_t s = time_of(b, step);
          if (s >= 0 && t.Y) std::memcpy(t.Y + y_at(s, d, b), h + b * H, row_bytes);
        }
        continue;
      }
      if (gru_split) {
        // (r ⊙ H)·Rhᵀ for every row (rows that finished hold stale values nobody reads)
        for (int64_t b = 0; b < Bn; ++b)
          if (time_of(b, step) < 0) std::fill(rh + b * H, rh + (b + 1) * H, 0.0f);
        if (packed)
          packed->Rh[d]->matmul(rh, Bn, ghh, Epilogue{}, ctx.threads);
        else
          sgemm(false, true, Bn, H, H, 1.0f, rh, H, R + 2 * H * H, H, 0.0f, ghh, H, ctx.threads, nullptr, ctx.isa);
      }
      for (int64_t b = 0; b < Bn; ++b) {
        const int64_t s = time_of(b, step);
        if (s < 0) continue;
        const float* z = gh + b * first_n;
        float* n = gru_split ? ghh + b * H : gh + b * first_n + 2 * H;
        if (gru_split) {
          add_to(n, xw + row_of(s, b) * N + d * GH + 2 * H, H);
          st.act(act[1], n, H);
        }
        float* hb = h + b * H;
        for (int64_t j = 0; j < H; ++j) hb[j] = (1.0f - z[j]) * n[j] + z[j] * hb[j];
        if (t.Y) std::memcpy(t.Y + y_at(s, d, b), hb, row_bytes);
      }
    }
    for (int64_t b = 0; b < Bn; ++b) {
      // A row of length 0 ends in zeros, not its initial state (as onnxruntime does).
      const bool empty = t.seq_lens && t.seq_lens[b] == 0;
      if (t.Y_h) {
        if (empty) std::fill(t.Y_h + state_at(d, b), t.Y_h + state_at(d, b) + H, 0.0f);
        else std::memcpy(t.Y_h + state_at(d, b), h + b * H, row_bytes);
      }
      if (t.Y_c && p.cell == RnnCell::lstm) {
        if (empty) std::fill(t.Y_c + state_at(d, b), t.Y_c + state_at(d, b) + H, 0.0f);
        else std::memcpy(t.Y_c + state_at(d, b), c + b * H, row_bytes);
      }
    }
  }
}

}  // namespace sparq
