// The NCHW convs as GEMMs on sgemm (unpacked operands: these ops' weights may be graph inputs, and
// ConvTranspose keeps ONNX's layout), in blocks of spatial positions whose scratch stays in L2:
//   Conv:          y[g][OC/g, pixels] = W[g][OC/g, C/g·kh·kw] · col[C/g·kh·kw, pixels]   (col = im2col of
//                  x in CHW order; none at all for a 1x1 stride-1 unpadded conv: col is x itself)
//   ConvTranspose: col[Cout/g·kh·kw, pixels] = W[g]ᵀ · x[g][Cin/g, pixels], then each col row is added
//                  into y at its tap's offset (col2im; a kernel equal to its stride, as in PaddleOCR's
//                  2x2 stride-2 upsampling, writes every output once).
// The direct loops in kernels/ref/conv_ref.cpp are their reference.
#include <algorithm>
#include <cstring>

#include "sparq/aligned.h"
#include "sparq/conv.h"
#include "sparq/denormals.h"
#include "sparq/sgemm.h"

namespace sparq {

namespace {

// Spatial positions per block: a scratch of `per_col` floats per position kept near 256 KiB, whole
// rows of `width` positions (so a block is rows [r0, r1)), at least one row.
int64_t block_rows(int64_t per_col, int64_t width, int64_t rows) {
  const int64_t cols = std::max<int64_t>(64, (256 * 1024 / 4) / std::max<int64_t>(1, per_col));
  return std::min(rows, std::max<int64_t>(1, cols / std::max<int64_t>(1, width)));
}

// col[(c·kh + ki)·kw + kj][(oh - oh0)·OW + ow] = x[c][ih][iw] (0 outside), output rows [oh0, oh1).
void im2col_chw(const float* x, const ConvGeom& g, int64_t channels, int64_t oh0, int64_t oh1, float* col) {
  const int64_t cols = (oh1 - oh0) * g.OW;
  for (int64_t c = 0; c < channels; ++c) {
    const float* xc = x + c * g.H * g.W;
    for (int64_t ki = 0; ki < g.kh; ++ki)
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        float* dst = col + ((c * g.kh + ki) * g.kw + kj) * cols;
        // Output columns whose input column lies inside: ow in [lo, hi).
        const int64_t off = kj * g.dw - g.pl;
        const int64_t lo = std::min(g.OW, off >= 0 ? 0 : (-off + g.sw - 1) / g.sw);
        const int64_t hi = std::max(lo, std::min(g.OW, g.W - off > 0 ? (g.W - off + g.sw - 1) / g.sw : 0));
        for (int64_t oh = oh0; oh < oh1; ++oh, dst += g.OW) {
          const int64_t ih = oh * g.sh - g.pt + ki * g.dh;
          if (ih < 0 || ih >= g.H) {
            std::fill(dst, dst + g.OW, 0.0f);
            continue;
          }
          const float* src = xc + ih * g.W;  // input column ow·sw + off
          std::fill(dst, dst + lo, 0.0f);
          if (g.sw == 1 && hi > lo)
            std::memcpy(dst + lo, src + lo + off, sizeof(float) * static_cast<size_t>(hi - lo));
          else
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * g.sw + off];
          std::fill(dst + hi, dst + g.OW, 0.0f);
        }
      }
  }
}

}  // namespace

void conv_nchw_gemm(const float* x, const float* w, const float* bias, const ConvGeom& g, int64_t group, float* y,
                    const OpContext& ctx) {
  FlushDenormals flush;  // this thread's share; sgemm's pool threads run as they are
  const int64_t cin_g = g.C / group, oc_g = g.OC / group, K = cin_g * g.kh * g.kw;
  const int64_t out_plane = g.OH * g.OW, in_plane = g.H * g.W;
  if (out_plane == 0 || g.OC == 0) return;
  const bool pointwise = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && g.pb == 0 && g.pr == 0;
  const int64_t rows_per_block = pointwise ? g.OH : block_rows(K, g.OW, g.OH);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t gi = 0; gi < group; ++gi) {
      const float* xg = x + (n * g.C + gi * cin_g) * in_plane;
      const float* wg = w + gi * oc_g * K;
      float* yg = y + (n * g.OC + gi * oc_g) * out_plane;
      for (int64_t o = 0; o < oc_g; ++o) std::fill(yg + o * out_plane, yg + (o + 1) * out_plane, bias ? bias[gi * oc_g + o] : 0.0f);
      if (K == 0) continue;
      for (int64_t oh0 = 0; oh0 < g.OH; oh0 += rows_per_block) {
        const int64_t oh1 = std::min(g.OH, oh0 + rows_per_block), cols = (oh1 - oh0) * g.OW;
        const float* b = xg + oh0 * g.OW;
        int64_t ldb = out_plane;
        if (!pointwise) {
          thread_local AlignedBuffer<float> scratch;
          float* col = scratch.reserve(static_cast<size_t>(K * cols));
          im2col_chw(xg, g, cin_g, oh0, oh1, col);
          b = col, ldb = cols;
        }
        sgemm(false, false, oc_g, cols, K, 1.0f, wg, K, b, ldb, 1.0f, yg + oh0 * g.OW, out_plane, ctx.threads, nullptr, ctx.isa);
      }
    }
}

void conv_transpose_nchw_gemm(const float* x, const float* w, const float* bias, const ConvGeom& g, int64_t group, float* y,
                              const OpContext& ctx) {
  FlushDenormals flush;  // this thread's share; sgemm's pool threads run as they are
  // g.C is Cin, g.OC Cout, g.H/W the input's and g.OH/OW the output's spatial dims.
  const int64_t cin_g = g.C / group, cout_g = g.OC / group, taps = g.kh * g.kw, M = cout_g * taps;
  const int64_t out_plane = g.OH * g.OW, in_plane = g.H * g.W;
  if (out_plane == 0 || g.OC == 0) return;
  const int64_t rows_per_block = block_rows(M, g.W, g.H);
  for (int64_t n = 0; n < g.N; ++n) {
    float* yn = y + n * g.OC * out_plane;
    for (int64_t o = 0; o < g.OC; ++o) std::fill(yn + o * out_plane, yn + (o + 1) * out_plane, bias ? bias[o] : 0.0f);
    if (cin_g == 0 || in_plane == 0) continue;
    for (int64_t gi = 0; gi < group; ++gi) {
      const float* xg = x + (n * g.C + gi * cin_g) * in_plane;
      const float* wg = w + gi * cin_g * M;  // [cin_g, cout_g·kh·kw] row-major: op(A) = its transpose
      for (int64_t ih0 = 0; ih0 < g.H; ih0 += rows_per_block) {
        const int64_t ih1 = std::min(g.H, ih0 + rows_per_block), cols = (ih1 - ih0) * g.W;
        thread_local AlignedBuffer<float> scratch;
        float* col = scratch.reserve(static_cast<size_t>(M * cols));
        sgemm(true, false, M, cols, cin_g, 1.0f, wg, M, xg + ih0 * g.W, in_plane, 0.0f, col, cols, ctx.threads, nullptr, ctx.isa);
        // col2im: row (o, ki, kj) adds x's pixel (ih, iw) into y[o][ih·sh - pt + ki·dh][iw·sw - pl + kj·dw].
        for (int64_t oo = 0; oo < cout_g; ++oo) {
          float* yo = yn + (gi * cout_g + oo) * out_plane;
          for (int64_t ki = 0; ki < g.kh; ++ki)
            for (int64_t kj = 0; kj < g.kw; ++kj) {
              const float* src = col + ((oo * g.kh + ki) * g.kw + kj) * cols;
              const int64_t off = kj * g.dw - g.pl;
              // Input columns that land inside the output: iw in [lo, hi).
              const int64_t lo = std::min(g.W, off >= 0 ? 0 : (-off + g.sw - 1) / g.sw);
              const int64_t hi = std::max(lo, std::min(g.W, g.OW - off > 0 ? (g.OW - off + g.sw - 1) / g.sw : 0));
              for (int64_t ih = ih0; ih < ih1; ++ih, src += g.W) {
                const int64_t oh = ih * g.sh - g.pt + ki * g.dh;
                if (oh < 0 || oh >= g.OH) continue;
                float* dst = yo + oh * g.OW;  // output column iw·sw + off
                if (g.sw == 1)
                  for (int64_t iw = lo; iw < hi; ++iw) dst[iw + off] += src[iw];
                else
                  for (int64_t iw = lo; iw < hi; ++iw) dst[iw * g.sw + off] += src[iw];
              }
            }
        }
      }
    }
  }
}

}  // namespace sparq
