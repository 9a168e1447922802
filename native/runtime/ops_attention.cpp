// Fused attention (ops.h): per (batch, head) one strided GEMM for the scores (Kᵀ read in place via
// sgemm's transB), the additive mask and a row softmax in a thread-local score block, and one strided
// GEMM into the output view. Threads go over batch·heads, or into the GEMMs when there are fewer.
#include <algorithm>
#include <string>

#include "sparq/aligned.h"
#include "sparq/error.h"
#include "sparq/ops.h"
#include "sparq/ops_kernels.h"
#include "sparq/sgemm.h"
#include "sparq/threadpool.h"

namespace sparq {
namespace {

void one_head(int64_t b, int64_t h, int64_t Sq, int64_t Sk, int64_t D, float scale, const float* q, AttentionStrides qs,
              const float* k, AttentionStrides ks, const float* v, AttentionStrides vs, const float* mask,
              AttentionStrides ms, float* out, AttentionStrides os, int threads, Isa isa, const OpsKernels& kern) {
  thread_local AlignedBuffer<float> scratch;
  float* s = scratch.reserve(static_cast<size_t>(std::max<int64_t>(1, Sq * Sk)));
  const float* qb = q + b * qs.batch + h * qs.head;
  const float* kb = k + b * ks.batch + h * ks.head;
  const float* vb = v + b * vs.batch + h * vs.head;
  float* ob = out + b * os.batch + h * os.head;
  sgemm(false, true, Sq, Sk, D, scale, qb, qs.row, kb, ks.row, 0.0f, s, Sk, threads, nullptr, isa);
  if (mask) {
    const float* mb = mask + b * ms.batch + h * ms.head;
    for (int64_t i = 0; i < Sq; ++i) kern.binary_f32(BinaryOp::add, s + i * Sk, 1, mb + i * ms.row, 1, s + i * Sk, Sk);
  }
  kern.softmax_rows(s, s, Sq, Sk, false);
  sgemm(false, false, Sq, D, Sk, 1.0f, s, Sk, vb, vs.row, 0.0f, ob, os.row, threads, nullptr, isa);
}

}  // namespace

void attention(int64_t batch, int64_t heads, int64_t seq_q, int64_t seq_k, int64_t head_dim, float scale,
               const float* q, AttentionStrides qs, const float* k, AttentionStrides ks, const float* v,
               AttentionStrides vs, const float* mask, AttentionStrides ms, float* out, AttentionStrides os,
               const OpContext& ctx) {
  if (batch < 0 || heads < 0 || seq_q < 0 || seq_k < 0 || head_dim < 0)
    throw invalid_argument("Attention: expected non-negative sizes");
  if (qs.row < head_dim || ks.row < head_dim || vs.row < head_dim || os.row < head_dim || (mask && ms.row < 0))
    throw invalid_argument("Attention: row strides must be at least head_dim (" + std::to_string(head_dim) + ")");
  const int64_t n = batch * heads;
  if (n == 0 || seq_q == 0 || head_dim == 0) return;  // no output element
  const OpsKernels& kern = ops_kernels(ctx.isa);
  const int pool = ThreadPool::global().size();
  const int t = threads_for_work(2.0 * static_cast<double>(n) * seq_q * seq_k * head_dim, ctx.threads <= 0 ? pool : ctx.threads);
  if (n >= t) {
    ThreadPool::global().parallel_for(n, t, std::max<int64_t>(1, n / (2 * t)), [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i)
        one_head(i / heads, i % heads, seq_q, seq_k, head_dim, scale, q, qs, k, ks, v, vs, mask, ms, out, os, 1, ctx.isa,
                 kern);
    });
  } else {
    for (int64_t i = 0; i < n; ++i)
      one_head(i / heads, i % heads, seq_q, seq_k, head_dim, scale, q, qs, k, ks, v, vs, mask, ms, out, os, t, ctx.isa,
               kern);
  }
}

}  // namespace sparq
