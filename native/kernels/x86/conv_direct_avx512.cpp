// Direct (indirect-GEMM) conv, AVX-512, on the dense format's 32-column weight panels: a register
// tile of R output pixels x 16·NV output channels accumulates over every tap and input channel with
// no im2col and no packing of the activations. Each tap gives each pixel a pointer into the NHWC
// input (or into a row of zeros when the tap falls in the padding), each input channel one broadcast
// per pixel and NV vector loads of weights. The GEMM path copied every im2col value twice (im2col,
// then the tile packing) and summed long K in several passes over the output; here the products
// stay in registers to the end, where bias, residual and activation are applied before the store.
// The driver uses it for C >= 16 (or window rows of >= 8 floats) and K <= 8192.
#include <immintrin.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "conv_act_avx512.h"
#include "simd_avx512.h"
#include "sparq/conv.h"

namespace sparq {

namespace {

constexpr int64_t kNr = 32;

// Output pixels [m0, m0 + rows) (rows <= R; the tile computes R, repeating the last pixel, and stores
// `rows`) x output channels [n0, n0 + cols) (cols <= 16·NV: NV vectors of 16, vector j in panel j / 2)
// from panels at w (panel stride K·32).
// Kept out of line: inlined into the driver, its accumulators spilled.
template <int R, int NV>
__attribute__((noinline)) void tile(const float* x, const ConvGeom& g, const float* zeros, const float* w, int64_t panel_stride, int64_t m0, int rows,
          int64_t n0, int64_t cols, const float* bias, const ConvPost& post, float* y) {
  const int64_t C = g.C;
  int64_t pn[R], py[R], px[R];
  for (int i = 0; i < R; ++i) {
    const int64_t m = m0 + std::min(i, rows - 1);
    const int64_t ow = m % g.OW, oh = (m / g.OW) % g.OH;
    pn[i] = m / (g.OW * g.OH);
    py[i] = oh * g.sh - g.pt;
    px[i] = ow * g.sw - g.pl;
  }
  __m512 acc[R][NV];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_setzero_ps();
  // acc += Σ_c p[i][c] · wt[c] over `count` values of k (wt: the panels' rows at the first).
  auto run = [&](const float* const* p, const float* wt, int64_t count) {
    for (int64_t c = 0; c < count; ++c) {
      __m512 b[NV];
      for (int j = 0; j < NV; ++j) b[j] = _mm512_load_ps(wt + (j / 2) * panel_stride + c * kNr + 16 * (j % 2));
#pragma GCC unroll 8
      for (int i = 0; i < R; ++i) {
        const __m512 a = _mm512_set1_ps(p[i][c]);
        for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_fmadd_ps(a, b[j], acc[i][j]);
      }
    }
  };
  for (int64_t ki = 0; ki < g.kh; ++ki) {
    const float* p[R];
    // Undilated window rows inside the input for every pixel are one run of kw·C floats each (an
    // RGB stem's 7 taps x 3 channels: one loop of 21 instead of 7 of 3).
    bool whole = g.dw == 1;
    for (int i = 0; i < R && whole; ++i) {
      const int64_t ih = py[i] + ki * g.dh;
      whole = ih >= 0 && ih < g.H && px[i] >= 0 && px[i] + g.kw <= g.W;
      p[i] = whole ? x + ((pn[i] * g.H + ih) * g.W + px[i]) * C : nullptr;
    }
    if (whole) {
      run(p, w + ki * g.kw * C * kNr, g.kw * C);
      continue;
    }
    for (int64_t kj = 0; kj < g.kw; ++kj) {
      for (int i = 0; i < R; ++i) {
        const int64_t ih = py[i] + ki * g.dh, iw = px[i] + kj * g.dw;
        p[i] = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W ? x + ((pn[i] * g.H + ih) * g.W + iw) * C : zeros;
      }
      run(p, w + (ki * g.kw + kj) * C * kNr, C);
    }
  }
  const avx512::ConvActivation act{post.act, _mm512_set1_ps(post.lo), _mm512_set1_ps(post.hi)};
  __mmask16 mask[NV];
  for (int j = 0; j < NV; ++j) mask[j] = avx512::lanes(std::max<int64_t>(0, std::min<int64_t>(16, cols - 16 * j)));
  for (int i = 0; i < rows; ++i) {
    float* out = y + (m0 + i) * g.OC + n0;
    const float* res = post.residual ? post.residual + (m0 + i) * g.OC + n0 : nullptr;
    for (int j = 0; j < NV; ++j) {
      __m512 v = acc[i][j];
      if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask[j], bias + n0 + 16 * j));
      if (res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask[j], res + 16 * j));
      _mm512_mask_storeu_ps(out + 16 * j, mask[j], act(v));
    }
  }
}

}  // namespace

void conv_direct_avx512(const float* x, const ConvGeom& g, const float* panels, const float* bias, const ConvPost& post, float* y,
                        int64_t m_begin, int64_t m_end) {
  const int64_t K = g.K(), panel_stride = K * kNr, npanels = (g.OC + kNr - 1) / kNr;
  const std::vector<float> zeros(static_cast<size_t>(g.C), 0.0f);
  // Blocks of 48 pixels (whole tiles of 6 and 8), whose input rows stay in cache while every panel
  // pair passes over them; a remainder under 24 joins the last block rather than streaming all the
  // weights again for a few pixels (ResNet-18's 7x7 layers: 49 pixels, 9.4 MB of weights).
  for (int64_t b0 = m_begin, b1 = 0; b0 < m_end; b0 = b1) {
    b1 = m_end - b0 < 48 + 24 ? m_end : b0 + 48;
    for (int64_t p = 0; p < npanels; p += 2) {
      const int64_t n0 = p * kNr, cols = std::min<int64_t>(2 * kNr, g.OC - n0);
      const float* w = panels + p * panel_stride;
      // 6 pixels x 64 channels, 8 x 32 or 8 x 16: 24, 16 or 8 accumulators.
      auto run_tiles = [&](auto rows_c, auto nv_c) {
        constexpr int R = decltype(rows_c)::value, NV = decltype(nv_c)::value;
        for (int64_t m = b0; m < b1; m += R)
          tile<R, NV>(x, g, zeros.data(), w, panel_stride, m, static_cast<int>(std::min<int64_t>(R, b1 - m)), n0, cols, bias, post, y);
      };
      if (cols > kNr)
        run_tiles(std::integral_constant<int, 6>{}, std::integral_constant<int, 4>{});
      else if (cols > 16)
        run_tiles(std::integral_constant<int, 8>{}, std::integral_constant<int, 2>{});
      else
        run_tiles(std::integral_constant<int, 8>{}, std::integral_constant<int, 1>{});
    }
  }
}

}  // namespace sparq
