// Scalar sparse fp32 kernels: the portable fallback and a second opinion for the SIMD files. Plain loops
// over the grouped-CSC storage (any C, L) and the 2:4 panels, compiled with no ISA flags.
#include <algorithm>

#include "sparq/spmm_f32.h"

namespace sparq {
namespace {

constexpr int kMt = 8;

int xt_rows(int, int, int64_t) { return kMt; }
int batch_cols(int C) { return C; }

void xt(const SparseF32View& w, const float* xt, int /*mt*/, int rows, int64_t g0, int64_t g1, float* y, int64_t ldy,
        const Epilogue& ep) {
  const int C = w.C, L = w.L;
  for (int64_t g = g0; g < g1; ++g) {
    for (int c = 0; c < C; ++c) {
      const int64_t n = g * C + c;
      if (n >= w.N) break;
      float acc[kMt] = {};
      for (uint32_t e = w.ptr[g]; e < w.ptr[g + 1]; ++e)
        for (int l = 0; l < L; ++l) {
          const float v = w.val[(static_cast<int64_t>(e) * L + l) * C + c];
          const float* xk = xt + (static_cast<int64_t>(w.idx[e]) + l) * kMt;
          for (int m = 0; m < kMt; ++m) acc[m] += v * xk[m];
        }
      for (int m = 0; m < rows; ++m) {
        float v = acc[m];
        if (ep.bias) v += ep.bias[n];
        y[m * ldy + n] = apply_activation_ref(v, ep.act);
      }
    }
  }
}

void rows(const SparseF32View& w, const float* x, int64_t g0, int64_t g1, float* y, const Epilogue& ep) {
  const int C = w.C, L = w.L;
  for (int64_t g = g0; g < g1; ++g) {
    const int cols = static_cast<int>(std::min<int64_t>(C, w.N - g * C));
    for (int c = 0; c < cols; ++c) {
      float acc = 0.0f;
      for (uint32_t e = w.ptr[g]; e < w.ptr[g + 1]; ++e)
        for (int l = 0; l < L; ++l) acc += w.val[(static_cast<int64_t>(e) * L + l) * C + c] * x[w.idx[e] + l];
      y[g * C + c] = acc;
    }
    apply_epilogue_row(y + g * C, g * C, cols, ep);
  }
}

// 2:4, one row at a time over whole panels.
void tile24(const Sparse24View& w, int nrows, const float* x, int64_t ldx, int64_t p0, int64_t p1, float* y,
            int64_t ldy, const Epilogue& ep) {
  for (int m = 0; m < nrows; ++m) {
    const float* xm = x + m * ldx;
    for (int64_t p = p0; p < p1; ++p) {
      float acc[k24Panel] = {};
      for (int64_t g = 0; g < w.G; ++g)
        for (int s = 0; s < 2; ++s) {
          const int64_t slot = (p * w.G + g) * 2 + s;
          const uint32_t sel = w.sel[slot];
          for (int j = 0; j < k24Panel; ++j)
            acc[j] += w.val[slot * k24Panel + j] * xm[4 * g + ((sel >> (2 * j)) & 3u)];
        }
      const int64_t n0 = p * k24Panel;
      const int cols = static_cast<int>(std::min<int64_t>(k24Panel, w.N - n0));
      float* out = y + m * ldy + n0;
      for (int j = 0; j < cols; ++j) out[j] = acc[j];
      apply_epilogue_row(out, n0, cols, ep);
    }
  }
}

}  // namespace

extern const SpmmF32Kernels kSpmmF32Scalar = {"scalar", 1, xt_rows, batch_cols, xt, rows};
extern const Spmm24Kernels kSpmm24Scalar = {"scalar", 4, tile24};

}  // namespace sparq
