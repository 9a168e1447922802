// Depthwise conv, AVX-512: NHWC puts the channels of one pixel side by side, so each tap of the
// window is one vector load of x and one of w per 16 channels, four channel vectors at a time. The
// taps inside the input are listed once per output pixel (no bounds checks in the FMA loop). The work
// is memory-bound (2 loads per FMA, few FLOPs per byte), as MobileNet's depthwise layers are.
#include <immintrin.h>

#include <algorithm>
#include <limits>
#include <type_traits>

#include "conv_act_avx512.h"
#include "simd_avx512.h"
#include "sparq/conv.h"

namespace sparq {

namespace {

constexpr int kMaxTaps = 64;
using Act = avx512::ConvActivation;


// One output pixel: y[0..C) = act(bias + Σ_t x[xoff[t] + c]·w[woff[t] + c] (+ residual)).
inline void pixel(const float* x, const int64_t* xoff, const int64_t* woff, int taps, const float* w, const float* bias,
                  const float* res, const Act& act, int64_t C, float* out) {
  int64_t c = 0;
  for (; c + 64 <= C; c += 64) {
    __m512 a0, a1, a2, a3;
    if (bias) {
      a0 = _mm512_loadu_ps(bias + c);
      a1 = _mm512_loadu_ps(bias + c + 16);
      a2 = _mm512_loadu_ps(bias + c + 32);
      a3 = _mm512_loadu_ps(bias + c + 48);
    } else {
      a0 = a1 = a2 = a3 = _mm512_setzero_ps();
    }
    for (int t = 0; t < taps; ++t) {
      const float* px = x + xoff[t] + c;
      const float* pw = w + woff[t] + c;
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(px), _mm512_loadu_ps(pw), a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(px + 16), _mm512_loadu_ps(pw + 16), a1);
      a2 = _mm512_fmadd_ps(_mm512_loadu_ps(px + 32), _mm512_loadu_ps(pw + 32), a2);
      a3 = _mm512_fmadd_ps(_mm512_loadu_ps(px + 48), _mm512_loadu_ps(pw + 48), a3);
    }
    if (res) {
      a0 = _mm512_add_ps(a0, _mm512_loadu_ps(res + c));
      a1 = _mm512_add_ps(a1, _mm512_loadu_ps(res + c + 16));
      a2 = _mm512_add_ps(a2, _mm512_loadu_ps(res + c + 32));
      a3 = _mm512_add_ps(a3, _mm512_loadu_ps(res + c + 48));
    }
    _mm512_storeu_ps(out + c, act(a0));
    _mm512_storeu_ps(out + c + 16, act(a1));
    _mm512_storeu_ps(out + c + 32, act(a2));
    _mm512_storeu_ps(out + c + 48, act(a3));
  }
  for (; c < C; c += 16) {
    const __mmask16 m = avx512::lanes(C - c);
    __m512 a = bias ? _mm512_maskz_loadu_ps(m, bias + c) : _mm512_setzero_ps();
    for (int t = 0; t < taps; ++t)
      a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + xoff[t] + c), _mm512_maskz_loadu_ps(m, w + woff[t] + c), a);
    if (res) a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(m, res + c));
    _mm512_mask_storeu_ps(out + c, m, act(a));
  }
}

// P output pixels of one row (inside the input's width, `step` floats apart in x) for the 16 channels
// under `m`: each tap's weight vector is loaded once for the P pixels, so the loop does about one load
// per FMA instead of two (the weights of a tap are shared by every pixel of the row).
template <int P>
inline void pixels16(const float* x, int64_t step, const int64_t* xoff, const int64_t* woff, int taps, const float* w,
                     const float* bias, const float* res, const Act& act, int64_t C, __mmask16 m, float* out) {
  __m512 acc[P];
  const __m512 b = bias ? _mm512_maskz_loadu_ps(m, bias) : _mm512_setzero_ps();
  for (int p = 0; p < P; ++p) acc[p] = b;
  for (int t = 0; t < taps; ++t) {
    const __m512 wv = _mm512_maskz_loadu_ps(m, w + woff[t]);
    const float* px = x + xoff[t];
    for (int p = 0; p < P; ++p) acc[p] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, px + p * step), wv, acc[p]);
  }
  for (int p = 0; p < P; ++p) {
    __m512 v = acc[p];
    if (res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res + p * C));
    _mm512_mask_storeu_ps(out + p * C, m, act(v));
  }
}

void depthwise_avx512(const float* x, const ConvGeom& g, int64_t mult, const float* w, const float* bias,
                      const ConvPost& post, float* y, int64_t row0, int64_t rows) {
  if (mult != 1 || g.kh * g.kw > kMaxTaps) return depthwise_nhwc_ref(x, g, mult, w, bias, post, y, row0, rows);
  const int64_t C = g.C;
  const Act act{post.act, _mm512_set1_ps(post.lo), _mm512_set1_ps(post.hi)};
  int64_t xoff[kMaxTaps], woff[kMaxTaps], row_xoff[kMaxTaps], row_woff[kMaxTaps];
  // Output columns whose whole window lies inside the input's width: their taps are the same offsets
  // from the window's corner, listed once per row.
  const int64_t ow_lo = std::min(g.OW, (g.pl + g.sw - 1) / g.sw);
  const int64_t span = (g.kw - 1) * g.dw;
  const int64_t ow_hi = g.W - 1 - span + g.pl >= 0 ? std::max(ow_lo, std::min(g.OW, (g.W - 1 - span + g.pl) / g.sw + 1)) : ow_lo;
  for (int64_t row = row0; row < row0 + rows; ++row) {
    const int64_t n = row / g.OH, oh = row % g.OH;
    const float* img = x + n * g.H * g.W * C;
    int row_taps = 0;
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      const int64_t ih = oh * g.sh - g.pt + ki * g.dh;
      if (ih < 0 || ih >= g.H) continue;
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        row_xoff[row_taps] = (ih * g.W + kj * g.dw) * C;
        row_woff[row_taps] = (ki * g.kw + kj) * C;
        ++row_taps;
      }
    }
    // The columns inside: 16 channels at a time, 8 pixels (then 4, then 1) per step.
    const int64_t step = g.sw * C;
    for (int64_t c = 0; c < C && ow_hi > ow_lo; c += 16) {
      const __mmask16 m = avx512::lanes(C - c);
      const float* bc = bias ? bias + c : nullptr;
      int64_t ow = ow_lo;
      auto run = [&](auto count) {
        constexpr int P = decltype(count)::value;
        const int64_t at = (row * g.OW + ow) * C + c;
        pixels16<P>(img + (ow * g.sw - g.pl) * C + c, step, row_xoff, row_woff, row_taps, w + c, bc,
                    post.residual ? post.residual + at : nullptr, act, C, m, y + at);
        ow += P;
      };
      while (ow + 8 <= ow_hi) run(std::integral_constant<int, 8>{});
      if (ow + 4 <= ow_hi) run(std::integral_constant<int, 4>{});
      while (ow < ow_hi) run(std::integral_constant<int, 1>{});
    }
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      if (ow >= ow_lo && ow < ow_hi) continue;
      const int64_t at = (row * g.OW + ow) * C;
      const float* res = post.residual ? post.residual + at : nullptr;
      int taps = 0;
      for_each_tap(g, oh, ow, [&](int64_t ki, int64_t kj, int64_t ih, int64_t iw) {
        xoff[taps] = (ih * g.W + iw) * C;
        woff[taps] = (ki * g.kw + kj) * C;
        ++taps;
      });
      pixel(img, xoff, woff, taps, w, bias, res, act, C, y + at);
    }
  }
}

// y = act(y (+ residual)) in place: the conv's post-GEMM pass, 16 values a step.
void post_avx512(float* y, int64_t count, const ConvPost& post) {
  const Act act{post.act, _mm512_set1_ps(post.lo), _mm512_set1_ps(post.hi)};
  const float* r = post.residual;
  for (int64_t i = 0; i < count; i += 16) {
    const __mmask16 m = avx512::lanes(count - i);
    __m512 v = _mm512_maskz_loadu_ps(m, y + i);
    if (r) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, r + i));
    _mm512_mask_storeu_ps(y + i, m, act(v));
  }
}

// Max pool: per output pixel, 16 channels at a time, the max over the taps inside the input held in
// a register (the scalar loop re-read and re-wrote the output per tap). NaN wins, as in the reference.
void max_pool_avx512(const float* x, const ConvGeom& g, float* y, int64_t row0, int64_t rows) {
  const int64_t C = g.C;
  int64_t xoff[kMaxTaps];
  if (g.kh * g.kw > kMaxTaps) return max_pool_rows_ref(x, g, y, row0, rows);
  for (int64_t row = row0; row < row0 + rows; ++row) {
    const int64_t n = row / g.OH, oh = row % g.OH;
    const float* img = x + n * g.H * g.W * C;
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      int taps = 0;
      for_each_tap(g, oh, ow, [&](int64_t, int64_t, int64_t ih, int64_t iw) { xoff[taps++] = (ih * g.W + iw) * C; });
      float* out = y + (row * g.OW + ow) * C;
      for (int64_t c = 0; c < C; c += 16) {
        const __mmask16 m = avx512::lanes(C - c);
        __m512 v = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
        for (int t = 0; t < taps; ++t) {
          const __m512 p = _mm512_maskz_loadu_ps(m, img + xoff[t] + c);
          // p where p > v or p is NaN, else v (a NaN already in v stays).
          v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(p, v, _CMP_GT_OQ) | _mm512_cmp_ps_mask(p, p, _CMP_UNORD_Q), p);
        }
        _mm512_mask_storeu_ps(out + c, m, v);
      }
    }
  }
}

}  // namespace

const ConvKernels kConvAvx512 = {"avx512", depthwise_avx512, post_avx512, conv_direct_avx512, 32, max_pool_avx512};

}  // namespace sparq
