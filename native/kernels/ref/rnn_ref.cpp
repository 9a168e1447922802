// Scalar reference of the recurrent layers (sparq/rnn.h): ONNX's equations written out per element,
// dot products in double, the raw W and R read in their ONNX layout. The test oracle of rnn_forward.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "sparq/error.h"
#include "sparq/rnn.h"

namespace sparq {

namespace {

float act_ref(const RnnAct& a, float x) {
  switch (a.kind) {
    case RnnActivation::relu: return x > 0.0f ? x : (x != x ? x : 0.0f);
    case RnnActivation::tanh: return std::tanh(x);
    case RnnActivation::sigmoid: return 1.0f / (1.0f + std::exp(-x));
    case RnnActivation::affine: return a.alpha * x + a.beta;
    case RnnActivation::leaky_relu: return x >= 0.0f ? x : a.alpha * x;
    case RnnActivation::thresholded_relu: return x > a.alpha ? x : 0.0f;
    case RnnActivation::scaled_tanh: return a.alpha * std::tanh(a.beta * x);
    case RnnActivation::hard_sigmoid: return std::max(0.0f, std::min(1.0f, a.alpha * x + a.beta));
    case RnnActivation::elu: return x >= 0.0f ? x : a.alpha * (std::exp(x) - 1.0f);
    case RnnActivation::softsign: return x / (1.0f + std::fabs(x));
    case RnnActivation::softplus: return std::log1p(std::exp(x));
  }
  return x;
}

}  // namespace

void rnn_reference(const RnnParams& p, const RnnTensors& t) {
  rnn_check(p, t.seq_lens);
  const int64_t S = p.seq, Bn = p.batch, I = p.input, H = p.hidden;
  const int D = p.directions, G = rnn_gate_count(p.cell), A = rnn_activations_per_direction(p.cell);
  const int64_t GH = G * H;
  auto xat = [&](int64_t s, int64_t b) { return t.X + (p.layout == 0 ? (s * Bn + b) : (b * S + s)) * I; };
  auto state_at = [&](int d, int64_t b) { return p.layout == 0 ? (d * Bn + b) * H : (b * D + d) * H; };
  auto y_at = [&](int64_t s, int d, int64_t b) { return p.layout == 0 ? ((s * D + d) * Bn + b) * H : ((b * S + s) * D + d) * H; };
  auto clipped = [&](float v) { return p.clip > 0.0f ? std::max(-p.clip, std::min(p.clip, v)) : v; };
  if (t.Y) std::fill(t.Y, t.Y + S * D * Bn * H, 0.0f);

  std::vector<float> h(static_cast<size_t>(H)), c(static_cast<size_t>(H)), pre(static_cast<size_t>(GH)), hh(static_cast<size_t>(GH));
  std::vector<float> rh(static_cast<size_t>(H));
  for (int d = 0; d < D; ++d) {
    const bool backwards = D == 2 ? d == 1 : p.reverse;
    const float* W = t.W + d * GH * I;
    const float* R = t.R + d * GH * H;
    const float* Wb = t.B ? t.B + d * 2 * GH : nullptr;
    const float* Rb = t.B ? Wb + GH : nullptr;
    const float* P = t.P ? t.P + d * 3 * H : nullptr;
    const RnnAct* act = p.acts + d * A;
    for (int64_t b = 0; b < Bn; ++b) {
      const int64_t len = t.seq_lens ? t.seq_lens[b] : S;
      for (int64_t j = 0; j < H; ++j) {
        h[j] = t.initial_h ? t.initial_h[state_at(d, b) + j] : 0.0f;
        c[j] = t.initial_c ? t.initial_c[state_at(d, b) + j] : 0.0f;
      }
      for (int64_t step = 0; step < len; ++step) {
        const int64_t s = backwards ? len - 1 - step : step;
        const float* x = xat(s, b);
        // pre = X·Wᵀ + Wb; hh = H·Rᵀ + Rb (per gate row)
        for (int64_t g = 0; g < GH; ++g) {
          double ax = Wb ? Wb[g] : 0.0, ah = Rb ? Rb[g] : 0.0;
          for (int64_t k = 0; k < I; ++k) ax += static_cast<double>(x[k]) * W[g * I + k];
          for (int64_t k = 0; k < H; ++k) ah += static_cast<double>(h[k]) * R[g * H + k];
          pre[g] = static_cast<float>(ax);
          hh[g] = static_cast<float>(ah);
        }
        if (p.cell == RnnCell::rnn) {
          for (int64_t j = 0; j < H; ++j) h[j] = act_ref(act[0], clipped(pre[j] + hh[j]));
        } else if (p.cell == RnnCell::gru) {
          // z r h; the candidate reads r ⊙ (H·Rhᵀ + Rbh) or (r ⊙ H)·Rhᵀ + Rbh
          std::vector<float> z(static_cast<size_t>(H)), r(static_cast<size_t>(H));
          for (int64_t j = 0; j < H; ++j) {
            z[j] = act_ref(act[0], clipped(pre[j] + hh[j]));
            r[j] = act_ref(act[0], clipped(pre[H + j] + hh[H + j]));
          }
          if (!p.linear_before_reset) {
            for (int64_t j = 0; j < H; ++j) rh[j] = r[j] * h[j];
            for (int64_t j = 0; j < H; ++j) {
              double a = Rb ? Rb[2 * H + j] : 0.0;
              for (int64_t k = 0; k < H; ++k) a += static_cast<double>(rh[k]) * R[(2 * H + j) * H + k];
              hh[2 * H + j] = static_cast<float>(a);
            }
          }
          for (int64_t j = 0; j < H; ++j) {
            const float cand = p.linear_before_reset ? pre[2 * H + j] + r[j] * hh[2 * H + j] : pre[2 * H + j] + hh[2 * H + j];
            const float n = act_ref(act[1], clipped(cand));
            h[j] = (1.0f - z[j]) * n + z[j] * h[j];
          }
        } else {
          // i o f c
          for (int64_t j = 0; j < H; ++j) {
            const float cp = c[j];
            float gi = pre[j] + hh[j], gf = pre[2 * H + j] + hh[2 * H + j];
            if (P) {
              gi += P[j] * cp;
              gf += P[2 * H + j] * cp;
            }
            const float i = act_ref(act[0], clipped(gi));
            const float f = p.input_forget ? 1.0f - i : act_ref(act[0], clipped(gf));
            const float g = act_ref(act[1], clipped(pre[3 * H + j] + hh[3 * H + j]));
            c[j] = f * cp + i * g;
            float go = pre[H + j] + hh[H + j];
            if (P) go += P[H + j] * c[j];
            const float o = act_ref(act[0], clipped(go));
            h[j] = o * act_ref(act[2], c[j]);
          }
        }
        if (t.Y) std::memcpy(t.Y + y_at(s, d, b), h.data(), static_cast<size_t>(H) * sizeof(float));
      }
      if (len == 0) std::fill(h.begin(), h.end(), 0.0f), std::fill(c.begin(), c.end(), 0.0f);
      if (t.Y_h) std::memcpy(t.Y_h + state_at(d, b), h.data(), static_cast<size_t>(H) * sizeof(float));
      if (t.Y_c) std::memcpy(t.Y_c + state_at(d, b), c.data(), static_cast<size_t>(H) * sizeof(float));
    }
  }
}

}  // namespace sparq
