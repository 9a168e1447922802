// Conv drivers: a conv over NHWC as a GEMM on packed weights (im2col in blocks of output pixels that
// stay in L2, none for a 1x1 stride-1 conv), and the depthwise kernel split over threads.
#include <algorithm>
#include <cstdlib>

#include "sparq/aligned.h"
#include "sparq/conv.h"
#include "sparq/denormals.h"
#include "sparq/error.h"
#include "sparq/threadpool.h"

namespace sparq {

const ConvKernels& conv_kernels(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == Isa::avx512) return kConvAvx512;
#else
  (void)isa;
#endif
  return kConvScalar;
}

namespace {

// Output pixels per block: the im2col block (rows x K floats), the packed copy the GEMM makes of it and
// the output block about 192 KiB, so they stay in L2 while the weights stream past; weights too big
// for L2 are re-read once per block, so then blocks grow until that costs less than the copy (at most
// 8 MiB of im2col). A 1x1 conv has no copy: its blocks (there only for the post pass: Relu6, a
// residual) hold 1 MiB of output, as every GEMM call has a fixed cost (MobileNet-v2's 112x112 16->96
// expand: 0.99 ms in 192 KiB blocks, 0.57 in 1 MiB ones, 0.49 as one call without the post pass).
// Blocks are a multiple of 12 rows (the fp32 tile), split evenly (no 1-row tail that would run as a
// GEMV over all the weights again).
int64_t block_rows(int64_t M, int64_t K, int64_t OC, bool im2col) {
  // SPARQ_CONV_BLOCK_KB overrides the im2col block's size for tuning.
  static const int64_t forced_kb = [] {
    const char* env = std::getenv("SPARQ_CONV_BLOCK_KB");
    return env ? std::atoll(env) : 0LL;
  }();
  const int64_t per_row = (im2col ? K : 0) + OC;
  const int64_t kb = im2col ? (forced_kb > 0 ? forced_kb : 192) : 1024;
  int64_t rows = (kb * 1024 / 4) / std::max<int64_t>(1, per_row);
  const int64_t weight_floats = K * OC;
  if (weight_floats > 128 * 1024) rows = std::max(rows, std::min<int64_t>(weight_floats / std::max<int64_t>(1, per_row), (2 << 20) / std::max<int64_t>(1, per_row)));
  rows = std::max<int64_t>(48, rows);
  if (rows >= M) return M;
  const int64_t blocks = (M + rows - 1) / rows;
  return std::min(M, ((M + blocks - 1) / blocks + 11) / 12 * 12);
}

}  // namespace

void conv2d_nhwc(const float* x, const ConvGeom& g, const PackedWeights& w, const float* bias, const ConvPost& post,
                 float* y, int threads) {
  const int64_t M = g.rows(), K = g.K(), OC = g.OC;
  if (w.K() != K || w.N() != OC) throw invalid_argument("conv: packed weights are not [kh*kw*C, OC]");
  if (M == 0 || OC == 0) return;
  const bool pointwise = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && g.pb == 0 && g.pr == 0;
  // A kxk conv over enough channels on dense fp32 weights runs the direct kernel (no im2col, the
  // epilogue in registers). Measured faster than the K-blocked GEMM up to ResNet-18's K = 4608 (a
  // 1.2 MB panel pair streaming from L2/L3: 1.08x vs 1.0x onnxruntime); beyond 8192, and for windows
  // whose rows hold fewer than 8 floats (a 1-D conv over one channel), the GEMM path runs.
  const ConvKernels& ck = conv_kernels(w.isa());
  int64_t nr = 0;
  const float* panels = !pointwise && (g.C >= 16 || (g.dw == 1 && g.kw * g.C >= 8)) && K <= 8192 && ck.direct ? w.dense_panels(&nr) : nullptr;
  if (panels && nr == ck.direct_nr) {
    const int t = threads_for_work(static_cast<double>(M) * K * OC, threads);
    if (t <= 1) {
      FlushDenormals flush;
      ck.direct(x, g, panels, bias, post, y, 0, M);
      return;
    }
    // About 4 even chunks per thread of at least 48 pixels (a small last chunk would stream all the
    // weights for a few pixels).
    const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(4 * t, M / 48));
    ThreadPool::global().parallel_for(chunks, t, 1, [&](int64_t c0, int64_t c1) {
      FlushDenormals flush;
      for (int64_t c = c0; c < c1; ++c) ck.direct(x, g, panels, bias, post, y, c * M / chunks, (c + 1) * M / chunks);
    });
    return;
  }
  // Relu and Relu6 without a residual are the GEMM's own epilogue; a residual or another activation
  // follows each block while it is still in cache.
  const bool relu6 = post.act == ConvAct::clip && post.lo == 0.0f && post.hi == 6.0f;
  const bool in_gemm = !post.residual && (post.act == ConvAct::relu || relu6);
  const bool after = !in_gemm && (post.act != ConvAct::none || post.residual);
  Epilogue ep;
  ep.bias = bias;
  ep.act = !in_gemm ? Activation::none : relu6 ? Activation::relu6 : Activation::relu;
  if (pointwise && !after) {
    FlushDenormals flush;
    w.matmul(x, M, y, ep, threads);
    return;
  }
  const int64_t mb = block_rows(M, K, OC, !pointwise);
  const int64_t blocks = (M + mb - 1) / mb;
  const int t = threads_for_work(static_cast<double>(M) * K * OC, threads);
  const auto post_fn = conv_kernels(w.isa()).post;
  auto run_block = [&](int64_t b, int inner_threads) {
    FlushDenormals flush;
    const int64_t m0 = b * mb, rows = std::min(mb, M - m0);
    const float* a = x + m0 * K;
    if (!pointwise) {
      thread_local AlignedBuffer<float> col;
      float* c = col.reserve(static_cast<size_t>(mb * K));
      im2col_nhwc(x, g, m0, rows, c);
      a = c;
    }
    w.matmul(a, rows, y + m0 * OC, ep, inner_threads);
    if (after) {
      ConvPost p = post;
      if (p.residual) p.residual += m0 * OC;
      post_fn(y + m0 * OC, rows * OC, p);
    }
  };
  if (t > 1 && blocks >= 2 * t) {
    ThreadPool::global().parallel_for(blocks, t, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) run_block(b, 1);
    });
  } else {
    for (int64_t b = 0; b < blocks; ++b) run_block(b, t);
  }
}

void depthwise_nhwc(const float* x, const ConvGeom& g, int64_t mult, const float* w, const float* bias,
                    const ConvPost& post, float* y, const OpContext& ctx) {
  const DepthwiseFn fn = conv_kernels(ctx.isa).depthwise;
  const int64_t rows = g.N * g.OH;
  const int t = threads_for_work(static_cast<double>(g.rows()) * g.OC * g.kh * g.kw, ctx.threads);
  if (t <= 1) {
    FlushDenormals flush;
    return fn(x, g, mult, w, bias, post, y, 0, rows);
  }
  ThreadPool::global().parallel_for(rows, t, 1, [&](int64_t r0, int64_t r1) {
    FlushDenormals flush;
    fn(x, g, mult, w, bias, post, y, r0, r1 - r0);
  });
}

}  // namespace sparq
