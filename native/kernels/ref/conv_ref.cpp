// Portable conv and pooling code: im2col, the reference conv (the test oracle), the scalar depthwise
// kernel (reference and fallback), the NHWC pools and the NCHW ops (ConvTranspose, InstanceNorm, LRN).
// Pool and depthwise loops run along C, contiguous in NHWC, so the compiler vectorises them.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "sparq/conv.h"
#include "sparq/threadpool.h"

namespace sparq {

int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t dilation, int64_t pad_begin, int64_t pad_end, bool ceil_mode) {
  const int64_t span = dilation * (k - 1) + 1;
  const int64_t room = in + pad_begin + pad_end - span;
  if (room < 0 || stride < 1) return -1;
  int64_t out = (ceil_mode ? (room + stride - 1) / stride : room / stride) + 1;
  // ceil_mode: a last window that would start inside the end padding is dropped (as onnxruntime does).
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
  return out;
}

float conv_act_ref(float v, const ConvPost& post) {
  switch (post.act) {
    case ConvAct::relu: return v > 0.0f ? v : (v != v ? v : 0.0f);
    case ConvAct::clip: return v != v ? v : std::min(std::max(v, post.lo), post.hi);
    case ConvAct::hardswish: return v != v ? v : v * std::min(std::max(v / 6.0f + 0.5f, 0.0f), 1.0f);
    default: return v;
  }
}

void apply_conv_post(float* y, int64_t count, const ConvPost& post) {
  const float* r = post.residual;
  if (r)
    for (int64_t i = 0; i < count; ++i) y[i] += r[i];
  switch (post.act) {
    case ConvAct::none: return;
    case ConvAct::relu:
      for (int64_t i = 0; i < count; ++i) y[i] = y[i] < 0.0f ? 0.0f : y[i];
      return;
    case ConvAct::clip: {
      const float lo = post.lo, hi = post.hi;
      for (int64_t i = 0; i < count; ++i) y[i] = y[i] < lo ? lo : (y[i] > hi ? hi : y[i]);  // NaN stays NaN
      return;
    }
    case ConvAct::hardswish:
      for (int64_t i = 0; i < count; ++i) y[i] = conv_act_ref(y[i], post);
      return;
  }
}

void im2col_nhwc(const float* x, const ConvGeom& g, int64_t m0, int64_t rows, float* col) {
  const int64_t C = g.C, K = g.K();
  const size_t run = sizeof(float) * static_cast<size_t>(C);
  int64_t ow = m0 % g.OW, oh = (m0 / g.OW) % g.OH, n = m0 / (g.OW * g.OH);
  for (int64_t r = 0; r < rows; ++r) {
    float* dst = col + r * K;
    const float* img = x + n * g.H * g.W * C;
    const int64_t iw0 = ow * g.sw - g.pl;
    for (int64_t ki = 0; ki < g.kh; ++ki, dst += g.kw * C) {
      const int64_t ih = oh * g.sh - g.pt + ki * g.dh;
      if (ih < 0 || ih >= g.H) {
        std::memset(dst, 0, run * static_cast<size_t>(g.kw));
        continue;
      }
      const float* src = img + ih * g.W * C;
      if (g.dw == 1) {
        // Undilated: the kernel row's taps are one run of kw·C floats in NHWC, clipped at the borders.
        const int64_t lo = std::max<int64_t>(0, -iw0), hi = std::min<int64_t>(g.kw, g.W - iw0);
        if (lo > 0) std::memset(dst, 0, run * static_cast<size_t>(std::min(lo, g.kw)));
        if (hi > lo) std::memcpy(dst + lo * C, src + (iw0 + lo) * C, run * static_cast<size_t>(hi - lo));
        const int64_t from = std::max(lo, hi);
        if (from < g.kw) std::memset(dst + from * C, 0, run * static_cast<size_t>(g.kw - from));
        continue;
      }
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        const int64_t iw = iw0 + kj * g.dw;
        if (iw < 0 || iw >= g.W)
          std::memset(dst + kj * C, 0, run);
        else
          std::memcpy(dst + kj * C, src + iw * C, run);
      }
    }
    if (++ow == g.OW) {
      ow = 0;
      if (++oh == g.OH) {
        oh = 0;
        ++n;
      }
    }
  }
}

void conv2d_nhwc_reference(const float* x, const ConvGeom& g, const float* W, const float* bias, const ConvPost& post, float* y) {
  const int64_t M = g.rows(), K = g.K(), OC = g.OC;
  std::vector<float> col(static_cast<size_t>(K));
  for (int64_t m = 0; m < M; ++m) {
    im2col_nhwc(x, g, m, 1, col.data());
    for (int64_t o = 0; o < OC; ++o) {
      double s = bias ? bias[o] : 0.0;
      for (int64_t k = 0; k < K; ++k) s += static_cast<double>(col[static_cast<size_t>(k)]) * W[k * OC + o];
      float v = static_cast<float>(s);
      if (post.residual) v += post.residual[m * OC + o];
      y[m * OC + o] = conv_act_ref(v, post);
    }
  }
}

void depthwise_nhwc_ref(const float* x, const ConvGeom& g, int64_t mult, const float* w, const float* bias,
                        const ConvPost& post, float* y, int64_t row0, int64_t rows) {
  const int64_t C = g.C, OC = g.OC;
  std::vector<float> acc(static_cast<size_t>(OC));
  for (int64_t row = row0; row < row0 + rows; ++row) {
    const int64_t n = row / g.OH, oh = row % g.OH;
    const float* img = x + n * g.H * g.W * C;
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      for (int64_t o = 0; o < OC; ++o) acc[static_cast<size_t>(o)] = bias ? bias[o] : 0.0f;
      for_each_tap(g, oh, ow, [&](int64_t ki, int64_t kj, int64_t ih, int64_t iw) {
        const float* px = img + (ih * g.W + iw) * C;
        const float* pw = w + (ki * g.kw + kj) * OC;
        for (int64_t o = 0; o < OC; ++o) acc[static_cast<size_t>(o)] += px[o / mult] * pw[o];
      });
      float* out = y + (row * g.OW + ow) * OC;
      for (int64_t o = 0; o < OC; ++o) {
        float v = acc[static_cast<size_t>(o)];
        if (post.residual) v += post.residual[(row * g.OW + ow) * OC + o];
        out[o] = conv_act_ref(v, post);
      }
    }
  }
}

void max_pool_rows_ref(const float* x, const ConvGeom& g, float* y, int64_t row0, int64_t rows) {
  const int64_t C = g.C;
  for (int64_t row = row0; row < row0 + rows; ++row) {
    const int64_t n = row / g.OH, oh = row % g.OH;
    const float* img = x + n * g.H * g.W * C;
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      float* out = y + (row * g.OW + ow) * C;
      for (int64_t c = 0; c < C; ++c) out[c] = -std::numeric_limits<float>::infinity();
      for_each_tap(g, oh, ow, [&](int64_t, int64_t, int64_t ih, int64_t iw) {
        const float* px = img + (ih * g.W + iw) * C;
        for (int64_t c = 0; c < C; ++c) out[c] = px[c] > out[c] || px[c] != px[c] ? px[c] : out[c];
      });
    }
  }
}

const ConvKernels kConvScalar = {"scalar", depthwise_nhwc_ref, apply_conv_post, nullptr, 0, max_pool_rows_ref};

void max_pool_nhwc(const float* x, const ConvGeom& g, float* y, int64_t* indices, int storage_order, const OpContext& ctx) {
  const int64_t C = g.C;
  if (!indices) {
    const auto fn = conv_kernels(ctx.isa).max_pool;
    ThreadPool::global().parallel_for(g.N * g.OH, ctx.threads, 1, [&](int64_t r0, int64_t r1) { fn(x, g, y, r0, r1 - r0); });
    return;
  }
  ThreadPool::global().parallel_for(g.N * g.OH, ctx.threads, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t row = r0; row < r1; ++row) {
      const int64_t n = row / g.OH, oh = row % g.OH;
      const float* img = x + n * g.H * g.W * C;
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        float* out = y + (row * g.OW + ow) * C;
        int64_t* idx = indices ? indices + (row * g.OW + ow) * C : nullptr;
        for (int64_t c = 0; c < C; ++c) out[c] = -std::numeric_limits<float>::infinity();
        if (idx) std::fill(idx, idx + C, int64_t{-1});
        for_each_tap(g, oh, ow, [&](int64_t, int64_t, int64_t ih, int64_t iw) {
          const float* px = img + (ih * g.W + iw) * C;
          if (!idx) {
            for (int64_t c = 0; c < C; ++c) out[c] = px[c] > out[c] || px[c] != px[c] ? px[c] : out[c];
            return;
          }
          const int64_t spatial = storage_order ? iw * g.H + ih : ih * g.W + iw;
          for (int64_t c = 0; c < C; ++c)
            if (idx[c] < 0 || px[c] > out[c]) {
              out[c] = px[c];
              idx[c] = (n * C + c) * g.H * g.W + spatial;
            }
        });
        // A window with no tap inside the input has no max: its index points at the channel's start.
        if (idx)
          for (int64_t c = 0; c < C; ++c)
            if (idx[c] < 0) idx[c] = (n * C + c) * g.H * g.W;
      }
    }
  });
}

void avg_pool_nhwc(const float* x, const ConvGeom& g, bool count_include_pad, float* y, const OpContext& ctx) {
  const int64_t C = g.C;
  ThreadPool::global().parallel_for(g.N * g.OH, ctx.threads, 1, [&](int64_t r0, int64_t r1) {
    std::vector<float> acc(static_cast<size_t>(C));
    for (int64_t row = r0; row < r1; ++row) {
      const int64_t n = row / g.OH, oh = row % g.OH;
      const float* img = x + n * g.H * g.W * C;
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        int64_t count = 0;
        for (int64_t ki = 0; ki < g.kh; ++ki) {
          const int64_t ih = oh * g.sh - g.pt + ki * g.dh;
          const bool row_in = ih >= 0 && ih < g.H;
          if (!row_in && !(count_include_pad && ih < g.H + g.pb)) continue;
          for (int64_t kj = 0; kj < g.kw; ++kj) {
            const int64_t iw = ow * g.sw - g.pl + kj * g.dw;
            const bool in = row_in && iw >= 0 && iw < g.W;
            if (in) {
              const float* px = img + (ih * g.W + iw) * C;
              for (int64_t c = 0; c < C; ++c) acc[static_cast<size_t>(c)] += px[c];
              ++count;
            } else if (count_include_pad && iw < g.W + g.pr) {
              ++count;  // a padding tap (inside the padded input) counts as a zero
            }
          }
        }
        float* out = y + (row * g.OW + ow) * C;
        const float inv = count > 0 ? 1.0f / static_cast<float>(count) : 0.0f;
        for (int64_t c = 0; c < C; ++c) out[c] = count > 0 ? acc[static_cast<size_t>(c)] * inv : std::numeric_limits<float>::quiet_NaN();
      }
    }
  });
}

void global_pool_nhwc(const float* x, int64_t N, int64_t HW, int64_t C, bool max, float* y) {
  std::vector<float> acc(static_cast<size_t>(C));
  for (int64_t n = 0; n < N; ++n) {
    const float* img = x + n * HW * C;
    std::fill(acc.begin(), acc.end(), max ? -std::numeric_limits<float>::infinity() : 0.0f);
    for (int64_t p = 0; p < HW; ++p) {
      const float* px = img + p * C;
      if (max)
        for (int64_t c = 0; c < C; ++c) acc[static_cast<size_t>(c)] = px[c] > acc[static_cast<size_t>(c)] || px[c] != px[c] ? px[c] : acc[static_cast<size_t>(c)];
      else
        for (int64_t c = 0; c < C; ++c) acc[static_cast<size_t>(c)] += px[c];
    }
    const float inv = HW > 0 ? 1.0f / static_cast<float>(HW) : 0.0f;
    for (int64_t c = 0; c < C; ++c) y[n * C + c] = max ? acc[static_cast<size_t>(c)] : acc[static_cast<size_t>(c)] * inv;
  }
}

void conv_transpose_nchw(const float* x, const float* w, const float* bias, const ConvGeom& g, int64_t group, float* y) {
  // Here g.C is Cin, g.OC is Cout, g.H/W the input's and g.OH/OW the output's spatial dims.
  const int64_t cin_g = g.C / group, cout_g = g.OC / group;
  const int64_t out_plane = g.OH * g.OW, in_plane = g.H * g.W;
  for (int64_t n = 0; n < g.N; ++n) {
    float* yn = y + n * g.OC * out_plane;
    for (int64_t o = 0; o < g.OC; ++o) std::fill(yn + o * out_plane, yn + (o + 1) * out_plane, bias ? bias[o] : 0.0f);
    for (int64_t i = 0; i < g.C; ++i) {
      const int64_t gi = i / cin_g;
      const float* xi = x + (n * g.C + i) * in_plane;
      for (int64_t oo = 0; oo < cout_g; ++oo) {
        const int64_t o = gi * cout_g + oo;
        float* yo = yn + o * out_plane;
        const float* wk = w + (i * cout_g + oo) * g.kh * g.kw;
        for (int64_t ki = 0; ki < g.kh; ++ki)
          for (int64_t kj = 0; kj < g.kw; ++kj) {
            const float wv = wk[ki * g.kw + kj];
            for (int64_t ih = 0; ih < g.H; ++ih) {
              const int64_t oh = ih * g.sh - g.pt + ki * g.dh;
              if (oh < 0 || oh >= g.OH) continue;
              for (int64_t iw = 0; iw < g.W; ++iw) {
                const int64_t ow = iw * g.sw - g.pl + kj * g.dw;
                if (ow >= 0 && ow < g.OW) yo[oh * g.OW + ow] += xi[ih * g.W + iw] * wv;
              }
            }
          }
      }
    }
  }
}

void conv_nchw(const float* x, const float* w, const float* bias, const ConvGeom& g, int64_t group, float* y) {
  const int64_t cin_g = g.C / group, oc_g = g.OC / group;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t o = 0; o < g.OC; ++o) {
      const int64_t c0 = (o / oc_g) * cin_g;
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          double s = bias ? bias[o] : 0.0;
          for (int64_t c = 0; c < cin_g; ++c) {
            const float* xc = x + ((n * g.C + c0 + c) * g.H) * g.W;
            const float* wc = w + ((o * cin_g + c) * g.kh) * g.kw;
            for_each_tap(g, oh, ow, [&](int64_t ki, int64_t kj, int64_t ih, int64_t iw) {
              s += static_cast<double>(xc[ih * g.W + iw]) * wc[ki * g.kw + kj];
            });
          }
          y[((n * g.OC + o) * g.OH + oh) * g.OW + ow] = static_cast<float>(s);
        }
    }
}

void batch_norm_nchw(const float* x, int64_t N, int64_t C, int64_t S, const float* scale, const float* bias, const float* mean,
                     const float* var, float eps, float* y) {
  for (int64_t c = 0; c < C; ++c) {
    const float k = static_cast<float>(scale[c] / std::sqrt(static_cast<double>(var[c]) + eps));
    const float t = bias[c] - mean[c] * k;
    for (int64_t n = 0; n < N; ++n) {
      const float* px = x + (n * C + c) * S;
      float* py = y + (n * C + c) * S;
      for (int64_t i = 0; i < S; ++i) py[i] = px[i] * k + t;
    }
  }
}

void instance_norm_nchw(const float* x, int64_t N, int64_t C, int64_t S, const float* scale, const float* bias, float eps, float* y) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const float* px = x + (n * C + c) * S;
      float* py = y + (n * C + c) * S;
      double mean = 0.0, var = 0.0;
      for (int64_t s = 0; s < S; ++s) mean += px[s];
      mean = S > 0 ? mean / static_cast<double>(S) : 0.0;
      for (int64_t s = 0; s < S; ++s) var += (px[s] - mean) * (px[s] - mean);
      var = S > 0 ? var / static_cast<double>(S) : 0.0;
      const float k = static_cast<float>(scale[c] / std::sqrt(var + eps));
      const float m = static_cast<float>(mean);
      for (int64_t s = 0; s < S; ++s) py[s] = (px[s] - m) * k + bias[c];
    }
}

void lrn_nchw(const float* x, int64_t N, int64_t C, int64_t S, int64_t size, float alpha, float beta, float bias, float* y) {
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const int64_t c0 = std::max<int64_t>(0, c - before), c1 = std::min<int64_t>(C - 1, c + after);
      for (int64_t s = 0; s < S; ++s) {
        double sq = 0.0;
        for (int64_t j = c0; j <= c1; ++j) {
          const double v = x[(n * C + j) * S + s];
          sq += v * v;
        }
        const double d = std::pow(bias + alpha / static_cast<double>(size) * sq, beta);
        y[(n * C + c) * S + s] = static_cast<float>(x[(n * C + c) * S + s] / d);
      }
    }
}

}  // namespace sparq
